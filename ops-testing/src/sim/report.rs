//! What the simulator reports: the final model and every hook it ran.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::SimError;
use crate::fake_juju::{Bag, FakeJuju, SecretState};
use crate::fake_pebble::{FakePebble, ServiceEvent};

/// One hook run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookRecord {
    /// The scenario step it ran in, from 1 (0 outside any step).
    pub step: usize,
    /// The unit.
    pub unit: String,
    /// The hook (`pgb-peers-relation-changed`, `actions/x`).
    pub hook: String,
    /// `JUJU_RELATION_ID`'s id, in a relation hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_id: Option<u32>,
    /// `JUJU_REMOTE_APP`, in a relation hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_app: Option<String>,
    /// `JUJU_REMOTE_UNIT`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_unit: Option<String>,
    /// `JUJU_DEPARTING_UNIT`, in relation-departed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departing_unit: Option<String>,
    /// The charm's exit status.
    pub exit_code: i32,
    /// How long the process ran.
    pub duration_ms: f64,
    /// What it printed on stderr, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// The databags it changed (committed: a failed hook changes none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<BagWrite>,
    /// The Juju secrets it added or gave a new revision (the secret tools
    /// apply at once, so a failed hook's count too).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret_writes: Vec<SecretWrite>,
    /// What happened to the unit's services while it ran, as
    /// `<container>: <event>` (`pgbouncer: signal SIGHUP pgbouncer_0`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_events: Vec<String>,
}

/// What one hook changed in one databag.
///
/// Serialized, it names the keys only: the values (passwords among them)
/// are for [`super::account`] to show shortened and redacted.
#[derive(Clone, PartialEq, Serialize)]
pub struct BagWrite {
    /// The relation id.
    pub relation: u32,
    /// The charm's endpoint of the relation.
    pub endpoint: String,
    /// The unit or application whose bag it is.
    pub bag: String,
    /// The keys set, changed or deleted, sorted.
    pub keys: Vec<String>,
    /// Each changed key's new value; `None` where it was deleted.
    #[serde(skip)]
    pub values: BTreeMap<String, Option<String>>,
}

impl BagWrite {
    /// The difference between a bag's content `before` and `after`.
    pub fn diff(
        relation: u32,
        endpoint: impl Into<String>,
        bag: impl Into<String>,
        before: &Bag,
        after: &Bag,
    ) -> Self {
        let mut values = BTreeMap::new();
        for (k, v) in after {
            if before.get(k) != Some(v) {
                values.insert(k.clone(), Some(v.clone()));
            }
        }
        for k in before.keys() {
            if !after.contains_key(k) {
                values.insert(k.clone(), None);
            }
        }
        Self {
            relation,
            endpoint: endpoint.into(),
            bag: bag.into(),
            keys: values.keys().cloned().collect(),
            values,
        }
    }
}

/// A revision of a Juju secret that one hook added (`secret-add`, or
/// `secret-set` with new content).
///
/// Serialized, it names the content's keys only: the values are for the
/// redactor ([`super::account`]) to learn, never to show.
#[derive(Clone, PartialEq, Serialize)]
pub struct SecretWrite {
    /// `secret:<xid>`.
    pub id: String,
    /// The owner's label, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The new revision.
    pub revision: u64,
    /// The content's keys, sorted.
    pub keys: Vec<String>,
    /// The content.
    #[serde(skip)]
    pub content: Bag,
}

impl SecretWrite {
    /// The revisions of the secrets in `after` that are not in `before`
    /// (new secrets, new revisions), in id and revision order.
    pub(crate) fn diff(
        before: &BTreeMap<String, SecretState>,
        after: &BTreeMap<String, SecretState>,
    ) -> Vec<Self> {
        let mut writes = Vec::new();
        for (id, secret) in after {
            let old = before.get(id);
            for (revision, content) in &secret.revisions {
                if old.is_some_and(|o| o.revisions.get(revision) == Some(content)) {
                    continue;
                }
                writes.push(Self {
                    id: id.clone(),
                    label: secret.label.clone(),
                    revision: *revision,
                    keys: content.keys().cloned().collect(),
                    content: content.clone(),
                });
            }
        }
        writes
    }
}

/// A Juju secret in the final model.
///
/// Serialized, it names its owner, label, revisions and keys: never its
/// content, which is for the redactor to learn.
#[derive(Clone, PartialEq, Serialize)]
pub struct SecretReport {
    /// `secret:<xid>`.
    pub id: String,
    /// The owning application or unit.
    pub owner: String,
    /// The owner's label, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its revisions' numbers, oldest first.
    pub revisions: Vec<u64>,
    /// The latest revision's keys, sorted.
    pub keys: Vec<String>,
    /// Where it is granted: relation ids, each with the one unit it is
    /// granted to, if only one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<String>,
    /// Every revision's content, by revision.
    #[serde(skip)]
    pub content: BTreeMap<u64, Bag>,
}

// `Debug` names keys, never values: a test's failure message must not
// print a password.
impl std::fmt::Debug for BagWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BagWrite")
            .field("relation", &self.relation)
            .field("endpoint", &self.endpoint)
            .field("bag", &self.bag)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SecretWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretWrite")
            .field("id", &self.id)
            .field("label", &self.label)
            .field("revision", &self.revision)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SecretReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretReport")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("label", &self.label)
            .field("revisions", &self.revisions)
            .field("keys", &self.keys)
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

/// A relation in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelationReport {
    /// The relation id.
    pub id: u32,
    /// The charm's endpoint.
    pub endpoint: String,
    /// The other application.
    pub remote_app: String,
    /// Every databag, by unit or application.
    pub databags: BTreeMap<String, Bag>,
}

/// What happened to one service, over every pod the unit had.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ServiceReport {
    /// Times it was started.
    pub starts: usize,
    /// Times it was stopped.
    pub stops: usize,
    /// Times it was restarted (a restart, or a replan after its config changed).
    pub restarts: usize,
    /// The signals sent to it (`POST /v1/signals`), in order: a reload by
    /// `SIGHUP` shows here, not as a restart.
    pub signals: Vec<String>,
}

impl ServiceReport {
    fn add(&mut self, event: &ServiceEvent) {
        match event {
            ServiceEvent::Start(_) => self.starts += 1,
            ServiceEvent::Stop(_) => self.stops += 1,
            ServiceEvent::Restart(_) => self.restarts += 1,
            ServiceEvent::Signal { signal, .. } => self.signals.push(signal.clone()),
        }
    }
}

/// What `service_events` shows where a pod was replaced (`churn`, `refresh`).
pub const POD_REPLACED: &str = "pod replaced";

/// A container in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerReport {
    /// Text files by path in the container (the current pod's).
    pub files: BTreeMap<String, String>,
    /// Service starts, stops, restarts and signals, in order, over every
    /// pod ([`POD_REPLACED`] between two pods).
    pub service_events: Vec<String>,
    /// Per service: starts, stops, restarts and signals, over every pod.
    pub services: BTreeMap<String, ServiceReport>,
}

/// A unit in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitReport {
    /// Whether it leads.
    pub leader: bool,
    /// `status: message`.
    pub status: String,
    /// Its containers.
    pub containers: BTreeMap<String, ContainerReport>,
}

/// The simulator's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The model's name.
    pub model: String,
    /// The application status (`status: message`).
    pub app_status: String,
    /// Units by name.
    pub units: BTreeMap<String, UnitReport>,
    /// The charm's relations.
    pub relations: Vec<RelationReport>,
    /// Every Juju secret in the model (content not serialized).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretReport>,
    /// Every hook run, in order.
    pub hooks: Vec<HookRecord>,
}

fn files_under(root: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let inside = path
                    .strip_prefix(root)
                    .map(|p| format!("/{}", p.display()))
                    .unwrap_or_default();
                files.insert(inside, text);
            }
        }
    }
    files
}

pub(super) fn build(
    juju: &FakeJuju,
    app: &str,
    pebbles: &BTreeMap<(String, String), FakePebble>,
    earlier_pods: &BTreeMap<(String, String), Vec<Vec<ServiceEvent>>>,
    records: &[HookRecord],
    in_error: &BTreeMap<String, String>,
) -> Result<Report, SimError> {
    let status = |s: Option<&ops::backend::StatusInfo>| {
        s.map(|s| format!("{}: {}", s.name, s.message))
            .unwrap_or_else(|| "unknown: ".to_string())
    };
    let mut units = BTreeMap::new();
    for unit in juju
        .apps
        .get(app)
        .map(|a| a.units.clone())
        .unwrap_or_default()
    {
        let containers = pebbles
            .iter()
            .filter(|((u, _), _)| *u == unit)
            .map(|(key, pebble)| {
                let mut events = Vec::new();
                let mut services: BTreeMap<String, ServiceReport> = BTreeMap::new();
                let current = pebble.service_events();
                let pods = earlier_pods.get(key).into_iter().flatten();
                for (i, pod) in pods.chain(std::iter::once(&current)).enumerate() {
                    if i > 0 {
                        events.push(POD_REPLACED.to_string());
                    }
                    for e in pod {
                        events.push(e.to_string());
                        services.entry(e.service().to_string()).or_default().add(e);
                    }
                }
                (
                    key.1.clone(),
                    ContainerReport {
                        files: files_under(pebble.root()),
                        service_events: events,
                        services,
                    },
                )
            })
            .collect();
        units.insert(
            unit.clone(),
            UnitReport {
                leader: juju.leader(app) == Some(unit.as_str()),
                // As `juju status` shows a unit whose hook failed until a
                // retry of it succeeds.
                status: match in_error.get(&unit) {
                    Some(hook) => format!("error: hook failed: {hook:?}"),
                    None => status(juju.unit_status(&unit)),
                },
                containers,
            },
        );
    }
    let relations = juju
        .relations
        .values()
        .filter_map(|r| {
            r.endpoint_of(app).map(|endpoint| RelationReport {
                id: r.id,
                endpoint: endpoint.to_string(),
                remote_app: r.other_app(app).to_string(),
                databags: r.bags.clone(),
            })
        })
        .collect();
    Ok(Report {
        model: juju.model_name.clone(),
        app_status: status(juju.app_status(app)),
        units,
        relations,
        secrets: juju
            .secrets
            .values()
            .map(|s| SecretReport {
                id: s.id.clone(),
                owner: s.owner.clone(),
                label: s.label.clone(),
                revisions: s.revisions.keys().copied().collect(),
                keys: s
                    .revisions
                    .values()
                    .next_back()
                    .map(|c| c.keys().cloned().collect())
                    .unwrap_or_default(),
                grants: s
                    .grants
                    .iter()
                    .map(|g| format!("{}: {}", g.relation, g.unit.as_deref().unwrap_or(&g.app)))
                    .collect(),
                content: s.revisions.clone(),
            })
            .collect(),
        hooks: records.to_vec(),
    })
}
