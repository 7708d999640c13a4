//! What a unit's hook tools may do, with Juju's rules and error messages.

use std::collections::BTreeMap;

use ops::backend::{
    LogLevel, OpenedPort, RelationRef, SecretAddArgs, SecretInfo, SecretSetArgs, StatusInfo,
    StatusName,
};
use serde::{Deserialize, Serialize};

use super::{FakeJuju, LogRecord, PendingBag, app_of, state::Bag};

/// Who is running a hook, and about what.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HookContext {
    /// The unit running the hook.
    pub unit: String,
    /// The hook's relation, for relation hooks.
    pub relation: Option<RelationRef>,
    /// The remote unit, for relation hooks.
    pub remote_unit: Option<String>,
    /// The remote application, for relation hooks.
    pub remote_app: Option<String>,
    /// The departing unit, in relation-departed.
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

    fn app(&self) -> &str {
        app_of(&self.unit)
    }
}

/// The kind of a hook-tool failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookErrorKind {
    /// A relation that is not there.
    RelationNotFound,
    /// Access refused (not leader, another unit's bag, ...).
    Permission,
    /// A secret that is not there.
    SecretNotFound,
    /// Bad arguments.
    Usage,
    /// Anything else.
    Other,
}

/// A hook tool's failure: Juju's message (what follows `ERROR `) and its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HookError {
    /// Juju's message.
    pub message: String,
    /// Its kind.
    pub kind: HookErrorKind,
}

impl HookError {
    fn new(kind: HookErrorKind, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind,
        }
    }

    fn relation_not_found(relation: &str) -> Self {
        Self::new(
            HookErrorKind::RelationNotFound,
            format!("invalid value {relation:?} for option -r: relation not found"),
        )
    }

    fn not_leader() -> Self {
        Self::new(HookErrorKind::Permission, "this unit is not the leader")
    }

    fn secret_not_found() -> Self {
        Self::new(HookErrorKind::SecretNotFound, "secret not found")
    }
}

/// What a finished hook changed, so that the other units can be told.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookChanges {
    /// (relation id, member) of every databag whose committed content changed.
    pub changed_bags: Vec<(u32, String)>,
}

type HookResult<T> = Result<T, HookError>;

impl FakeJuju {
    /// Starts a hook: forgets writes left by an earlier hook that never ended.
    pub fn begin_hook(&mut self, ctx: &HookContext) {
        self.pending.remove(&ctx.unit);
    }

    /// Ends a hook: applies its relation and state writes if it succeeded,
    /// drops them otherwise, as Juju does.
    pub fn end_hook(&mut self, unit: &str, success: bool) -> HookChanges {
        let Some(pending) = self.pending.remove(unit) else {
            return HookChanges::default();
        };
        let mut changes = HookChanges::default();
        if !success {
            return changes;
        }
        for bag in pending.bags {
            let Some(relation) = self.relations.get_mut(&bag.relation) else {
                continue;
            };
            let stored = relation.bags.entry(bag.member.clone()).or_default();
            let before = stored.clone();
            for (k, v) in bag.changes {
                match v {
                    Some(v) => stored.insert(k, v),
                    None => stored.remove(&k),
                };
            }
            if *stored != before {
                changes.changed_bags.push((bag.relation, bag.member));
            }
        }
        if let Some(state) = self.units.get_mut(unit) {
            for (k, v) in pending.state {
                match v {
                    Some(v) => state.state.insert(k, v),
                    None => state.state.remove(&k),
                };
            }
        }
        changes
    }

    fn is_leader_unit(&self, unit: &str) -> bool {
        self.leader(app_of(unit)) == Some(unit)
    }

    /// The relation `-r` names, as seen by the hook's unit.
    fn hook_relation(
        &self,
        ctx: &HookContext,
        relation: &RelationRef,
    ) -> HookResult<&super::RelationState> {
        let shown = relation.to_string();
        let r = self
            .relations
            .get(&relation.id)
            .ok_or_else(|| HookError::relation_not_found(&shown))?;
        match r.endpoint_of(ctx.app()) {
            Some(endpoint) if endpoint == relation.name || relation.name.is_empty() => Ok(r),
            _ => Err(HookError::relation_not_found(&shown)),
        }
    }

    /// `relation-ids <endpoint>`.
    pub fn hook_relation_ids(
        &self,
        ctx: &HookContext,
        endpoint: &str,
    ) -> HookResult<Vec<RelationRef>> {
        Ok(self
            .relations_of(ctx.app(), endpoint)
            .into_iter()
            .map(|id| RelationRef::new(endpoint, id))
            .collect())
    }

    /// `relation-list -r`: the remote units that have joined.
    pub fn hook_relation_list(
        &self,
        ctx: &HookContext,
        relation: &RelationRef,
    ) -> HookResult<Vec<String>> {
        let r = self.hook_relation(ctx, relation)?;
        let other = r.other_app(ctx.app());
        Ok(r.joined
            .iter()
            .filter(|u| {
                app_of(u) == other && **u != ctx.unit && ctx.departing_unit.as_ref() != Some(*u)
            })
            .cloned()
            .collect())
    }

    /// `relation-list -r --app`: the remote application.
    pub fn hook_relation_remote_app(
        &self,
        ctx: &HookContext,
        relation: &RelationRef,
    ) -> HookResult<String> {
        let r = self.hook_relation(ctx, relation)?;
        Ok(r.other_app(ctx.app()).to_string())
    }

    fn view(&self, ctx: &HookContext, relation: u32, member: &str) -> Bag {
        let mut bag = self.bag(relation, member);
        if let Some(pending) = self.pending.get(&ctx.unit) {
            for p in pending
                .bags
                .iter()
                .filter(|p| p.relation == relation && p.member == member)
            {
                for (k, v) in &p.changes {
                    match v {
                        Some(v) => bag.insert(k.clone(), v.clone()),
                        None => bag.remove(k),
                    };
                }
            }
        }
        bag
    }

    /// `relation-get -r [--app] - <member>`, with Juju's read rules.
    pub fn hook_relation_get(
        &self,
        ctx: &HookContext,
        relation: &RelationRef,
        member: &str,
        app: bool,
    ) -> HookResult<Bag> {
        let r = self.hook_relation(ctx, relation)?;
        if app {
            if member == ctx.app() && !r.is_peer() && !self.is_leader_unit(&ctx.unit) {
                return Err(HookError::new(
                    HookErrorKind::Permission,
                    "permission denied",
                ));
            }
            if member != r.app && member != r.remote_app {
                return Err(HookError::new(
                    HookErrorKind::Permission,
                    "permission denied",
                ));
            }
        } else if !r.bags.contains_key(member) && member != ctx.unit {
            return Err(HookError::new(
                HookErrorKind::Other,
                format!(
                    "cannot read settings for unit {member:?} in relation {relation:?}: unit {member:?}: settings not found",
                    relation = relation.to_string()
                ),
            ));
        }
        Ok(self.view(ctx, relation.id, member))
    }

    /// `relation-set -r [--app] --file -`: pending until the hook succeeds.
    pub fn hook_relation_set(
        &mut self,
        ctx: &HookContext,
        relation: &RelationRef,
        app: bool,
        data: &Bag,
    ) -> HookResult<()> {
        self.hook_relation(ctx, relation)?;
        if app && !self.is_leader_unit(&ctx.unit) {
            return Err(HookError::new(
                HookErrorKind::Permission,
                "cannot write relation settings",
            ));
        }
        let member = if app {
            ctx.app().to_string()
        } else {
            ctx.unit.clone()
        };
        let pending = self.pending.entry(ctx.unit.clone()).or_default();
        let index = match pending
            .bags
            .iter()
            .position(|b| b.relation == relation.id && b.member == member)
        {
            Some(i) => i,
            None => {
                pending.bags.push(PendingBag {
                    relation: relation.id,
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

    /// `config-get`.
    pub fn hook_config_get(&self, ctx: &HookContext) -> serde_json::Map<String, serde_json::Value> {
        self.config(ctx.app())
    }

    /// `status-set`: immediate, as in Juju; the app status only by the leader.
    pub fn hook_status_set(
        &mut self,
        ctx: &HookContext,
        app: bool,
        status: &StatusInfo,
    ) -> HookResult<()> {
        if status.name == StatusName::Error || status.name == StatusName::Unknown {
            return Err(HookError::new(
                HookErrorKind::Usage,
                format!(
                    "invalid status {:?}, expected one of [maintenance blocked waiting active]",
                    status.name.as_str()
                ),
            ));
        }
        if app {
            if !self.is_leader_unit(&ctx.unit) {
                return Err(HookError::not_leader());
            }
            if let Some(a) = self.apps.get_mut(app_of(&ctx.unit)) {
                a.status = status.clone();
            }
        } else if let Some(u) = self.units.get_mut(&ctx.unit) {
            u.status = status.clone();
        }
        Ok(())
    }

    /// `status-get`.
    pub fn hook_status_get(&self, ctx: &HookContext, app: bool) -> HookResult<StatusInfo> {
        if app {
            if !self.is_leader_unit(&ctx.unit) {
                return Err(HookError::not_leader());
            }
            return Ok(self
                .app_status(ctx.app())
                .cloned()
                .unwrap_or_else(|| StatusInfo::new(StatusName::Unknown, "")));
        }
        Ok(self
            .unit_status(&ctx.unit)
            .cloned()
            .unwrap_or_else(|| StatusInfo::new(StatusName::Unknown, "")))
    }

    /// `application-version-set`.
    pub fn hook_application_version_set(&mut self, ctx: &HookContext, version: &str) {
        if let Some(a) = self.apps.get_mut(app_of(&ctx.unit)) {
            a.workload_version = version.to_string();
        }
    }

    /// `juju-log`.
    pub fn hook_juju_log(&mut self, ctx: &HookContext, level: LogLevel, message: &str) {
        self.logs.push(LogRecord {
            unit: ctx.unit.clone(),
            level: level.as_str().to_string(),
            message: message.to_string(),
        });
    }

    /// `state-get`: committed state plus this hook's pending writes.
    pub fn hook_state_get(&self, ctx: &HookContext) -> Bag {
        let mut state = self
            .units
            .get(&ctx.unit)
            .map(|u| u.state.clone())
            .unwrap_or_default();
        if let Some(pending) = self.pending.get(&ctx.unit) {
            for (k, v) in &pending.state {
                match v {
                    Some(v) => state.insert(k.clone(), v.clone()),
                    None => state.remove(k),
                };
            }
        }
        state
    }

    /// `state-set`: pending until the hook succeeds.
    pub fn hook_state_set(&mut self, ctx: &HookContext, data: &Bag) {
        let pending = self.pending.entry(ctx.unit.clone()).or_default();
        for (k, v) in data {
            pending
                .state
                .insert(k.clone(), (!v.is_empty()).then(|| v.clone()));
        }
    }

    /// `state-delete`: pending until the hook succeeds.
    pub fn hook_state_delete(&mut self, ctx: &HookContext, key: &str) {
        self.pending
            .entry(ctx.unit.clone())
            .or_default()
            .state
            .insert(key.to_string(), None);
    }

    fn owns(&self, ctx: &HookContext, owner: &str) -> bool {
        owner == ctx.unit || (owner == ctx.app() && self.is_leader_unit(&ctx.unit))
    }

    fn find_secret(
        &self,
        ctx: &HookContext,
        id: Option<&str>,
        label: Option<&str>,
    ) -> HookResult<String> {
        if let Some(id) = id {
            let bare = id.rsplit('/').next().unwrap_or(id);
            let found = self.secrets.keys().find(|k| *k == id || k.ends_with(bare));
            return found.cloned().ok_or_else(HookError::secret_not_found);
        }
        let label = label.unwrap_or_default();
        self.secrets
            .values()
            .find(|s| {
                (s.label.as_deref() == Some(label) && (s.owner == ctx.unit || s.owner == ctx.app()))
                    || s.consumer_labels.get(&ctx.unit).map(String::as_str) == Some(label)
            })
            .map(|s| s.id.clone())
            .ok_or_else(HookError::secret_not_found)
    }

    fn can_view(&self, ctx: &HookContext, id: &str) -> bool {
        let Some(s) = self.secrets.get(id) else {
            return false;
        };
        if s.owner == ctx.unit || s.owner == ctx.app() {
            return true;
        }
        s.grants.iter().any(|(relation, unit)| {
            let in_relation = self
                .relations
                .get(relation)
                .is_some_and(|r| r.endpoint_of(ctx.app()).is_some());
            in_relation && unit.as_ref().is_none_or(|u| *u == ctx.unit)
        })
    }

    /// `secret-add`.
    pub fn hook_secret_add(
        &mut self,
        ctx: &HookContext,
        args: &SecretAddArgs,
    ) -> HookResult<String> {
        let owner = match args.owner {
            ops::backend::SecretOwner::Application => {
                if !self.is_leader_unit(&ctx.unit) {
                    return Err(HookError::not_leader());
                }
                ctx.app().to_string()
            }
            ops::backend::SecretOwner::Unit => ctx.unit.clone(),
        };
        if args.content.is_empty() {
            return Err(HookError::new(HookErrorKind::Usage, "missing secret value"));
        }
        let id = self.add_secret(&owner, args.content.clone(), args.label.as_deref());
        if let Some(s) = self.secrets.get_mut(&id) {
            s.description = args.description.clone();
            s.expire = args.expire.clone();
            s.rotate = args.rotate.clone();
        }
        Ok(id)
    }

    /// `secret-get`.
    pub fn hook_secret_get(
        &mut self,
        ctx: &HookContext,
        id: Option<&str>,
        label: Option<&str>,
        refresh: bool,
        peek: bool,
    ) -> HookResult<Bag> {
        let found = self.find_secret(ctx, id, label)?;
        if !self.can_view(ctx, &found) {
            return Err(HookError::secret_not_found());
        }
        let s = self
            .secrets
            .get_mut(&found)
            .ok_or_else(HookError::secret_not_found)?;
        let latest = s.latest();
        let is_owner = s.owner == ctx.unit || s.owner == app_of(&ctx.unit);
        if let (Some(label), Some(_), false) = (label, id, is_owner) {
            s.consumer_labels
                .insert(ctx.unit.clone(), label.to_string());
        }
        let revision = if is_owner || peek {
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

    /// `secret-info-get` (owners only).
    pub fn hook_secret_info_get(
        &self,
        ctx: &HookContext,
        id: Option<&str>,
        label: Option<&str>,
    ) -> HookResult<SecretInfo> {
        let found = self.find_secret(ctx, id, label)?;
        let s = &self.secrets[&found];
        if !(s.owner == ctx.unit || s.owner == ctx.app()) {
            return Err(HookError::secret_not_found());
        }
        Ok(SecretInfo {
            id: s.id.clone(),
            label: s.label.clone(),
            description: s.description.clone(),
            revision: s.latest(),
            rotation: s.rotate.clone(),
            expiry: s.expire.clone(),
            owner: Some(s.owner_kind.clone()),
        })
    }

    fn owned_secret(&mut self, ctx: &HookContext, id: &str) -> HookResult<&mut super::SecretState> {
        let found = self.find_secret(ctx, Some(id), None)?;
        let owner = self.secrets[&found].owner.clone();
        if !(owner == ctx.unit || owner == ctx.app()) {
            return Err(HookError::secret_not_found());
        }
        if !self.owns(ctx, &owner) {
            return Err(HookError::not_leader());
        }
        self.secrets
            .get_mut(&found)
            .ok_or_else(HookError::secret_not_found)
    }

    /// `secret-set`.
    pub fn hook_secret_set(
        &mut self,
        ctx: &HookContext,
        id: &str,
        args: &SecretSetArgs,
    ) -> HookResult<()> {
        let s = self.owned_secret(ctx, id)?;
        if let Some(content) = &args.content {
            let next = s.latest() + 1;
            s.revisions.insert(next, content.clone());
        }
        if args.label.is_some() {
            s.label = args.label.clone();
        }
        if args.description.is_some() {
            s.description = args.description.clone();
        }
        if args.expire.is_some() {
            s.expire = args.expire.clone();
        }
        if args.rotate.is_some() {
            s.rotate = args.rotate.clone();
        }
        Ok(())
    }

    /// `secret-grant`.
    pub fn hook_secret_grant(
        &mut self,
        ctx: &HookContext,
        id: &str,
        relation: u32,
        unit: Option<&str>,
    ) -> HookResult<()> {
        if !self.relations.contains_key(&relation) {
            return Err(HookError::relation_not_found(&relation.to_string()));
        }
        self.owned_secret(ctx, id)?
            .grants
            .insert(relation, unit.map(str::to_string));
        Ok(())
    }

    /// `secret-revoke`.
    pub fn hook_secret_revoke(
        &mut self,
        ctx: &HookContext,
        id: &str,
        relation: u32,
        _unit: Option<&str>,
    ) -> HookResult<()> {
        self.owned_secret(ctx, id)?.grants.remove(&relation);
        Ok(())
    }

    /// `secret-remove`.
    pub fn hook_secret_remove(
        &mut self,
        ctx: &HookContext,
        id: &str,
        revision: Option<u64>,
    ) -> HookResult<()> {
        let found = self.owned_secret(ctx, id)?.id.clone();
        match revision {
            Some(rev) => {
                if let Some(s) = self.secrets.get_mut(&found) {
                    s.revisions.remove(&rev);
                }
            }
            None => {
                self.secrets.remove(&found);
            }
        }
        Ok(())
    }

    /// `open-port`.
    pub fn hook_open_port(&mut self, ctx: &HookContext, port: &OpenedPort) {
        if let Some(u) = self.units.get_mut(&ctx.unit) {
            u.ports.insert(*port);
        }
    }

    /// `close-port`.
    pub fn hook_close_port(&mut self, ctx: &HookContext, port: &OpenedPort) {
        if let Some(u) = self.units.get_mut(&ctx.unit) {
            u.ports.remove(port);
        }
    }

    /// `opened-ports`.
    pub fn hook_opened_ports(&self, ctx: &HookContext) -> Vec<OpenedPort> {
        self.units
            .get(&ctx.unit)
            .map(|u| u.ports.iter().copied().collect())
            .unwrap_or_default()
    }

    /// `network-get`: an address from the documentation range (never contacted).
    pub fn hook_network_get(
        &self,
        ctx: &HookContext,
        binding: &str,
    ) -> HookResult<serde_json::Value> {
        let known = binding == "juju-info"
            || self
                .apps
                .get(ctx.app())
                .is_some_and(|a| a.endpoints.contains_key(binding));
        if !known {
            return Err(HookError::new(
                HookErrorKind::Other,
                format!("no network config found for binding {binding:?}"),
            ));
        }
        let n = ctx
            .unit
            .rsplit('/')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
            % 250
            + 2;
        let address = format!("192.0.2.{n}");
        Ok(serde_json::json!({
            "bind-addresses": [{"mac-address": "", "interface-name": "eth0",
                "addresses": [{"hostname": "", "value": address, "cidr": "192.0.2.0/24"}]}],
            "egress-subnets": ["192.0.2.0/24"],
            "ingress-addresses": [address],
        }))
    }

    /// `goal-state`.
    pub fn hook_goal_state(&self, ctx: &HookContext) -> serde_json::Value {
        let units: serde_json::Map<String, serde_json::Value> = self
            .apps
            .get(ctx.app())
            .map(|a| {
                a.units
                    .iter()
                    .map(|u| {
                        (
                            u.clone(),
                            serde_json::json!({"status": "active", "since": ""}),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!({"units": units, "relations": {}})
    }

    /// `resource-get`.
    pub fn hook_resource_get(&self, ctx: &HookContext, name: &str) -> HookResult<String> {
        self.apps
            .get(ctx.app())
            .and_then(|a| a.resources.get(name))
            .cloned()
            .ok_or_else(|| {
                HookError::new(
                    HookErrorKind::Other,
                    format!(
                        "could not download resource: resource#{}/{name} not found",
                        ctx.app()
                    ),
                )
            })
    }

    fn action_mut(&mut self, ctx: &HookContext) -> HookResult<&mut super::ActionState> {
        self.units
            .get_mut(&ctx.unit)
            .and_then(|u| u.action.as_mut())
            .ok_or_else(|| HookError::new(HookErrorKind::Other, "not running an action"))
    }

    /// `action-get`.
    pub fn hook_action_get(
        &mut self,
        ctx: &HookContext,
    ) -> HookResult<serde_json::Map<String, serde_json::Value>> {
        Ok(self.action_mut(ctx)?.params.clone())
    }

    /// `action-set`.
    pub fn hook_action_set(&mut self, ctx: &HookContext, results: &Bag) -> HookResult<()> {
        self.action_mut(ctx)?.results.extend(results.clone());
        Ok(())
    }

    /// `action-fail`.
    pub fn hook_action_fail(&mut self, ctx: &HookContext, message: &str) -> HookResult<()> {
        self.action_mut(ctx)?.failure = Some(message.to_string());
        Ok(())
    }

    /// `action-log`.
    pub fn hook_action_log(&mut self, ctx: &HookContext, message: &str) -> HookResult<()> {
        self.action_mut(ctx)?.log.push(message.to_string());
        Ok(())
    }
}
