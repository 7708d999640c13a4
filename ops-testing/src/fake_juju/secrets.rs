//! The secret tools, with Juju's ownership, grant and revision-tracking rules.
//!
//! - Owners: a unit-owned secret's unit; every unit of the owning application
//!   for an application-owned one (reading), its leader (changing). Owners
//!   always read the latest revision.
//! - Consumers: units of an application granted the secret over a relation
//!   (or one granted unit). A consumer tracks the revision it first read
//!   until it reads with `--refresh`; `--peek` shows the latest once.
//! - Labels: the owner's label, and one label per consumer unit.

use std::time::{Duration, SystemTime};

use ops::backend::{SecretAddArgs, SecretInfo, SecretOwner, SecretSetArgs};
use serde_json::{Value, json};

use crate::formats;

use super::hook::{HookContext, HookError, HookErrorKind, HookResult, valid_unit_name};
use super::{Bag, FakeJuju, SecretGrant, SecretState, app_of};

const XID_ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// A secret id in Juju's form, `secret:<xid>`: twelve bytes (a fixed time,
/// machine and process part, then `counter`) in xid's base32hex encoding.
/// Deterministic on purpose: the hook-tool and in-memory fakes must hand
/// out the same ids for the same state (tests/hook_tool_cli.rs compares
/// them).
pub(crate) fn new_secret_id(counter: u64) -> String {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&1_700_000_000u32.to_be_bytes());
    bytes[4..7].copy_from_slice(b"ops");
    bytes[7..9].copy_from_slice(&1u16.to_be_bytes());
    bytes[9..].copy_from_slice(&counter.to_be_bytes()[5..]);
    // 96 bits, padded with 4 zero bits to 100 = 20 characters of 5 bits.
    let value = u128::from_be_bytes({
        let mut wide = [0u8; 16];
        wide[4..].copy_from_slice(&bytes);
        wide
    }) << 4;
    let xid: String = (0..20)
        .rev()
        .map(|i| char::from(XID_ALPHABET[((value >> (i * 5)) & 0x1f) as usize]))
        .collect();
    format!("secret:{xid}")
}

/// The bare id a secret reference names: `ops`' reading of Juju's
/// `ParseURI`, so that the charm's side and the fake read references alike.
pub(crate) use ops::model::secret_id_of as secret_xid;

fn invalid_uri(reference: &str) -> HookError {
    HookError::usage(format!("secret URI {reference:?} not valid"))
}

fn not_found(what: &str) -> HookError {
    HookError::new(
        HookErrorKind::SecretNotFound,
        format!("secret {what:?} not found"),
    )
}

fn label_not_found(label: &str) -> HookError {
    HookError::new(
        HookErrorKind::SecretNotFound,
        format!("secret with label {label:?} not found"),
    )
}

/// Whether `key` is a valid secret content key: a lowercase letter, then at
/// least two lowercase letters or digits, single dashes between them.
pub(crate) fn valid_secret_key(key: &str) -> bool {
    let b = key.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    b.first().is_some_and(u8::is_ascii_lowercase)
        && b.iter().filter(|c| alnum(c)).count() >= 3
        && b.iter().all(|c| alnum(c) || *c == b'-')
        && !key.ends_with('-')
        && !key.contains("--")
}

/// Checks the keys of new secret content as Juju does.
pub(crate) fn check_content(content: &Bag) -> HookResult<()> {
    match content.keys().find(|k| !valid_secret_key(k)) {
        Some(k) => Err(HookError::usage(format!("key {k:?} not valid"))),
        None => Ok(()),
    }
}

/// Checks a rotation policy as Juju does.
pub(crate) fn check_rotate(policy: &str) -> HookResult<()> {
    const POLICIES: [&str; 7] = [
        "never",
        "hourly",
        "daily",
        "weekly",
        "monthly",
        "quarterly",
        "yearly",
    ];
    if POLICIES.contains(&policy) {
        Ok(())
    } else {
        Err(HookError::usage(format!(
            "rotate policy {policy:?} not valid"
        )))
    }
}

/// `--expire`: an RFC 3339 time or a Go duration from now, as Juju's
/// `secret-add` and `secret-set` read it (`time.Parse(time.RFC3339, ...)`,
/// else `time.ParseDuration`, which must be positive); returns the expiry
/// as RFC 3339. A time without a zone is taken as UTC, a leniency Juju
/// does not have, kept for charms that pass a naive time.
pub(crate) fn parse_expire(spec: &str) -> HookResult<String> {
    let zoned = if spec.len() == 19 {
        format!("{spec}Z")
    } else {
        spec.to_string()
    };
    if formats::parse_rfc3339(&zoned).is_ok() {
        return Ok(zoned);
    }
    match formats::parse_go_duration(spec) {
        Ok(nanos) if nanos <= 0 => Err(HookError::usage(format!(
            "negative expire duration {spec:?} not valid"
        ))),
        Ok(nanos) => {
            let later = SystemTime::now().checked_add(Duration::from_nanos(nanos.unsigned_abs()));
            later
                .map(|time| formats::format_rfc3339(time, false))
                .ok_or_else(|| HookError::usage(format!("expire duration {spec:?} not valid")))
        }
        Err(_) => Err(HookError::usage(format!(
            "expire time or duration {spec:?} not valid"
        ))),
    }
}

impl FakeJuju {
    /// Finds the secret a hook names by id, or else by label (the owner's
    /// label for secrets this unit owns, else this unit's consumer label).
    fn find_secret(
        &self,
        ctx: &HookContext,
        id: Option<&str>,
        label: Option<&str>,
    ) -> HookResult<String> {
        if let Some(id) = id {
            let xid = secret_xid(id).ok_or_else(|| invalid_uri(id))?;
            return self
                .secrets
                .values()
                .find(|s| s.xid() == xid)
                .map(|s| s.id.clone())
                .ok_or_else(|| not_found(xid));
        }
        let Some(label) = label else {
            return Err(HookError::usage("require either a secret URI or label"));
        };
        let owned = self
            .secrets
            .values()
            .find(|s| s.label.as_deref() == Some(label) && self.owns_for_reading(ctx, s));
        let consumed = || {
            self.secrets
                .values()
                .find(|s| s.consumer_labels.get(&ctx.unit).map(String::as_str) == Some(label))
        };
        owned
            .or_else(consumed)
            .map(|s| s.id.clone())
            .ok_or_else(|| label_not_found(label))
    }

    /// Whether the hook's unit is an owner for reading: the owning unit, or
    /// any unit of the owning application.
    fn owns_for_reading(&self, ctx: &HookContext, s: &SecretState) -> bool {
        s.owner == ctx.unit || s.owner == ctx.app()
    }

    /// Whether a consumer unit has been granted the secret, over a relation
    /// that still exists.
    fn granted(&self, ctx: &HookContext, s: &SecretState) -> bool {
        s.grants.iter().any(|g| {
            self.relations.contains_key(&g.relation)
                && g.app == ctx.app()
                && g.unit.as_ref().is_none_or(|u| *u == ctx.unit)
        })
    }

    /// The secret a hook may change: owned by the unit, or by its application
    /// when the unit leads it.
    fn owned_secret(&mut self, ctx: &HookContext, id: &str) -> HookResult<&mut SecretState> {
        let xid = secret_xid(id).ok_or_else(|| invalid_uri(id))?;
        let leader = self.is_leader_unit(&ctx.unit);
        let s = self
            .secrets
            .values_mut()
            .find(|s| s.xid() == xid && (s.owner == ctx.unit || s.owner == app_of(&ctx.unit)))
            .ok_or_else(|| not_found(xid))?;
        if s.owner_kind == "application" && !leader {
            return Err(HookError::not_leader());
        }
        Ok(s)
    }

    fn check_label_free(&self, owner: &str, label: &str, except: Option<&str>) -> HookResult<()> {
        let taken = self.secrets.values().any(|s| {
            s.owner == owner && s.label.as_deref() == Some(label) && Some(s.id.as_str()) != except
        });
        if taken {
            return Err(HookError::other(format!(
                "secret with label {label:?} already exists"
            )));
        }
        Ok(())
    }

    /// `secret-add`: a new secret owned by the unit, or by its application
    /// (leader only). Returns its id.
    pub fn hook_secret_add(
        &mut self,
        ctx: &HookContext,
        args: &SecretAddArgs,
    ) -> HookResult<String> {
        if args.content.is_empty() {
            return Err(HookError::usage("missing secret value or filename"));
        }
        check_content(&args.content)?;
        // A time or a duration from now, kept as the time Juju computes.
        let expire = args.expire.as_deref().map(parse_expire).transpose()?;
        if let Some(rotate) = &args.rotate {
            check_rotate(rotate)?;
        }
        let owner = match args.owner {
            SecretOwner::Application => {
                if !self.is_leader_unit(&ctx.unit) {
                    return Err(HookError::not_leader());
                }
                ctx.app().to_string()
            }
            SecretOwner::Unit => ctx.unit.clone(),
        };
        if let Some(label) = &args.label {
            self.check_label_free(&owner, label, None)?;
        }
        let id = self.add_secret(&owner, args.content.clone(), args.label.as_deref());
        self.keep_created_secret_for_rollback(ctx, &id);
        if let Some(s) = self.secrets.get_mut(&id) {
            s.description = args.description.clone();
            s.expire = expire;
            s.rotate = args.rotate.clone();
        }
        Ok(id)
    }

    /// `secret-get`: the content the unit may see (see the module's rules).
    /// With both an id and a label, the label is set (the owner's label when
    /// the unit may change the secret, else the unit's consumer label).
    pub fn hook_secret_get(
        &mut self,
        ctx: &HookContext,
        id: Option<&str>,
        label: Option<&str>,
        refresh: bool,
        peek: bool,
    ) -> HookResult<Bag> {
        if refresh && peek {
            return Err(HookError::usage(
                "specify one of --peek or --refresh but not both",
            ));
        }
        let found = self.find_secret(ctx, id, label)?;
        let leader = self.is_leader_unit(&ctx.unit);
        let s = &self.secrets[&found];
        let owner = self.owns_for_reading(ctx, s);
        if !owner && !self.granted(ctx, s) {
            return Err(HookError::permission_denied());
        }
        // Labels and tracked revisions change with the hook, too.
        self.keep_secret_for_rollback(ctx, &found);
        let Some(s) = self.secrets.get_mut(&found) else {
            return Err(not_found(&found));
        };
        if let (Some(label), Some(_)) = (label, id) {
            if s.owner == ctx.unit || (s.owner == app_of(&ctx.unit) && leader) {
                s.label = Some(label.to_string());
            } else {
                s.consumer_labels
                    .insert(ctx.unit.clone(), label.to_string());
            }
        }
        let latest = s.latest();
        let revision = if owner || peek {
            latest
        } else {
            let tracked = s.tracked.entry(ctx.unit.clone()).or_insert(latest);
            if refresh {
                *tracked = latest;
            }
            *tracked
        };
        Ok(s.revisions.get(&revision).cloned().unwrap_or_default())
    }

    /// The secrets whose metadata the unit sees (`secret-info-get`,
    /// `secret-ids`): those it or its application owns.
    fn owned_metadata(&self, ctx: &HookContext) -> Vec<&SecretState> {
        self.secrets
            .values()
            .filter(|s| self.owns_for_reading(ctx, s))
            .collect()
    }

    /// `secret-info-get (<id> | --label L)`: the owner's view of a secret.
    pub fn hook_secret_info(
        &self,
        ctx: &HookContext,
        id: Option<&str>,
        label: Option<&str>,
    ) -> HookResult<&SecretState> {
        match (id, label) {
            (Some(_), Some(_)) => Err(HookError::usage(
                "specify either a secret URI or label but not both",
            )),
            (None, None) => Err(HookError::usage("require either a secret URI or label")),
            (Some(id), None) => {
                let xid = secret_xid(id).ok_or_else(|| invalid_uri(id))?;
                self.owned_metadata(ctx)
                    .into_iter()
                    .find(|s| s.xid() == xid)
                    .ok_or_else(|| not_found(xid))
            }
            (None, Some(label)) => self
                .owned_metadata(ctx)
                .into_iter()
                .find(|s| s.label.as_deref() == Some(label))
                .ok_or_else(|| not_found(label)),
        }
    }

    /// `secret-info-get` as `ops` reads it.
    pub fn hook_secret_info_get(
        &self,
        ctx: &HookContext,
        id: Option<&str>,
        label: Option<&str>,
    ) -> HookResult<SecretInfo> {
        let s = self.hook_secret_info(ctx, id, label)?;
        let mut info = SecretInfo::new(s.id.clone());
        info.label = s.label.clone();
        info.description = s.description.clone();
        info.revision = s.latest();
        info.rotation = s.rotate.clone();
        info.expiry = s.expire.clone();
        info.owner = Some(s.owner_kind.clone());
        Ok(info)
    }

    /// `secret-info-get` as Juju prints it: `{<xid>: {revision, label, owner, ...}}`.
    pub fn secret_info_json(&self, s: &SecretState) -> Value {
        let mut info = json!({
            "revision": s.latest(),
            "label": s.label.clone().unwrap_or_default(),
            "owner": s.owner_kind,
        });
        for (key, value) in [
            ("description", &s.description),
            ("rotation", &s.rotate),
            ("expiry", &s.expire),
        ] {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                info[key] = json!(v);
            }
        }
        let access: Vec<Value> = s
            .grants
            .iter()
            .map(|g| {
                let target = match &g.unit {
                    Some(unit) => format!("unit-{}", unit.replace('/', "-")),
                    None => format!("application-{}", g.app),
                };
                let scope = self
                    .relation_key(g.relation)
                    .map(|k| format!("relation-{}", k.replace(':', ".").replace(' ', "#")))
                    .unwrap_or_default();
                json!({"target": target, "scope": scope, "role": "view"})
            })
            .collect();
        if !access.is_empty() {
            info["access"] = Value::Array(access);
        }
        json!({ s.xid(): info })
    }

    /// `secret-ids`: the bare ids of the secrets the unit or its application
    /// owns, sorted.
    pub fn hook_secret_ids(&self, ctx: &HookContext) -> Vec<String> {
        self.owned_metadata(ctx)
            .into_iter()
            .map(|s| s.xid().to_string())
            .collect()
    }

    /// `secret-set`: new content (a new revision, if it differs) or metadata.
    pub fn hook_secret_set(
        &mut self,
        ctx: &HookContext,
        id: &str,
        args: &SecretSetArgs,
    ) -> HookResult<()> {
        if let Some(content) = &args.content {
            check_content(content)?;
        }
        if let Some(rotate) = &args.rotate {
            check_rotate(rotate)?;
        }
        let expire = args.expire.as_deref().map(parse_expire).transpose()?;
        let (owner, full_id) = {
            let s = self.owned_secret(ctx, id)?;
            (s.owner.clone(), s.id.clone())
        };
        if let Some(label) = &args.label {
            self.check_label_free(&owner, label, Some(&full_id))?;
        }
        self.keep_secret_for_rollback(ctx, &full_id);
        let s = self.owned_secret(ctx, id)?;
        if let Some(content) = &args.content {
            let latest = s.latest();
            if s.revisions.get(&latest) != Some(content) {
                s.revisions.insert(latest + 1, content.clone());
            }
        }
        for (field, value) in [
            (&mut s.label, &args.label),
            (&mut s.description, &args.description),
            (&mut s.expire, &expire),
            (&mut s.rotate, &args.rotate),
        ] {
            if value.is_some() {
                field.clone_from(value);
            }
        }
        Ok(())
    }

    /// `secret-grant -r <relation> [--unit U]`: the other side of the
    /// relation (or one unit of it) may read the secret.
    pub fn hook_secret_grant(
        &mut self,
        ctx: &HookContext,
        id: &str,
        relation: u32,
        unit: Option<&str>,
    ) -> HookResult<()> {
        let remote_app = self
            .relations
            .get(&relation)
            .filter(|r| r.endpoint_of(ctx.app()).is_some())
            .map(|r| r.other_app(ctx.app()).to_string())
            .ok_or_else(|| HookError::relation_not_found(&relation.to_string()))?;
        if let Some(unit) = unit {
            if !valid_unit_name(unit) {
                return Err(HookError::usage(format!("unit {unit:?} not valid")));
            }
            if app_of(unit) != remote_app {
                return Err(HookError::usage(format!(
                    "cannot specify unit {unit:?} in relation to application {remote_app:?}"
                )));
            }
        }
        let grant = SecretGrant {
            relation,
            app: remote_app,
            unit: unit.map(str::to_string),
        };
        let full_id = self.owned_secret(ctx, id)?.id.clone();
        self.keep_secret_for_rollback(ctx, &full_id);
        let s = self.owned_secret(ctx, id)?;
        if !s.grants.contains(&grant) {
            s.grants.push(grant);
        }
        Ok(())
    }

    /// `secret-revoke (-r <relation> | --app A | --unit U)`: takes back what
    /// was granted to the application (the relation's other side), or to one unit.
    pub fn hook_secret_revoke(
        &mut self,
        ctx: &HookContext,
        id: &str,
        relation: Option<u32>,
        app: Option<&str>,
        unit: Option<&str>,
    ) -> HookResult<()> {
        if app.is_some() && unit.is_some() {
            return Err(HookError::usage("specify only one of application or unit"));
        }
        let app = match relation {
            Some(relation) => {
                if app.is_some() {
                    return Err(HookError::usage("do not specify both relation and app"));
                }
                let remote = self
                    .relations
                    .get(&relation)
                    .filter(|r| r.endpoint_of(ctx.app()).is_some())
                    .map(|r| r.other_app(ctx.app()).to_string())
                    .ok_or_else(|| HookError::relation_not_found(&relation.to_string()))?;
                Some(remote)
            }
            None => app.map(str::to_string),
        };
        if app.is_none() && unit.is_none() {
            return Err(HookError::usage("missing relation or application or unit"));
        }
        let full_id = self.owned_secret(ctx, id)?.id.clone();
        self.keep_secret_for_rollback(ctx, &full_id);
        let s = self.owned_secret(ctx, id)?;
        s.grants.retain(|g| match unit {
            Some(unit) => g.unit.as_deref() != Some(unit),
            None => Some(&g.app) != app.as_ref(),
        });
        Ok(())
    }

    /// `secret-remove [--revision N]`: one revision, or the whole secret.
    pub fn hook_secret_remove(
        &mut self,
        ctx: &HookContext,
        id: &str,
        revision: Option<u64>,
    ) -> HookResult<()> {
        let full_id = self.owned_secret(ctx, id)?.id.clone();
        self.keep_secret_for_rollback(ctx, &full_id);
        let s = self.owned_secret(ctx, id)?;
        match revision.filter(|r| *r > 0) {
            Some(rev) => {
                s.revisions.remove(&rev);
            }
            None => {
                let full = s.id.clone();
                self.secrets.remove(&full);
            }
        }
        Ok(())
    }
}
