//! Juju secrets. Content never travels in argv (the backend writes it to
//! files) and never reaches a log: everything here that holds content
//! redacts the values in its `Debug`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use super::{Model, ModelError, Relation};
use crate::backend::{SecretAddArgs, SecretInfo, SecretOwner, SecretSetArgs};

/// A secret's content: keys and values. `Debug` shows the keys, never the values.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretContent(BTreeMap<String, String>);

impl SecretContent {
    /// A value, if the key is there.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The keys.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Keys and values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The plain map (take care not to log it).
    pub fn into_inner(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl fmt::Debug for SecretContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl From<BTreeMap<String, String>> for SecretContent {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

/// How often Juju asks the owner to rotate a secret (`secret-rotate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretRotate {
    /// Never (Juju's default).
    Never,
    /// Every hour.
    Hourly,
    /// Every day.
    Daily,
    /// Every week.
    Weekly,
    /// Every month.
    Monthly,
    /// Every three months.
    Quarterly,
    /// Every year.
    Yearly,
}

impl SecretRotate {
    /// The policy as `secret-add --rotate` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretRotate::Never => "never",
            SecretRotate::Hourly => "hourly",
            SecretRotate::Daily => "daily",
            SecretRotate::Weekly => "weekly",
            SecretRotate::Monthly => "monthly",
            SecretRotate::Quarterly => "quarterly",
            SecretRotate::Yearly => "yearly",
        }
    }
}

impl std::str::FromStr for SecretRotate {
    type Err = SecretInfoError;

    /// The policy from Juju's name for it (`never`, `hourly`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            SecretRotate::Never,
            SecretRotate::Hourly,
            SecretRotate::Daily,
            SecretRotate::Weekly,
            SecretRotate::Monthly,
            SecretRotate::Quarterly,
            SecretRotate::Yearly,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| SecretInfoError::Rotation(s.to_string()))
    }
}

/// A field of a [`SecretInfo`] that Juju gave in a form ops does not know.
/// Holds the field's text (a time or a policy name), never secret content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretInfoError {
    /// The expiry is not an RFC 3339 time (or is before 1970).
    #[error("secret expiry {0:?} is not an RFC 3339 time")]
    Expiry(String),
    /// The rotation policy is not one of Juju's.
    #[error("unknown secret rotation policy {0:?}")]
    Rotation(String),
}

impl SecretInfo {
    /// When the secret expires, as a time; `None` if it does not. The
    /// text Juju gave is [`expiry`](Self::expiry).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use ops::model::SecretInfo;
    ///
    /// let mut info = SecretInfo::new("secret:cu0iqfhq1hvs7bb20l2g");
    /// assert_eq!(info.expires(), Ok(None));
    /// info.expiry = Some("2025-01-31T14:00:00+02:00".into());
    /// assert_eq!(info.expires(), Ok(Some(UNIX_EPOCH + Duration::from_secs(1_738_324_800))));
    /// info.expiry = Some("next tuesday".into());
    /// assert!(info.expires().is_err());
    /// ```
    ///
    /// # Errors
    /// [`SecretInfoError::Expiry`] if the text is not an RFC 3339 time.
    pub fn expires(&self) -> Result<Option<std::time::SystemTime>, SecretInfoError> {
        self.expiry
            .as_deref()
            .map(|text| {
                crate::rfc3339::parse(text).map_err(|_| SecretInfoError::Expiry(text.to_string()))
            })
            .transpose()
    }

    /// The rotation policy, as a [`SecretRotate`]; `None` if Juju gave
    /// none. The text Juju gave is [`rotation`](Self::rotation).
    ///
    /// ```
    /// use ops::model::{SecretInfo, SecretRotate};
    ///
    /// let mut info = SecretInfo::new("secret:cu0iqfhq1hvs7bb20l2g");
    /// assert_eq!(info.rotation_policy(), Ok(None));
    /// info.rotation = Some("monthly".into());
    /// assert_eq!(info.rotation_policy(), Ok(Some(SecretRotate::Monthly)));
    /// info.rotation = Some("fortnightly".into());
    /// assert!(info.rotation_policy().is_err());
    /// ```
    ///
    /// # Errors
    /// [`SecretInfoError::Rotation`] if the policy is not one of Juju's.
    pub fn rotation_policy(&self) -> Result<Option<SecretRotate>, SecretInfoError> {
        self.rotation.as_deref().map(str::parse).transpose()
    }
}

/// How to create a secret ([`Model::add_secret`]).
///
/// Juju may give secrets more settings: build it with [`SecretOptions::new`]
/// and the `with_*` methods (a struct literal cannot be written outside
/// ops).
///
/// ```
/// use ops::model::{SecretOptions, SecretOwner, SecretRotate};
/// let options = SecretOptions::new()
///     .with_label("db-password")
///     .with_rotate(SecretRotate::Monthly)
///     .with_owner(SecretOwner::Application);
/// assert_eq!(options.label.as_deref(), Some("db-password"));
/// ```
///
/// ```compile_fail
/// // Not outside ops, not even with `..Default::default()`:
/// let options = ops::model::SecretOptions { label: None, ..Default::default() };
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SecretOptions {
    /// A label the owner can find it by.
    pub label: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// When it expires.
    pub expire: Option<SecretExpiry>,
    /// How often to rotate it.
    pub rotate: Option<SecretRotate>,
    /// Owned by the application (the leader creates and changes it) or by this unit.
    pub owner: SecretOwner,
}

impl SecretOptions {
    /// No label, description, expiry or rotation; owned by this unit.
    pub fn new() -> Self {
        Self::default()
    }

    /// With a label the owner can find it by.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// With a description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Expiring at a time or after a while (a [`SystemTime`] or a
    /// [`Duration`], as Python's `expire` takes a `datetime` or a
    /// `timedelta`).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use ops::model::{SecretExpiry, SecretOptions};
    ///
    /// let in_a_day = SecretOptions::new().with_expire(Duration::from_secs(86_400));
    /// assert_eq!(in_a_day.expire, Some(SecretExpiry::After(Duration::from_secs(86_400))));
    /// let at = SecretOptions::new().with_expire(SystemTime::UNIX_EPOCH);
    /// assert_eq!(at.expire.unwrap().to_juju(), "1970-01-01T00:00:00Z");
    /// ```
    pub fn with_expire(mut self, expire: impl Into<SecretExpiry>) -> Self {
        self.expire = Some(expire.into());
        self
    }

    /// Rotated this often.
    pub fn with_rotate(mut self, rotate: SecretRotate) -> Self {
        self.rotate = Some(rotate);
        self
    }

    /// Owned by the application or by this unit.
    pub fn with_owner(mut self, owner: SecretOwner) -> Self {
        self.owner = owner;
        self
    }
}

/// When a secret expires: at a time, or after a while from when Juju is
/// told. Juju's `--expire` takes either (an RFC 3339 time or a Go
/// duration, which must be positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretExpiry {
    /// At this time.
    At(SystemTime),
    /// This long after the hook tool runs.
    After(Duration),
}

impl SecretExpiry {
    /// As `--expire` takes it: `2030-01-01T00:00:00Z` (to the second, UTC)
    /// or a Go duration in milliseconds (`86400000ms`).
    pub fn to_juju(self) -> String {
        match self {
            SecretExpiry::At(time) => crate::rfc3339::format(time, false),
            SecretExpiry::After(after) => format!("{}ms", after.as_millis()),
        }
    }
}

impl From<SystemTime> for SecretExpiry {
    fn from(time: SystemTime) -> Self {
        SecretExpiry::At(time)
    }
}

impl From<Duration> for SecretExpiry {
    fn from(after: Duration) -> Self {
        SecretExpiry::After(after)
    }
}

/// What [`Secret::set_info`] changes: only the fields that are `Some`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretInfoUpdate {
    /// A new label.
    pub label: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new expiry.
    pub expire: Option<SecretExpiry>,
    /// A new rotation policy.
    pub rotate: Option<SecretRotate>,
}

/// Juju's rule for content keys (`^[a-z](?:-?[a-z0-9]){2,}$`), and values
/// must not be empty.
fn check_content(content: &BTreeMap<String, String>) -> Result<(), ModelError> {
    if content.is_empty() {
        return Err(ModelError::EmptySecretContent);
    }
    for (key, value) in content {
        if !is_valid_key(key) {
            return Err(ModelError::InvalidSecretKey { key: key.clone() });
        }
        if value.is_empty() {
            return Err(ModelError::EmptySecretValue { key: key.clone() });
        }
    }
    Ok(())
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
        return false;
    }
    // The rest: groups of an optional dash and a lowercase letter or digit, at least two.
    let mut groups = 0;
    let mut after_dash = false;
    for c in chars {
        match c {
            '-' if !after_dash => after_dash = true,
            c if c.is_ascii_lowercase() || c.is_ascii_digit() => {
                groups += 1;
                after_dash = false;
            }
            _ => return false,
        }
    }
    !after_dash && groups >= 2
}

/// Juju's secret URIs start with `secret:`; an id given without it becomes
/// `secret://<model-uuid>/<id>` (or `secret:<id>` when the model's UUID is
/// not known), as Python ops canonicalises it.
fn canonical_id(id: &str, model_uuid: &str) -> String {
    let id = id.trim();
    if id.starts_with("secret:") {
        id.to_string()
    } else if model_uuid.is_empty() {
        format!("secret:{id}")
    } else {
        format!("secret://{model_uuid}/{id}")
    }
}

/// `id` without its `secret:` or `secret://<model uuid>/` prefix.
fn unique_identifier(id: &str) -> &str {
    match id.rsplit_once('/') {
        Some((_, unique)) => unique,
        None => id.strip_prefix("secret:").unwrap_or(id),
    }
}

/// The id and label a secret was looked up with.
pub(super) type SecretLookup = (Option<String>, Option<String>);

/// A secret's content as a lookup read it in this dispatch
/// ([`Model::get_secret`]), and whether it was read with `--refresh`.
/// Within a hook Juju gives a unit the same revision until it refreshes,
/// and the latest one (what a refresh gave) until a new one is published,
/// which the unit then hears of in `secret-changed`. So a lookup repeated
/// in the same dispatch is answered from the first, until this unit
/// writes a secret. Under Juju each `secret-get` is a process, and with
/// `--refresh` a call to the controller.
pub(super) struct SecretRead {
    content: SecretContent,
    refreshed: bool,
}

/// A secret this unit owns or was granted. Looking one up
/// ([`Model::get_secret`]) reads its content once (`secret-get`), as
/// Python ops does; it is kept for the dispatch, until a `refresh`.
/// `Debug` never shows content.
pub struct Secret<'m> {
    model: &'m Model,
    id: Option<String>,
    label: Option<String>,
    content: RefCell<Option<SecretContent>>,
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("id", &self.id)
            .field("label", &self.label)
            .field("content", &self.content.borrow())
            .finish()
    }
}

impl<'m> Secret<'m> {
    fn new(model: &'m Model, id: Option<String>, label: Option<String>) -> Self {
        Self {
            model,
            id,
            label,
            content: RefCell::new(None),
        }
    }

    /// The secret id (`secret:...`), if known (a secret looked up by label
    /// alone learns it from [`Secret::info`]).
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The secret's unique identifier: its id without the `secret:` or
    /// `secret://<model uuid>/` prefix (Python ops' `unique_identifier`),
    /// the same for every form of the id; `None` if the id is not known.
    pub fn unique_identifier(&self) -> Option<&str> {
        self.id.as_deref().map(unique_identifier)
    }

    /// The label it was created or looked up with, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    fn require_id(&self) -> Result<String, ModelError> {
        match &self.id {
            Some(id) => Ok(id.clone()),
            None => Ok(self.info()?.id),
        }
    }

    /// The content of the revision this unit tracks. With `refresh`, track
    /// the latest revision first (`secret-get --refresh`). Without it, the
    /// content already fetched in this dispatch is reused.
    pub fn get_content(&self, refresh: bool) -> Result<SecretContent, ModelError> {
        if !refresh && let Some(content) = self.content.borrow().as_ref() {
            return Ok(content.clone());
        }
        let content = SecretContent::from(
            self.model
                .backend
                .secret_get(self.id.as_deref(), self.label.as_deref(), refresh, false)
                .map_err(ModelError::backend(format!("reading {}", self.describe())))?,
        );
        self.model
            .remember_secret_read(self.lookup_key(), &content, refresh);
        *self.content.borrow_mut() = Some(content.clone());
        Ok(content)
    }

    /// The latest revision's content, without tracking it (`secret-get --peek`).
    pub fn peek_content(&self) -> Result<SecretContent, ModelError> {
        self.model
            .backend
            .secret_get(self.id.as_deref(), self.label.as_deref(), false, true)
            .map(SecretContent::from)
            .map_err(ModelError::backend(format!(
                "peeking at {}",
                self.describe()
            )))
    }

    /// The owner's view of the secret (`secret-info-get`).
    pub fn info(&self) -> Result<SecretInfo, ModelError> {
        self.model
            .backend
            .secret_info_get(self.id.as_deref(), self.label.as_deref())
            .map_err(ModelError::backend(format!(
                "reading the info of {}",
                self.describe()
            )))
    }

    /// Sets new content: a new revision (owner only). Keys and values are
    /// checked as Juju does before anything is sent.
    pub fn set_content(&self, content: BTreeMap<String, String>) -> Result<(), ModelError> {
        check_content(&content)?;
        let id = self.require_id()?;
        self.model.forget_secret_reads();
        self.model
            .backend
            .secret_set(
                &id,
                &SecretSetArgs {
                    content: Some(content),
                    ..Default::default()
                },
            )
            .map_err(ModelError::backend(format!(
                "setting the content of {}",
                self.describe()
            )))?;
        // The tracked revision is not the new one: fetch again when asked.
        *self.content.borrow_mut() = None;
        Ok(())
    }

    /// Changes the label, description, expiry or rotation policy (owner
    /// only). An update with nothing in it calls no hook tool.
    pub fn set_info(&self, update: SecretInfoUpdate) -> Result<(), ModelError> {
        if update == SecretInfoUpdate::default() {
            return Ok(());
        }
        let id = self.require_id()?;
        self.model.forget_secret_reads();
        self.model
            .backend
            .secret_set(
                &id,
                &SecretSetArgs {
                    content: None,
                    label: update.label,
                    description: update.description,
                    expire: update.expire.map(SecretExpiry::to_juju),
                    rotate: update.rotate.map(|r| r.as_str().to_string()),
                },
            )
            .map_err(ModelError::backend(format!(
                "setting the info of {}",
                self.describe()
            )))
    }

    /// Lets the remote application of a relation (or only one of its units) read the secret.
    pub fn grant(&self, relation: &Relation, unit: Option<&str>) -> Result<(), ModelError> {
        let id = self.require_id()?;
        self.model.forget_secret_reads();
        self.model
            .backend
            .secret_grant(&id, relation.id.id, unit)
            .map_err(ModelError::backend(format!(
                "granting {} on {}",
                self.describe(),
                relation.id
            )))
    }

    /// Takes a grant back.
    pub fn revoke(&self, relation: &Relation, unit: Option<&str>) -> Result<(), ModelError> {
        let id = self.require_id()?;
        self.model.forget_secret_reads();
        self.model
            .backend
            .secret_revoke(&id, relation.id.id, unit)
            .map_err(ModelError::backend(format!(
                "revoking {} on {}",
                self.describe(),
                relation.id
            )))
    }

    /// Removes one revision (owner only; typically in `secret-remove`).
    pub fn remove_revision(&self, revision: u64) -> Result<(), ModelError> {
        let id = self.require_id()?;
        self.model.forget_secret_reads();
        self.model
            .backend
            .secret_remove(&id, Some(revision))
            .map_err(ModelError::backend(format!(
                "removing revision {revision} of {}",
                self.describe()
            )))
    }

    /// Removes the secret, every revision of it (owner only).
    pub fn remove_all_revisions(&self) -> Result<(), ModelError> {
        let id = self.require_id()?;
        self.model.forget_secret_reads();
        self.model
            .backend
            .secret_remove(&id, None)
            .map_err(ModelError::backend(format!("removing {}", self.describe())))
    }

    /// The id and label this secret was looked up with: what
    /// [`Model`] remembers a read under.
    fn lookup_key(&self) -> SecretLookup {
        (self.id.clone(), self.label.clone())
    }

    fn describe(&self) -> String {
        match (&self.id, &self.label) {
            (Some(id), _) => format!("secret {id}"),
            (None, Some(label)) => format!("secret labelled {label:?}"),
            (None, None) => "a secret".to_string(),
        }
    }
}

impl Model {
    /// Creates a secret (`secret-add`) owned by the application (leader only:
    /// [`ModelError::NotLeader`] otherwise) or by this unit. Content keys are
    /// checked as Juju does ([`ModelError::InvalidSecretKey`]) and values must
    /// not be empty, before anything is sent. The returned secret knows its
    /// content: reading it back calls no hook tool.
    pub fn add_secret(
        &self,
        content: BTreeMap<String, String>,
        options: SecretOptions,
    ) -> Result<Secret<'_>, ModelError> {
        check_content(&content)?;
        if options.owner == SecretOwner::Application && !self.is_leader()? {
            return Err(ModelError::NotLeader {
                operation: "create an application-owned secret".to_string(),
            });
        }
        self.forget_secret_reads();
        let id = self
            .backend
            .secret_add(&SecretAddArgs {
                content: content.clone(),
                label: options.label.clone(),
                description: options.description,
                expire: options.expire.map(SecretExpiry::to_juju),
                rotate: options.rotate.map(|r| r.as_str().to_string()),
                owner: options.owner,
            })
            .map_err(ModelError::backend("adding a secret"))?;
        let secret = Secret::new(self, Some(id), options.label);
        *secret.content.borrow_mut() = Some(SecretContent(content));
        Ok(secret)
    }

    /// A secret by id, by label, or by both (which also sets the label on a
    /// secret this unit observes). Its content is read at once, as Python
    /// ops does (`secret-get`, with `--label` when both are given, which is
    /// when Juju attaches the label): a secret that does not exist, or that
    /// this unit may not read, fails here, with
    /// [`BackendError::SecretNotFound`](crate::backend::BackendError::SecretNotFound)
    /// or Juju's refusal; [`Secret::get_content`] then needs no other call.
    /// Looked up again in the same dispatch with the same id and label, it
    /// is not read again until this unit writes a secret: Juju gives a
    /// unit the same revision within a hook until it refreshes.
    pub fn get_secret(
        &self,
        id: Option<&str>,
        label: Option<&str>,
    ) -> Result<Secret<'_>, ModelError> {
        self.look_up_secret(id, label, false)
    }

    /// [`get_secret`](Self::get_secret) then [`Secret::get_content`]`(true)`
    /// in one hook tool call (`secret-get --refresh`): the secret is looked
    /// up, failing as `get_secret` does; this unit tracks its latest
    /// revision from now on; and that content is kept for the dispatch
    /// (`get_content(false)` reads it without another call, and so does
    /// this lookup repeated with the same id and label, until this unit
    /// writes a secret; a newer revision published meanwhile comes with
    /// `secret-changed`). For what a
    /// library does with a secret another application shares with it, as
    /// data-platform-libs' requirers do: always the latest revision. Under
    /// Juju each hook tool call is a process.
    ///
    /// ```no_run
    /// # fn demo(model: &ops::Model) -> Result<(), ops::model::ModelError> {
    /// let secret = model.get_secret_refreshed(Some("secret:cd2ku2fmp25c76be1bq0"), Some("db-user"))?;
    /// let password = secret.get_content(false)?.get("password").map(str::to_string);
    /// # let _ = password; Ok(()) }
    /// ```
    pub fn get_secret_refreshed(
        &self,
        id: Option<&str>,
        label: Option<&str>,
    ) -> Result<Secret<'_>, ModelError> {
        self.look_up_secret(id, label, true)
    }

    /// A secret by id and/or label, its content read at once (the latest
    /// revision, then tracked, with `refresh`).
    fn look_up_secret(
        &self,
        id: Option<&str>,
        label: Option<&str>,
        refresh: bool,
    ) -> Result<Secret<'_>, ModelError> {
        if id.is_none() && label.is_none() {
            return Err(ModelError::SecretWithoutId);
        }
        let secret = Secret::new(
            self,
            id.map(|id| canonical_id(id, &self.uuid)),
            label.map(str::to_string),
        );
        if let Some(content) = self.remembered_secret_read(&secret.lookup_key(), refresh) {
            *secret.content.borrow_mut() = Some(content);
            return Ok(secret);
        }
        secret.get_content(refresh)?;
        Ok(secret)
    }

    /// What a lookup with this id and label read earlier in the dispatch,
    /// if it may stand for a new read: any read for a lookup without
    /// `refresh`, one with `--refresh` for a lookup with it.
    fn remembered_secret_read(&self, key: &SecretLookup, refresh: bool) -> Option<SecretContent> {
        let reads = self.secret_reads.borrow();
        let read = reads.get(key)?;
        (read.refreshed || !refresh).then(|| read.content.clone())
    }

    /// Keeps what `secret-get` gave for this id and label (with
    /// `--refresh` or not) for the rest of the dispatch.
    fn remember_secret_read(&self, key: SecretLookup, content: &SecretContent, refreshed: bool) {
        self.secret_reads.borrow_mut().insert(
            key,
            SecretRead {
                content: content.clone(),
                refreshed,
            },
        );
    }

    /// Forgets every secret read of the dispatch: this unit is about to
    /// change a secret (any of them: a label and an id may name the same
    /// one).
    fn forget_secret_reads(&self) {
        self.secret_reads.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str, value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(key.to_string(), value.to_string())])
    }

    #[test]
    fn the_unique_identifier_is_the_same_for_every_form_of_the_id() {
        for id in [
            "cd2ku2fmp25c76be1bq0",
            "secret:cd2ku2fmp25c76be1bq0",
            "secret://0b7d1071-ded2-4bf5-80a3-10a81aeb1386/cd2ku2fmp25c76be1bq0",
        ] {
            assert_eq!(unique_identifier(id), "cd2ku2fmp25c76be1bq0", "{id}");
        }
    }

    #[test]
    fn content_keys_follow_juju() {
        for good in [
            "password",
            "tls-key",
            "a12",
            "abc",
            "a-b-c",
            "x509-cert",
            "a1-2",
        ] {
            check_content(&one(good, "v")).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "pw",
            "a-b",
            "Password",
            "1abc",
            "-abc",
            "with_underscore",
            "dash-",
            "double--dash",
            "",
            "ünïcode",
        ] {
            match check_content(&one(bad, "v")) {
                Err(ModelError::InvalidSecretKey { key }) => assert_eq!(key, bad),
                other => panic!("{bad:?}: expected InvalidSecretKey, got {other:?}"),
            }
        }
    }

    #[test]
    fn values_and_content_must_not_be_empty() {
        assert!(matches!(
            check_content(&one("password", "")),
            Err(ModelError::EmptySecretValue { key }) if key == "password"
        ));
        assert!(matches!(
            check_content(&BTreeMap::new()),
            Err(ModelError::EmptySecretContent)
        ));
    }

    #[test]
    fn content_debug_shows_keys_not_values() {
        let content = SecretContent::from(one("password", "hunter22"));
        let shown = format!("{content:?}");
        assert!(
            shown.contains("password") && !shown.contains("hunter22"),
            "{shown}"
        );
        assert_eq!(content.get("password"), Some("hunter22"));
        assert_eq!(content.get("password"), Some("hunter22"));
        assert_eq!(content.keys().collect::<Vec<_>>(), ["password"]);
    }

    #[test]
    fn ids_get_the_secret_prefix() {
        assert_eq!(canonical_id("cq1v2", ""), "secret:cq1v2");
        assert_eq!(canonical_id("secret:cq1v2", "u-1"), "secret:cq1v2");
        assert_eq!(
            canonical_id(" secret://uuid/cq1v2 ", "u-1"),
            "secret://uuid/cq1v2"
        );
        assert_eq!(canonical_id("cq1v2", "u-1"), "secret://u-1/cq1v2");
    }
}
