//! What one unit's hook tools may do in one hook, with Juju's rules, Juju's
//! error messages and Juju's transactions.

use std::collections::BTreeMap;

use ops::backend::{LogLevel, RelationRef, StatusInfo, StatusName};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Bag, FakeJuju, LogRecord, Pending, PendingBag, PortRange, RelationState, SecretState, app_of,
};

/// Who is running a hook, and about what: the part of Juju's hook
/// environment the tools depend on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HookContext {
    /// The unit running the hook (`JUJU_UNIT_NAME`).
    pub unit: String,
    /// The hook's relation, for relation hooks (`JUJU_RELATION_ID`): the
    /// default of `-r`.
    pub relation: Option<RelationRef>,
    /// The remote unit (`JUJU_REMOTE_UNIT`): the default member of `relation-get`.
    pub remote_unit: Option<String>,
    /// The remote application (`JUJU_REMOTE_APP`).
    pub remote_app: Option<String>,
    /// The departing unit, in relation-departed (`JUJU_DEPARTING_UNIT`): no
    /// longer listed by `relation-list`.
    pub departing_unit: Option<String>,
}

impl HookContext {
    /// A context for `unit` outside any relation.
    pub fn unit(unit: &str) -> Self {
        Self {
            unit: unit.to_string(),
            ..Default::default()
        }
    }

    /// A context for `unit` in a relation hook about `relation`, sent by
    /// `remote_unit` (if any) of `remote_app`.
    pub fn in_relation(
        unit: &str,
        relation: RelationRef,
        remote_unit: Option<&str>,
        remote_app: &str,
    ) -> Self {
        Self {
            unit: unit.to_string(),
            relation: Some(relation),
            remote_unit: remote_unit.map(str::to_string),
            remote_app: Some(remote_app.to_string()),
            departing_unit: None,
        }
    }

    /// The application of the hook's unit.
    pub fn app(&self) -> &str {
        app_of(&self.unit)
    }
}

/// The kind of a hook-tool failure, which decides the `BackendError` variant
/// `ops`' `HookTools` would make of Juju's message, and the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookErrorKind {
    /// A relation that is not there (`... relation not found`).
    RelationNotFound,
    /// Access refused: not the leader, a bag the unit may not read or write.
    Permission,
    /// A secret that is not there, or not visible (`secret ... not found`).
    SecretNotFound,
    /// Bad arguments: Juju refuses them before running (exit status 2).
    Usage,
    /// Anything else (exit status 1).
    Other,
}

/// The most bytes Juju keeps in one unit-state value (`state-set`): Juju's
/// `quota.MaxCharmStateValueSize`.
pub const MAX_STATE_VALUE: usize = 64 * 1024;

/// The longest unit-state key Juju accepts (`state-set`), in bytes: Juju's
/// `quota.MaxCharmStateKeySize`.
pub const MAX_STATE_KEY: usize = 256;

/// A hook tool's failure: Juju's message (what follows `ERROR `) and its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HookError {
    /// Juju's message, e.g. `cannot write relation settings`.
    pub message: String,
    /// Its kind.
    pub kind: HookErrorKind,
}

impl HookError {
    pub(crate) fn new(kind: HookErrorKind, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(HookErrorKind::Usage, message)
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        Self::new(HookErrorKind::Other, message)
    }

    pub(crate) fn permission_denied() -> Self {
        Self::new(HookErrorKind::Permission, "permission denied")
    }

    /// Juju's answer to `-r <relation>` naming a relation the unit is not in.
    pub(crate) fn relation_not_found(relation: &str) -> Self {
        Self::new(
            HookErrorKind::RelationNotFound,
            format!("invalid value {relation:?} for option -r: relation not found"),
        )
    }

    pub(crate) fn not_leader() -> Self {
        Self::new(HookErrorKind::Permission, "this unit is not the leader")
    }

    pub(crate) fn not_in_action() -> Self {
        Self::other("not running an action")
    }
}

/// What a finished hook changed, so that a simulator can tell the other units.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookChanges {
    /// (relation id, member) of every databag whose committed content changed.
    pub changed_bags: Vec<(u32, String)>,
    /// Whether the unit's controller-side state changed.
    pub state_changed: bool,
    /// Whether the unit's opened ports changed.
    pub ports_changed: bool,
}

/// The result of a hook operation.
pub type HookResult<T> = Result<T, HookError>;

fn apply(bag: &mut Bag, changes: &BTreeMap<String, Option<String>>) {
    for (k, v) in changes {
        match v {
            Some(v) => bag.insert(k.clone(), v.clone()),
            None => bag.remove(k),
        };
    }
}

/// Whether `name` is a valid application name (`names.IsValidApplication`):
/// lowercase letters, digits and single dashes, starting with a letter, and
/// no part after a dash made of digits only.
pub(crate) fn valid_app_name(name: &str) -> bool {
    let mut parts = name.split('-');
    let first = parts.next().unwrap_or_default();
    let lower_alnum = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    first.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && lower_alnum(first)
        && parts.all(|p| lower_alnum(p) && p.bytes().any(|b| b.is_ascii_lowercase()))
}

/// Whether `name` is a valid unit name (`app/<n>`).
pub(crate) fn valid_unit_name(name: &str) -> bool {
    name.split_once('/').is_some_and(|(app, n)| {
        valid_app_name(app) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

impl FakeJuju {
    /// Starts a hook of `ctx.unit`: undoes what an earlier hook of that unit
    /// that never ended left pending (as for a failed hook).
    pub fn begin_hook(&mut self, ctx: &HookContext) {
        if let Some(pending) = self.pending.remove(&ctx.unit) {
            self.discard(pending);
        }
    }

    /// Ends the running hook of `unit`: if it succeeded, applies its pending
    /// relation, state and port changes, storage requests and metrics, as
    /// Juju commits them; otherwise drops them and undoes its secret
    /// changes. Either way the unit's action (if any) stops running.
    /// Returns what changed.
    pub fn end_hook(&mut self, unit: &str, success: bool) -> HookChanges {
        if let Some(action) = self.units.get_mut(unit).and_then(|u| u.action.as_mut()) {
            action.running = false;
        }
        let mut changes = HookChanges::default();
        let Some(mut pending) = self.pending.remove(unit) else {
            return changes;
        };
        if !success {
            self.discard(pending);
            return changes;
        }
        if let Some(state) = self.units.get_mut(unit) {
            for (name, count) in std::mem::take(&mut pending.storage_requests) {
                *state.storage_requests.entry(name).or_default() += count;
            }
            state.metrics.append(&mut pending.metrics);
        }
        for bag in pending.bags {
            let Some(relation) = self.relations.get_mut(&bag.relation) else {
                continue;
            };
            let stored = relation.bags.entry(bag.member.clone()).or_default();
            let before = stored.clone();
            apply(stored, &bag.changes);
            if *stored != before {
                changes.changed_bags.push((bag.relation, bag.member));
            }
        }
        if let Some(state) = self.units.get_mut(unit) {
            let before = (state.state.clone(), state.ports.clone());
            apply(&mut state.state, &pending.state);
            for (port, open) in pending.ports {
                if open {
                    state.ports.insert(port);
                } else {
                    state.ports.remove(&port);
                }
            }
            changes.state_changed = state.state != before.0;
            changes.ports_changed = state.ports != before.1;
        }
        changes
    }

    /// Drops a failed hook's pending changes: its secret changes were made
    /// in place, so each secret it changed is put back as it was (one it
    /// created is removed).
    fn discard(&mut self, pending: Pending) {
        for (id, before) in pending.secrets_before {
            match before {
                Some(secret) => self.secrets.insert(id, secret),
                None => self.secrets.remove(&id),
            };
        }
    }

    /// Called before a `secret-*` tool changes the secret `id` (the key of
    /// [`secrets`](FakeJuju::secrets)): keeps it as it was before the
    /// hook's first change to it, for [`end_hook`](Self::end_hook) to put
    /// back should the hook fail.
    pub(crate) fn keep_secret_for_rollback(&mut self, ctx: &HookContext, id: &str) {
        let before = self.secrets.get(id).cloned();
        self.remember_secret(ctx, id, before);
    }

    /// Called when `secret-add` made the secret `id`: a failed hook removes it.
    pub(crate) fn keep_created_secret_for_rollback(&mut self, ctx: &HookContext, id: &str) {
        self.remember_secret(ctx, id, None);
    }

    fn remember_secret(&mut self, ctx: &HookContext, id: &str, before: Option<SecretState>) {
        self.pending
            .entry(ctx.unit.clone())
            .or_default()
            .secrets_before
            .entry(id.to_string())
            .or_insert(before);
    }

    pub(crate) fn is_leader_unit(&self, unit: &str) -> bool {
        self.leader(app_of(unit)) == Some(unit)
    }

    /// The relation `-r <raw>` names, as Juju reads it: the id after the last
    /// `:` (the name before it is not checked), which must be a relation of the
    /// unit's application. The error is what Juju says after
    /// `invalid value "<raw>" for option -r: `.
    pub fn resolve_relation(&self, ctx: &HookContext, raw: &str) -> Result<RelationRef, String> {
        let id = raw.rsplit(':').next().unwrap_or(raw);
        let id: i64 = id.parse().map_err(|_| "invalid relation id".to_string())?;
        u32::try_from(id)
            .ok()
            .and_then(|id| self.relations.get(&id))
            .and_then(|r| r.endpoint_of(ctx.app()).map(|e| RelationRef::new(e, r.id)))
            .ok_or_else(|| "relation not found".to_string())
    }

    /// The relation `relation` names (by id), if the unit's application is in it.
    fn hook_relation(
        &self,
        ctx: &HookContext,
        relation: &RelationRef,
    ) -> HookResult<&RelationState> {
        self.relations
            .get(&relation.id)
            .filter(|r| r.endpoint_of(ctx.app()).is_some())
            .ok_or_else(|| HookError::relation_not_found(&relation.to_string()))
    }

    /// `relation-ids <endpoint>`: the application's relations on `endpoint`,
    /// sorted as Juju sorts them (as strings).
    pub fn hook_relation_ids(
        &self,
        ctx: &HookContext,
        endpoint: &str,
    ) -> HookResult<Vec<RelationRef>> {
        let mut ids: Vec<RelationRef> = self
            .relations_of(ctx.app(), endpoint)
            .into_iter()
            .map(|id| RelationRef::new(endpoint, id))
            .collect();
        ids.sort_by_key(|r| r.to_string());
        Ok(ids)
    }

    /// `relation-list -r`: the remote units that have joined (for a peer
    /// relation, the other units), without the departing unit and without
    /// those this unit has already seen depart
    /// ([`FakeJuju::depart_from_view`]).
    pub fn hook_relation_list(
        &self,
        ctx: &HookContext,
        relation: &RelationRef,
    ) -> HookResult<Vec<String>> {
        let r = self.hook_relation(ctx, relation)?;
        let other = r.other_app(ctx.app());
        let seen_gone = r.departed_from.get(&ctx.unit);
        Ok(r.joined
            .iter()
            .filter(|u| {
                app_of(u) == other
                    && **u != ctx.unit
                    && ctx.departing_unit.as_ref() != Some(*u)
                    && !seen_gone.is_some_and(|gone| gone.contains(*u))
            })
            .cloned()
            .collect())
    }

    /// `relation-list -r --app`: the application on the other side.
    pub fn hook_relation_remote_app(
        &self,
        ctx: &HookContext,
        relation: &RelationRef,
    ) -> HookResult<String> {
        let r = self.hook_relation(ctx, relation)?;
        Ok(r.other_app(ctx.app()).to_string())
    }

    /// `relation-model-get -r`: the uuid of the model the remote application is in.
    pub fn hook_relation_model_get(
        &self,
        ctx: &HookContext,
        relation: &RelationRef,
    ) -> HookResult<String> {
        self.hook_relation(ctx, relation)?;
        Ok(self.model_uuid.clone())
    }

    /// A bag as this unit's hook sees it: committed, plus its own pending writes.
    fn view(&self, ctx: &HookContext, relation: u32, member: &str) -> Bag {
        let mut bag = self.bag(relation, member);
        if let Some(pending) = self.pending.get(&ctx.unit) {
            for p in pending
                .bags
                .iter()
                .filter(|p| p.relation == relation && p.member == member)
            {
                apply(&mut bag, &p.changes);
            }
        }
        bag
    }

    /// `relation-get -r [--app] - <member>`, with Juju's read rules: the
    /// unit's own bag (with its pending writes); its application's bag on the
    /// leader (with pending writes), or as committed on a peer relation, else
    /// `permission denied`; remote bags as committed. Without `app`, `member`
    /// must be a unit name; with it, a unit name stands for its application.
    pub fn hook_relation_get(
        &self,
        ctx: &HookContext,
        relation: &RelationRef,
        member: &str,
        app: bool,
    ) -> HookResult<Bag> {
        let member = if app {
            if valid_unit_name(member) {
                app_of(member)
            } else {
                member
            }
        } else if !valid_unit_name(member) {
            return Err(HookError::usage(if valid_app_name(member) {
                format!("expected unit name, got application name {member:?}")
            } else {
                format!("invalid unit name {member:?}")
            }));
        } else {
            member
        };
        let r = self.hook_relation(ctx, relation)?;
        if member == ctx.unit || (app && member == ctx.app() && self.is_leader_unit(&ctx.unit)) {
            return Ok(self.view(ctx, r.id, member));
        }
        if app {
            let readable = if member == ctx.app() {
                r.is_peer()
            } else {
                member == r.other_app(ctx.app())
            };
            if !readable {
                return Err(HookError::permission_denied());
            }
            return Ok(self.bag(r.id, member));
        }
        match r.bags.get(member) {
            Some(bag) => Ok(bag.clone()),
            None => Err(HookError::other(format!(
                "cannot read settings for unit {member:?} in relation {:?}: unit {member:?}: settings not found",
                self.relation_key(r.id).unwrap_or_default()
            ))),
        }
    }

    /// `relation-set -r [--app]`: writes the unit's bag, or on the leader its
    /// application's bag (else `cannot write relation settings`); pending
    /// until the hook succeeds. An empty value deletes its key.
    pub fn hook_relation_set(
        &mut self,
        ctx: &HookContext,
        relation: &RelationRef,
        app: bool,
        data: &Bag,
    ) -> HookResult<()> {
        let id = self.hook_relation(ctx, relation)?.id;
        if app && !self.is_leader_unit(&ctx.unit) {
            return Err(HookError::new(
                HookErrorKind::Permission,
                "cannot write relation settings",
            ));
        }
        let member = if app { ctx.app() } else { &ctx.unit }.to_string();
        let pending = self.pending.entry(ctx.unit.clone()).or_default();
        let index = match pending
            .bags
            .iter()
            .position(|b| b.relation == id && b.member == member)
        {
            Some(i) => i,
            None => {
                pending.bags.push(PendingBag {
                    relation: id,
                    member,
                    changes: BTreeMap::new(),
                });
                pending.bags.len() - 1
            }
        };
        for (k, v) in data {
            pending.bags[index]
                .changes
                .insert(k.clone(), (!v.is_empty()).then(|| v.clone()));
        }
        Ok(())
    }

    /// `is-leader`.
    pub fn hook_is_leader(&self, ctx: &HookContext) -> bool {
        self.is_leader_unit(&ctx.unit)
    }

    /// `config-get`: the options that have a value.
    pub fn hook_config_get(&self, ctx: &HookContext) -> serde_json::Map<String, Value> {
        self.config(ctx.app())
    }

    /// `config-get --all`: every declared option, `null` where unset.
    pub fn hook_config_get_all(&self, ctx: &HookContext) -> serde_json::Map<String, Value> {
        let mut all = self.config(ctx.app());
        if let Some(a) = self.apps.get(ctx.app()) {
            for option in &a.config_options {
                all.entry(option.clone()).or_insert(Value::Null);
            }
        }
        all
    }

    /// `status-set`: applies at once, as in Juju; the application's status
    /// only on the leader.
    pub fn hook_status_set(
        &mut self,
        ctx: &HookContext,
        app: bool,
        status: &StatusInfo,
    ) -> HookResult<()> {
        if matches!(status.name, StatusName::Error | StatusName::Unknown) {
            return Err(HookError::usage(format!(
                "invalid status {:?}, expected one of [maintenance blocked waiting active]",
                status.name.as_str()
            )));
        }
        if app {
            if !self.is_leader_unit(&ctx.unit) {
                return Err(HookError::not_leader());
            }
            if let Some(a) = self.apps.get_mut(ctx.app()) {
                a.status = status.clone();
            }
        } else if let Some(u) = self.units.get_mut(&ctx.unit) {
            u.status = status.clone();
        }
        Ok(())
    }

    /// `status-get [--application]`: the unit's status, or (leader only) the
    /// application's.
    pub fn hook_status_get(&self, ctx: &HookContext, app: bool) -> HookResult<StatusInfo> {
        let unknown = || StatusInfo::new(StatusName::Unknown, "");
        if app {
            return Ok(self.hook_app_status(ctx)?.0);
        }
        Ok(self.unit_status(&ctx.unit).cloned().unwrap_or_else(unknown))
    }

    /// `status-get --application` in full: the application's status and its
    /// units' (leader only).
    pub fn hook_app_status(
        &self,
        ctx: &HookContext,
    ) -> HookResult<(StatusInfo, Vec<(String, StatusInfo)>)> {
        if !self.is_leader_unit(&ctx.unit) {
            return Err(HookError::new(
                HookErrorKind::Permission,
                "finding application status: this unit is not the leader",
            ));
        }
        let unknown = || StatusInfo::new(StatusName::Unknown, "");
        let app = self.apps.get(ctx.app());
        let status = app.map(|a| a.status.clone()).unwrap_or_else(unknown);
        let units = app
            .map(|a| {
                a.units
                    .iter()
                    .map(|u| {
                        (
                            u.clone(),
                            self.unit_status(u).cloned().unwrap_or_else(unknown),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok((status, units))
    }

    /// `application-version-set`: applies at once.
    pub fn hook_application_version_set(&mut self, ctx: &HookContext, version: &str) {
        if let Some(a) = self.apps.get_mut(ctx.app()) {
            a.workload_version = version.to_string();
        }
    }

    /// `add-metric`: recorded when the hook succeeds. (Whether the hook may add metrics is
    /// the caller's to check: only `collect-metrics` may, see
    /// [`METRICS_NOT_ALLOWED`](super::METRICS_NOT_ALLOWED).)
    pub fn hook_add_metric(
        &mut self,
        ctx: &HookContext,
        metrics: &[(String, String)],
        labels: &[(String, String)],
    ) {
        if self.units.contains_key(&ctx.unit) {
            let pending = self.pending.entry(ctx.unit.clone()).or_default();
            pending.metrics.push(super::AddedMetrics {
                metrics: metrics.to_vec(),
                labels: labels.to_vec(),
            });
        }
    }

    /// `juju-log --log-level <level>`: recorded at once.
    pub fn hook_juju_log(&mut self, ctx: &HookContext, level: LogLevel, message: &str) {
        self.push_log(ctx, level.as_str(), message);
    }

    pub(crate) fn push_log(&mut self, ctx: &HookContext, level: &str, message: &str) {
        self.logs.push(LogRecord {
            unit: ctx.unit.clone(),
            level: level.to_string(),
            message: message.to_string(),
        });
    }

    /// `state-get`: the committed state plus this hook's pending writes.
    pub fn hook_state_get(&self, ctx: &HookContext) -> Bag {
        let mut state = self
            .units
            .get(&ctx.unit)
            .map(|u| u.state.clone())
            .unwrap_or_default();
        if let Some(pending) = self.pending.get(&ctx.unit) {
            apply(&mut state, &pending.state);
        }
        state
    }

    /// `state-set`: pending until the hook succeeds. Unlike relation data, an
    /// empty value is stored (Juju deletes only with `state-delete`). A key
    /// over [`MAX_STATE_KEY`] bytes or a value over [`MAX_STATE_VALUE`] bytes
    /// is refused with the message of Juju 3's quota check (Juju 4 adds
    /// ` quota limit exceeded`), and then nothing of `data` is set. Like
    /// Juju, `state-get` and `state-delete` check no size.
    pub fn hook_state_set(&mut self, ctx: &HookContext, data: &Bag) -> HookResult<()> {
        for (key, value) in data {
            if key.len() > MAX_STATE_KEY {
                return Err(HookError::other(format!(
                    "max allowed key length ({MAX_STATE_KEY}) exceeded"
                )));
            }
            if value.len() > MAX_STATE_VALUE {
                return Err(HookError::other(format!(
                    "max allowed value length ({MAX_STATE_VALUE}) exceeded"
                )));
            }
        }
        let pending = self.pending.entry(ctx.unit.clone()).or_default();
        for (k, v) in data {
            pending.state.insert(k.clone(), Some(v.clone()));
        }
        Ok(())
    }

    /// `state-delete`: pending until the hook succeeds.
    pub fn hook_state_delete(&mut self, ctx: &HookContext, key: &str) {
        self.pending
            .entry(ctx.unit.clone())
            .or_default()
            .state
            .insert(key.to_string(), None);
    }

    /// `leader-get`: the application's leadership settings.
    pub fn hook_leader_get(&self, ctx: &HookContext) -> Bag {
        self.apps
            .get(ctx.app())
            .map(|a| a.leader_settings.clone())
            .unwrap_or_default()
    }

    /// `leader-set`: leader only, applies at once; an empty value deletes.
    pub fn hook_leader_set(&mut self, ctx: &HookContext, data: &Bag) -> HookResult<()> {
        if !self.is_leader_unit(&ctx.unit) {
            return Err(HookError::new(
                HookErrorKind::Permission,
                "cannot write leadership settings: cannot write settings: not the leader",
            ));
        }
        if let Some(a) = self.apps.get_mut(ctx.app()) {
            for (k, v) in data {
                if v.is_empty() {
                    a.leader_settings.remove(k);
                } else {
                    a.leader_settings.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(())
    }

    /// `open-port`: pending until the hook succeeds.
    pub fn hook_open_port(&mut self, ctx: &HookContext, port: &PortRange) {
        let pending = self.pending.entry(ctx.unit.clone()).or_default();
        pending.ports.push((port.clone(), true));
    }

    /// `close-port`: pending until the hook succeeds.
    pub fn hook_close_port(&mut self, ctx: &HookContext, port: &PortRange) {
        let pending = self.pending.entry(ctx.unit.clone()).or_default();
        pending.ports.push((port.clone(), false));
    }

    /// `opened-ports`: as committed (Juju does not show this hook's requests).
    pub fn hook_opened_ports(&self, ctx: &HookContext) -> Vec<PortRange> {
        self.opened_ports(&ctx.unit)
    }

    /// `network-get <binding>`: the unit's address (by default from the
    /// loopback range 127.0.2.0/24: a test never reaches outside the machine), in Juju's JSON form.
    pub fn hook_network_get(&self, ctx: &HookContext, binding: &str) -> HookResult<Value> {
        let known = binding == "juju-info"
            || self.apps.get(ctx.app()).is_some_and(|a| {
                a.endpoints.contains_key(binding) || a.extra_bindings.contains(binding)
            });
        let address = self
            .units
            .get(&ctx.unit)
            .map(|u| u.address.clone())
            .filter(|a| !a.is_empty());
        let (true, Some(address)) = (known, address) else {
            return Err(HookError::other(format!(
                "no network config found for binding {binding:?}"
            )));
        };
        let cidr = match address.rsplit_once('.') {
            Some((net, _)) if address.parse::<std::net::Ipv4Addr>().is_ok() => {
                format!("{net}.0/24")
            }
            _ => format!("{address}/128"),
        };
        Ok(json!({
            "bind-addresses": [{
                "mac-address": "",
                "interface-name": "eth0",
                "addresses": [{"hostname": "", "value": address, "cidr": cidr}],
            }],
            "egress-subnets": [format!("{address}/32")],
            "ingress-addresses": [address],
        }))
    }

    /// `goal-state`: the application's units and, per endpoint, the related
    /// applications and units, with their status.
    pub fn hook_goal_state(&self, ctx: &HookContext) -> Value {
        let since = crate::formats::format_rfc3339(std::time::SystemTime::now(), false);
        let goal = |status: &str| json!({"status": status, "since": since});
        let mut units = serde_json::Map::new();
        if let Some(a) = self.apps.get(ctx.app()) {
            for u in &a.units {
                let status = match self.unit_status(u).map(|s| s.name) {
                    None | Some(StatusName::Unknown) => "waiting",
                    Some(name) => name.as_str(),
                };
                units.insert(u.clone(), goal(status));
            }
        }
        let mut relations = serde_json::Map::new();
        for r in self.relations.values() {
            let Some(endpoint) = r.endpoint_of(ctx.app()) else {
                continue;
            };
            let other = r.other_app(ctx.app());
            let entry = relations
                .entry(endpoint.to_string())
                .or_insert_with(|| json!({}));
            entry[other] = goal("joined");
            for u in r
                .joined
                .iter()
                .filter(|u| app_of(u) == other && **u != ctx.unit)
            {
                entry[u.as_str()] = goal("joined");
            }
        }
        json!({"units": units, "relations": relations})
    }

    /// `resource-get <name>`: the path of the resource's file.
    pub fn hook_resource_get(&self, ctx: &HookContext, name: &str) -> HookResult<String> {
        self.apps
            .get(ctx.app())
            .and_then(|a| a.resources.get(name))
            .cloned()
            .ok_or_else(|| {
                HookError::other(format!(
                    "could not download resource: resource#{}/{name} not found",
                    ctx.app()
                ))
            })
    }

    /// `credential-get`: the cloud spec, for a trusted application only.
    pub fn hook_credential_get(&self, ctx: &HookContext) -> HookResult<Value> {
        let trusted = self.apps.get(ctx.app()).is_some_and(|a| a.trusted);
        match (&self.cloud_spec, trusted) {
            (Some(spec), true) => Ok(spec.clone()),
            _ => Err(HookError::new(
                HookErrorKind::Permission,
                "cannot access cloud credentials: permission denied",
            )),
        }
    }

    /// `juju-reboot`: recorded on the unit.
    pub fn hook_reboot(&mut self, ctx: &HookContext) {
        if let Some(u) = self.units.get_mut(&ctx.unit) {
            u.reboot_requested = true;
        }
    }

    fn running_action(&self, ctx: &HookContext) -> HookResult<&super::ActionState> {
        self.units
            .get(&ctx.unit)
            .and_then(|u| u.action.as_ref())
            .filter(|a| a.running)
            .ok_or_else(HookError::not_in_action)
    }

    fn running_action_mut(&mut self, ctx: &HookContext) -> HookResult<&mut super::ActionState> {
        self.units
            .get_mut(&ctx.unit)
            .and_then(|u| u.action.as_mut())
            .filter(|a| a.running)
            .ok_or_else(HookError::not_in_action)
    }

    /// `action-get`: the running action's parameters.
    pub fn hook_action_get(&self, ctx: &HookContext) -> HookResult<serde_json::Map<String, Value>> {
        Ok(self.running_action(ctx)?.params.clone())
    }

    /// `action-set k=v...`: adds results; keys are dot-separated parts of
    /// lowercase letters, digits and dashes, and Juju reserves a few.
    pub fn hook_action_set(&mut self, ctx: &HookContext, results: &Bag) -> HookResult<()> {
        for key in results.keys() {
            for part in key.split('.') {
                let valid = !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-');
                if !valid {
                    return Err(HookError::usage(format!(
                        "key {part:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods"
                    )));
                }
                if ["stdout", "stdout-encoding", "stderr", "stderr-encoding"].contains(&part) {
                    return Err(HookError::usage(format!(
                        "cannot set reserved action key \"{part}\""
                    )));
                }
            }
        }
        self.running_action_mut(ctx)?
            .results
            .extend(results.clone());
        Ok(())
    }

    /// `action-fail [message]`: marks the running action failed.
    pub fn hook_action_fail(&mut self, ctx: &HookContext, message: &str) -> HookResult<()> {
        self.running_action_mut(ctx)?.failure = Some(message.to_string());
        Ok(())
    }

    /// `action-log <message>`: a progress line of the running action.
    pub fn hook_action_log(&mut self, ctx: &HookContext, message: &str) -> HookResult<()> {
        self.running_action_mut(ctx)?.log.push(message.to_string());
        Ok(())
    }
}
