//! From a [`State`] to a fake model and fake Pebbles, one real
//! `ops::dispatch` over them, and back to a [`State`].
//!
//! The pieces are the Harness's: a [`FakeJuju`] behind [`FakeTools`](crate::fake_juju::FakeTools),
//! one [`FakePebble`] per container that can connect, on a real unix socket
//! over a directory. Persisted state (stored state, deferred notices) is
//! kept in memory instead of `.unit-state.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ops::backend::{
    Backend, CloudSpec, HookTools, LogLevel, OpenedPort, RelationRef, Result as BackendResult,
    SecretAddArgs, SecretInfo, SecretSetArgs, StatusInfo, StringMap,
};
use ops::pebble::ServiceStatus;
use ops::storage::{JujuStateStore, Notice, PersistedState, STATE_FORMAT, StateStore};
use ops::{CharmMeta, Status};

use super::events::{Event, EventKind};
use super::state::{Container, File, Grant, RelationKind, Secret, SecretOwner, State, StoredState};
use crate::fake_juju::{
    Bag, FakeJuju, FakeTools, HookContext, RelationState, SecretGrant, SecretState, UnitState,
};
use crate::fake_pebble::{ExecArgs, FakePebble, ServiceEvent};
use crate::invocation::event_vars;

pub(crate) use crate::memory_store::MemoryStore;

/// One status change, as the charm made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The application's status (else the unit's).
    pub app: bool,
    /// The status set.
    pub status: Status,
}

/// The charm's hook tools (`ops`' `HookTools` over the fake's), recording every status change, workload version and
/// storage request in order (the model keeps only the last), and
/// answering `network-get` and `relation-model-get` from the state where
/// it says more than the model holds.
pub(crate) struct Recording {
    inner: HookTools,
    statuses: Mutex<Vec<StatusChange>>,
    /// The workload version before each `application-version-set`
    /// (unset ones left out).
    versions: Mutex<(String, Vec<String>)>,
    storage_requests: Mutex<BTreeMap<String, u32>>,
    networks: BTreeMap<String, serde_json::Value>,
    remote_models: BTreeMap<u32, String>,
}

impl Recording {
    pub(crate) fn new(inner: HookTools, state: &State) -> Self {
        Self {
            inner,
            statuses: Mutex::new(Vec::new()),
            versions: Mutex::new((state.workload_version.clone(), Vec::new())),
            storage_requests: Mutex::new(BTreeMap::new()),
            networks: state
                .networks
                .iter()
                .map(|(binding, n)| (binding.clone(), n.to_json()))
                .collect(),
            remote_models: state
                .relations
                .iter()
                .filter_map(|r| Some((r.id, r.remote_model_uuid.clone()?)))
                .collect(),
        }
    }

    pub(crate) fn statuses(&self) -> Vec<StatusChange> {
        self.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn version_history(&self) -> Vec<String> {
        self.versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    pub(crate) fn storage_requests(&self) -> BTreeMap<String, u32> {
        self.storage_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Backend for Recording {
    fn relation_ids(&self, endpoint: &str) -> BackendResult<Vec<RelationRef>> {
        self.inner.relation_ids(endpoint)
    }
    fn relation_list(&self, relation: &RelationRef) -> BackendResult<Vec<String>> {
        self.inner.relation_list(relation)
    }
    fn relation_remote_app(&self, relation: &RelationRef) -> BackendResult<Option<String>> {
        self.inner.relation_remote_app(relation)
    }
    fn relation_get(
        &self,
        relation: &RelationRef,
        member: &str,
        app: bool,
    ) -> BackendResult<StringMap> {
        self.inner.relation_get(relation, member, app)
    }
    fn relation_set(
        &self,
        relation: &RelationRef,
        app: bool,
        data: &StringMap,
    ) -> BackendResult<()> {
        self.inner.relation_set(relation, app, data)
    }
    fn is_leader(&self) -> BackendResult<bool> {
        self.inner.is_leader()
    }
    fn config_get(&self) -> BackendResult<serde_json::Map<String, serde_json::Value>> {
        self.inner.config_get()
    }
    fn status_set(&self, app: bool, status: &StatusInfo) -> BackendResult<()> {
        self.inner.status_set(app, status)?;
        self.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(StatusChange {
                app,
                status: Status::from(status.clone()),
            });
        Ok(())
    }
    fn status_get(&self, app: bool) -> BackendResult<StatusInfo> {
        self.inner.status_get(app)
    }
    fn application_version_set(&self, version: &str) -> BackendResult<()> {
        self.inner.application_version_set(version)?;
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let previous = std::mem::replace(&mut versions.0, version.to_string());
        if !previous.is_empty() {
            versions.1.push(previous);
        }
        Ok(())
    }
    fn add_metric(
        &self,
        metrics: &[(String, String)],
        labels: &[(String, String)],
    ) -> BackendResult<()> {
        self.inner.add_metric(metrics, labels)
    }
    fn juju_log(&self, level: LogLevel, message: &str) -> BackendResult<()> {
        self.inner.juju_log(level, message)
    }
    fn state_get(&self) -> BackendResult<StringMap> {
        self.inner.state_get()
    }
    fn state_set(&self, data: &StringMap) -> BackendResult<()> {
        self.inner.state_set(data)
    }
    fn state_delete(&self, key: &str) -> BackendResult<()> {
        self.inner.state_delete(key)
    }
    fn secret_add(&self, args: &SecretAddArgs) -> BackendResult<String> {
        self.inner.secret_add(args)
    }
    fn secret_get(
        &self,
        id: Option<&str>,
        label: Option<&str>,
        refresh: bool,
        peek: bool,
    ) -> BackendResult<StringMap> {
        self.inner.secret_get(id, label, refresh, peek)
    }
    fn secret_info_get(&self, id: Option<&str>, label: Option<&str>) -> BackendResult<SecretInfo> {
        self.inner.secret_info_get(id, label)
    }
    fn secret_set(&self, id: &str, args: &SecretSetArgs) -> BackendResult<()> {
        self.inner.secret_set(id, args)
    }
    fn secret_grant(&self, id: &str, relation_id: u32, unit: Option<&str>) -> BackendResult<()> {
        self.inner.secret_grant(id, relation_id, unit)
    }
    fn secret_revoke(&self, id: &str, relation_id: u32, unit: Option<&str>) -> BackendResult<()> {
        self.inner.secret_revoke(id, relation_id, unit)
    }
    fn secret_remove(&self, id: &str, revision: Option<u64>) -> BackendResult<()> {
        self.inner.secret_remove(id, revision)
    }
    fn open_port(&self, port: &OpenedPort, endpoints: &[String]) -> BackendResult<()> {
        self.inner.open_port(port, endpoints)
    }
    fn close_port(&self, port: &OpenedPort, endpoints: &[String]) -> BackendResult<()> {
        self.inner.close_port(port, endpoints)
    }
    fn opened_ports(&self) -> BackendResult<Vec<OpenedPort>> {
        self.inner.opened_ports()
    }
    fn network_get(
        &self,
        binding: &str,
        relation_id: Option<u32>,
    ) -> BackendResult<serde_json::Value> {
        // The model's answer first: it refuses unknown bindings and relations.
        let answer = self.inner.network_get(binding, relation_id)?;
        Ok(self.networks.get(binding).cloned().unwrap_or(answer))
    }
    fn credential_get(&self) -> BackendResult<CloudSpec> {
        self.inner.credential_get()
    }
    fn secret_ids(&self) -> BackendResult<Vec<String>> {
        self.inner.secret_ids()
    }
    fn juju_reboot(&self, now: bool) -> BackendResult<()> {
        self.inner.juju_reboot(now)
    }
    fn relation_model_get(&self, relation: &RelationRef) -> BackendResult<String> {
        let local = self.inner.relation_model_get(relation)?;
        Ok(self
            .remote_models
            .get(&relation.id)
            .cloned()
            .unwrap_or(local))
    }
    fn storage_list(&self, name: Option<&str>) -> BackendResult<Vec<String>> {
        self.inner.storage_list(name)
    }
    fn storage_get_location(&self, id: &str) -> BackendResult<PathBuf> {
        self.inner.storage_get_location(id)
    }
    fn storage_add(&self, name: &str, count: u32) -> BackendResult<()> {
        self.inner.storage_add(name, count)?;
        *self
            .storage_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default() += count;
        Ok(())
    }
    fn goal_state(&self) -> BackendResult<serde_json::Value> {
        self.inner.goal_state()
    }
    fn resource_get(&self, name: &str) -> BackendResult<PathBuf> {
        self.inner.resource_get(name)
    }
    fn action_get(&self) -> BackendResult<serde_json::Map<String, serde_json::Value>> {
        self.inner.action_get()
    }
    fn action_set(&self, results: &StringMap) -> BackendResult<()> {
        self.inner.action_set(results)
    }
    fn action_fail(&self, message: &str) -> BackendResult<()> {
        self.inner.action_fail(message)
    }
    fn action_log(&self, message: &str) -> BackendResult<()> {
        self.inner.action_log(message)
    }
}

/// Who runs: the unit, its application, the model.
pub(crate) struct Identity<'a> {
    pub meta: &'a CharmMeta,
    pub app: &'a str,
    pub unit_id: u32,
    pub model: &'a str,
    pub charm_name: &'a str,
}

impl Identity<'_> {
    pub(crate) fn unit(&self) -> String {
        format!("{}/{}", self.app, self.unit_id)
    }
}

/// The unit numbers of this application: this unit's and its peers'.
pub(crate) fn peer_numbers(state: &State, meta: &CharmMeta, unit_id: u32) -> BTreeSet<u32> {
    let mut numbers = BTreeSet::from([unit_id]);
    for r in &state.relations {
        if meta.is_peer(&r.endpoint) || r.kind == RelationKind::Peer {
            numbers.extend(r.remote_units_data.keys().copied());
        }
    }
    numbers
}

fn stored_key(charm: &str, name: &str) -> String {
    format!("{charm}/StoredState[{name}]")
}

/// The stored states of charm `charm` in `persisted`, by name: what
/// [`stored_key`] made, read back.
pub(crate) fn stored_states(persisted: &PersistedState, charm: &str) -> Vec<StoredState> {
    let prefix = format!("{charm}/StoredState[");
    persisted
        .stored
        .iter()
        .filter_map(|(key, content)| {
            let name = key.strip_prefix(&prefix)?.strip_suffix(']')?;
            Some(StoredState::new(name, content.clone()))
        })
        .collect()
}

/// The handle number in `Charm/on/event[7]`.
fn handle_number(handle: &str) -> Option<u64> {
    handle
        .rsplit_once('[')
        .and_then(|(_, n)| n.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
}

/// What ops persists, from a state: stored states and deferred notices
/// (each given a handle if it has none).
pub(crate) fn persisted_from(state: &State, charm: &str) -> PersistedState {
    let mut count = state
        .deferred
        .iter()
        .filter_map(|n| handle_number(&n.handle))
        .max()
        .map_or(0, |n| n + 1);
    let notices = state
        .deferred
        .iter()
        .map(|n| {
            let mut n = n.clone();
            if handle_number(&n.handle).is_none() {
                n.handle = format!("{charm}/on/{}[{count}]", n.event);
                count += 1;
            }
            n
        })
        .collect();
    PersistedState {
        format: STATE_FORMAT,
        event_count: count,
        notices,
        stored: state
            .stored_states
            .iter()
            .map(|s| (stored_key(charm, &s.name), s.content.clone()))
            .collect(),
    }
}

/// The fake model for `state`, as the unit would see it.
pub(crate) fn model_from(state: &State, who: &Identity<'_>) -> FakeJuju {
    let mut juju = FakeJuju::new(who.model);
    juju.deploy(who.app, who.meta, 0);
    let unit = who.unit();
    let mut numbers = peer_numbers(state, who.meta, who.unit_id);
    if let Some(planned) = state.planned_units {
        let mut next = numbers.last().copied().unwrap_or(0) + 1;
        while numbers.len() < planned {
            numbers.insert(next);
            next += 1;
        }
    }
    if let Some(a) = juju.apps.get_mut(who.app) {
        a.units = numbers.iter().map(|n| format!("{}/{n}", who.app)).collect();
        a.next_unit = numbers.last().copied().unwrap_or(0) + 1;
        a.leader = state.leader.then(|| unit.clone());
        for (k, v) in &state.config {
            if v.is_null() {
                a.config.remove(k);
            } else {
                a.config.insert(k.clone(), v.clone());
            }
        }
        a.status = StatusInfo::from(state.app_status.clone());
        a.workload_version = state.workload_version.clone();
        a.resources = state
            .resources
            .iter()
            .map(|(k, v)| (k.clone(), v.display().to_string()))
            .collect();
    }
    for n in &numbers {
        juju.units
            .insert(format!("{}/{n}", who.app), UnitState::default());
    }
    if let Some(u) = juju.units.get_mut(&unit) {
        u.status = StatusInfo::from(state.unit_status.clone());
        u.ports = state.opened_ports.clone();
        u.address = state.address.clone();
        u.state = state.unit_state.clone();
    }
    for r in &state.relations {
        let remote_app = r.remote_app_name(who.app).to_string();
        let mut joined: BTreeSet<String> = r.remote_unit_names(who.app).into_iter().collect();
        joined.insert(unit.clone());
        let mut bags = BTreeMap::from([
            (who.app.to_string(), r.local_app_data.clone()),
            (unit.clone(), r.local_unit_data.clone()),
        ]);
        if remote_app != who.app {
            bags.insert(remote_app.clone(), r.remote_app_data.clone());
        }
        for (n, bag) in &r.remote_units_data {
            bags.insert(format!("{remote_app}/{n}"), bag.clone());
        }
        juju.relations.insert(
            r.id,
            RelationState {
                id: r.id,
                app: who.app.to_string(),
                endpoint: r.endpoint.clone(),
                remote_app,
                remote_endpoint: r.endpoint.clone(),
                joined,
                bags,
                departed_from: Default::default(),
            },
        );
    }
    for s in &state.secrets {
        juju.secrets
            .insert(s.id.clone(), secret_state(s, state, who));
    }
    juju
}

fn secret_state(s: &Secret, state: &State, who: &Identity<'_>) -> SecretState {
    let unit = who.unit();
    let (owner, owner_kind) = match &s.owner {
        SecretOwner::App => (who.app.to_string(), "application"),
        SecretOwner::Unit => (unit.clone(), "unit"),
        SecretOwner::Remote { app, .. } => (app.clone(), "application"),
    };
    let mut grants: Vec<SecretGrant> = s
        .grants
        .iter()
        .map(|g| SecretGrant {
            relation: g.relation,
            app: state
                .relation(g.relation)
                .map(|r| r.remote_app_name(who.app).to_string())
                .unwrap_or_default(),
            unit: g.unit.clone(),
        })
        .collect();
    let (label, mut tracked, mut consumer_labels) =
        (s.label.clone(), BTreeMap::new(), BTreeMap::new());
    let label = if let SecretOwner::Remote { relation, .. } = &s.owner {
        grants.push(SecretGrant {
            relation: *relation,
            app: who.app.to_string(),
            unit: None,
        });
        tracked.insert(unit.clone(), s.tracked_revision);
        if let Some(label) = label {
            consumer_labels.insert(unit.clone(), label);
        }
        None
    } else {
        label
    };
    SecretState {
        id: s.id.clone(),
        owner,
        owner_kind: owner_kind.to_string(),
        label,
        description: s.description.clone(),
        expire: s.expire.clone(),
        rotate: s.rotate.clone(),
        revisions: s.revisions.clone(),
        grants,
        tracked,
        consumer_labels,
    }
}

/// Puts `persisted` (a State's stored state and deferred events) in
/// `unit`'s Juju state as ops' `JujuStateStore` writes it, in a hook of its
/// own that the fake commits: as an earlier hook left it. Done before an
/// action starts, so that this hook's end does not end the action.
pub(crate) fn seed_unit_state(
    juju: &Arc<Mutex<FakeJuju>>,
    unit: &str,
    persisted: &PersistedState,
) -> Result<(), super::RunError> {
    let lock = || juju.lock().unwrap_or_else(|e| e.into_inner());
    let earlier = HookContext::unit(unit);
    lock().begin_hook(&earlier);
    let tools = FakeTools::in_dispatch(juju.clone(), earlier, "").hook_tools();
    let written = JujuStateStore::new(Arc::new(tools)).save(persisted);
    lock().end_hook(unit, written.is_ok());
    written.map_err(|e| super::RunError::Setup {
        what: "writing the State's stored state and deferred events to Juju's unit state"
            .to_string(),
        source: io::Error::other(e.to_string()),
    })
}

/// `unit`'s Juju state after a run, split as ops reads it: the stored
/// state and deferred events (ops' keys), and the charm's own keys.
pub(crate) fn split_unit_state(
    model: &FakeJuju,
    unit: &str,
) -> Result<(PersistedState, Bag), super::RunError> {
    let all = model
        .units
        .get(unit)
        .map(|u| u.state.clone())
        .unwrap_or_default();
    let (persisted, ours) =
        ops::storage::decode_unit_state(&all).map_err(|e| super::RunError::Setup {
            what: "reading the charm's state back from Juju's unit state".to_string(),
            source: io::Error::other(e.to_string()),
        })?;
    let charms = all
        .into_iter()
        .filter(|(key, _)| !ours.contains_key(key))
        .collect();
    Ok((persisted, charms))
}

/// The hook context of `event` (its unit, relation and units) and its own
/// `JUJU_*` variables (workload, notice, secret, storage, action): what
/// [`Invocation`](crate::invocation::Invocation) takes.
pub(crate) fn environment(
    event: &Event,
    state: &State,
    who: &Identity<'_>,
) -> (Vec<(String, String)>, HookContext) {
    let unit = who.unit();
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut hook = HookContext::unit(&unit);
    match &event.kind {
        EventKind::Charm => {}
        EventKind::Relation {
            relation,
            remote_unit,
            departing_unit,
        } => {
            let remote_app = state
                .relation(*relation)
                .map(|r| r.remote_app_name(who.app).to_string())
                .unwrap_or_default();
            let endpoint = event
                .hook
                .rsplit_once("-relation-")
                .map_or(event.hook.as_str(), |(e, _)| e)
                .to_string();
            let rel = RelationRef::new(endpoint, *relation);
            let remote = remote_unit.map(|n| format!("{remote_app}/{n}"));
            // The departing unit is a remote one, or this unit itself.
            let departing = departing_unit.map(|n| {
                if Some(n) == *remote_unit {
                    format!("{remote_app}/{n}")
                } else {
                    format!("{}/{n}", who.app)
                }
            });
            hook = HookContext {
                unit: unit.clone(),
                relation: Some(rel),
                remote_unit: remote,
                remote_app: Some(remote_app),
                departing_unit: departing,
            };
        }
        EventKind::Workload {
            container,
            notice,
            check,
        } => {
            let notice = notice
                .as_ref()
                .map(|(id, kind, key)| (id.as_str(), kind.as_str(), key.as_str()));
            vars = event_vars::workload(container, notice, check.as_deref());
        }
        EventKind::Secret { secret, revision } => {
            let label = state.secret(secret).and_then(|s| s.label.as_deref());
            vars = event_vars::secret(secret, label, *revision);
        }
        EventKind::Storage { name, index } => {
            vars.push(("JUJU_STORAGE_ID".to_string(), format!("{name}/{index}")));
        }
        EventKind::Action { name, id, .. } => vars = event_vars::action(name, id),
    }
    (vars, hook)
}

/// Puts a container's files and directories in its Pebble.
fn write_files(container: &Container, pebble: &FakePebble) -> io::Result<()> {
    for dir in &container.dirs {
        pebble.put_dir(dir)?;
    }
    for (path, file) in &container.files {
        pebble.put_file(path, &file.content, file.mode)?;
    }
    Ok(())
}

/// The files and the empty directories of a container's Pebble.
fn read_files(
    pebble: &FakePebble,
    files: &mut BTreeMap<String, File>,
    dirs: &mut BTreeSet<String>,
) -> io::Result<()> {
    let contents = pebble.contents()?;
    dirs.extend(contents.empty_dirs);
    for (path, content, mode) in contents.files {
        files.insert(path, File { content, mode });
    }
    Ok(())
}

/// Links each of the container's mounts into its Pebble's root, so that
/// what the charm reads and writes there is the host directory's (and the
/// read-back of the root, which skips links, leaves it out of the State).
fn mount(container: &Container, pebble: &FakePebble) -> io::Result<()> {
    for (location, source) in &container.mounts {
        if !location.starts_with('/') || location.split('/').all(|p| p.is_empty() || p == ".") {
            return Err(io::Error::other(format!(
                "{location:?}: a mount location is an absolute path other than /"
            )));
        }
        // A mount needs the files on the host: the link is made there.
        pebble.files_on_host()?;
        let link = pebble.host_path(location);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(source, &link).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} at {location:?}: {e}", source.display()),
            )
        })?;
    }
    Ok(())
}

/// Starts a fake Pebble for each container that can connect, with its
/// files, layers and running services.
pub(crate) fn start_containers(
    state: &State,
    meta: &CharmMeta,
    dir: &Path,
) -> Result<BTreeMap<String, FakePebble>, super::RunError> {
    let mut live = BTreeMap::new();
    for name in meta.containers.keys() {
        let Some(container) = state.container(name).filter(|c| c.can_connect) else {
            continue;
        };
        let setup = |what: &str| {
            let what = format!("container {name}: {what}");
            move |source: io::Error| super::RunError::Setup { what, source }
        };
        let (socket, root) = crate::scratch::pebble_paths(dir, name);
        let pebble =
            FakePebble::in_memory(socket, root).map_err(setup("starting a fake Pebble"))?;
        write_files(container, &pebble).map_err(setup("writing its files"))?;
        mount(container, &pebble).map_err(setup("mounting a host directory"))?;
        let client = pebble.client();
        let pebble_err = |what: &str| {
            let what = format!("container {name}: {what}");
            move |e: ops::pebble::PebbleError| super::RunError::Setup {
                what,
                source: io::Error::other(e.to_string()),
            }
        };
        for (label, layer) in &container.layers {
            client
                .add_layer(label, layer, true)
                .map_err(pebble_err("adding a layer"))?;
        }
        let active: Vec<&str> = container
            .service_statuses
            .iter()
            .filter(|(_, s)| **s == ServiceStatus::Active)
            .map(|(n, _)| n.as_str())
            .collect();
        if !active.is_empty() {
            client
                .start_services(&active)
                .map_err(pebble_err("starting its active services"))?;
        }
        for (service, error) in &container.service_start_errors {
            pebble.set_service_start_error(service, Some(error));
        }
        for (prefix, result) in &container.execs {
            let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
            let result = result.clone();
            // A canned command reads its input, so that the history has it.
            pebble.handle_exec(&prefix, move |args| {
                args.stdin();
                result.clone()
            });
        }
        for (key, data) in &container.notices {
            pebble
                .notify(key, data)
                .map_err(|e| super::RunError::Setup {
                    what: format!("container {name}: recording notice {key:?}"),
                    source: io::Error::other(e.to_string()),
                })?;
        }
        for (check, failures) in &container.check_failures {
            pebble
                .fail_check(check, *failures)
                .map_err(|e| super::RunError::Setup {
                    what: format!("container {name}: failing check {check:?}"),
                    source: io::Error::other(e.to_string()),
                })?;
        }
        pebble.clear_service_events();
        live.insert(name.clone(), pebble);
    }
    Ok(live)
}

/// The container as the run left it.
pub(crate) fn read_container(
    name: &str,
    pebble: &FakePebble,
) -> Result<Container, super::RunError> {
    let mut container = Container::new(name).with_can_connect(true);
    container.layers = pebble.layers();
    container.notices = pebble
        .notices()
        .into_iter()
        .filter(|n| n.type_ == "custom")
        .map(|n| (n.key, n.last_data))
        .collect();
    for check in pebble.plan().checks.keys() {
        if let Some(info) = pebble.check_info(check) {
            if info.failures > 0 {
                container
                    .check_failures
                    .insert(check.clone(), info.failures);
            }
            container.check_infos.insert(check.clone(), info);
        }
    }
    for service in pebble.plan().services.keys() {
        if let Some(status) = pebble.service_status(service) {
            container.service_statuses.insert(service.clone(), status);
        }
    }
    read_files(pebble, &mut container.files, &mut container.dirs).map_err(|source| {
        super::RunError::Setup {
            what: format!("container {name}: reading its files back"),
            source,
        }
    })?;
    Ok(container)
}

/// The service events of each running container.
pub(crate) fn service_events(
    live: &BTreeMap<String, FakePebble>,
) -> BTreeMap<String, Vec<ServiceEvent>> {
    live.iter()
        .map(|(n, p)| (n.clone(), p.service_events()))
        .collect()
}

/// Every exec each live container ran.
pub(crate) fn exec_history(live: &BTreeMap<String, FakePebble>) -> BTreeMap<String, Vec<ExecArgs>> {
    live.iter().map(|(n, p)| (n.clone(), p.execs())).collect()
}

/// The state after a run: `before`, with what the charm could change read
/// back from the model, the containers and the persisted state.
pub(crate) fn state_after(
    before: &State,
    juju: &FakeJuju,
    persisted: &PersistedState,
    containers: BTreeMap<String, Container>,
    who: &Identity<'_>,
) -> State {
    let unit = who.unit();
    let mut after = before.clone();
    for r in &mut after.relations {
        if let Some(rel) = juju.relations.get(&r.id) {
            r.local_app_data = rel.bags.get(who.app).cloned().unwrap_or_default();
            r.local_unit_data = rel.bags.get(&unit).cloned().unwrap_or_default();
        }
    }
    for c in &mut after.containers {
        if let Some(live) = containers.get(&c.name) {
            // What the test set up that Pebble does not report back.
            let errors = std::mem::take(&mut c.service_start_errors);
            let execs = std::mem::take(&mut c.execs);
            let mounts = std::mem::take(&mut c.mounts);
            *c = live.clone();
            c.service_start_errors = errors;
            c.execs = execs;
            c.mounts = mounts;
        }
    }
    // Secrets: those of the state as they are now (gone if removed), then
    // those the charm added, in id order.
    let mut secrets: Vec<Secret> = before
        .secrets
        .iter()
        .filter_map(|s| {
            juju.secrets
                .get(&s.id)
                .map(|now| secret_after(Some(s), now, who))
        })
        .collect();
    for (id, now) in &juju.secrets {
        if before.secret(id).is_none() {
            secrets.push(secret_after(None, now, who));
        }
    }
    after.secrets = secrets;
    after.stored_states = stored_states(persisted, who.charm_name);
    after.deferred = persisted.notices.clone();
    if let Some(u) = juju.units.get(&unit) {
        after.opened_ports = u.ports.clone();
        after.unit_status = Status::from(u.status.clone());
        after.unit_state = u.state.clone();
    }
    if let Some(a) = juju.apps.get(who.app) {
        after.app_status = Status::from(a.status.clone());
        after.workload_version = a.workload_version.clone();
    }
    after
}

fn secret_after(before: Option<&Secret>, now: &SecretState, who: &Identity<'_>) -> Secret {
    let unit = who.unit();
    let owner = match before.map(|s| &s.owner) {
        Some(owner @ SecretOwner::Remote { .. }) => owner.clone(),
        _ if now.owner == unit => SecretOwner::Unit,
        _ => SecretOwner::App,
    };
    let observed = matches!(owner, SecretOwner::Remote { .. });
    let grants = if observed {
        BTreeSet::new()
    } else {
        now.grants
            .iter()
            .map(|g| Grant {
                relation: g.relation,
                unit: g.unit.clone(),
            })
            .collect()
    };
    let latest = now.latest();
    Secret {
        id: now.id.clone(),
        revisions: now.revisions.clone(),
        tracked_revision: now.tracked.get(&unit).copied().unwrap_or(latest),
        label: if observed {
            now.consumer_labels.get(&unit).cloned()
        } else {
            now.label.clone()
        },
        description: now.description.clone(),
        expire: now.expire.clone(),
        rotate: now.rotate.clone(),
        grants,
        owner,
    }
}

/// The revisions of `before`'s secrets that are gone after the run (all of
/// a secret's, if the charm removed it), by secret id.
pub(crate) fn removed_revisions(before: &State, juju: &FakeJuju) -> BTreeMap<String, Vec<u64>> {
    before
        .secrets
        .iter()
        .filter_map(|s| {
            let gone: Vec<u64> = match juju.secrets.get(&s.id) {
                Some(now) => s
                    .revisions
                    .keys()
                    .filter(|r| !now.revisions.contains_key(r))
                    .copied()
                    .collect(),
                None => s.revisions.keys().copied().collect(),
            };
            (!gone.is_empty()).then(|| (s.id.clone(), gone))
        })
        .collect()
}

/// The notice for `event` deferred by `observer`, as a state holds it.
pub(crate) fn deferred_notice(event: &Event, observer: &str, state: &State, app: &str) -> Notice {
    let remote_app = event
        .relation_id()
        .and_then(|id| state.relation(id))
        .map(|r| r.remote_app_name(app).to_string())
        .unwrap_or_else(|| app.to_string());
    Notice {
        handle: String::new(),
        observer: observer.to_string(),
        event: event.name(),
        snapshot: event.snapshot(&remote_app),
    }
}
