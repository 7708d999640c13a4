//! The consistency checker: before a run, is this event in this state
//! something Juju could send to this charm?
//!
//! Each problem is an [`Inconsistency`] naming what is wrong and where; a
//! run refuses to start with all of them in one [`ConsistencyError`].
//! [`Context::without_consistency_checks`](super::Context::without_consistency_checks)
//! turns the checker off, to drive a charm through a state Juju would not make.

use std::collections::BTreeSet;
use std::fmt;

use ops::pebble::ServiceStatus;
use ops::{CharmMeta, EndpointRole};
use serde_json::Value;

use super::events::{Event, EventKind};
use super::state::{RelationKind, SecretOwner, State};

/// One way an event and a state do not fit the charm, or each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inconsistency {
    /// The event's relation is not in the state.
    EventRelationMissing {
        /// The event's hook.
        hook: String,
        /// The relation id.
        relation: u32,
    },
    /// The event's remote unit is not among the relation's remote units.
    RemoteUnitMissing {
        /// The event's hook.
        hook: String,
        /// The relation id.
        relation: u32,
        /// The unit number.
        unit: u32,
    },
    /// relation-departed of a remote unit that the relation still lists.
    DepartingUnitStillListed {
        /// The relation id.
        relation: u32,
        /// The unit number.
        unit: u32,
    },
    /// The event's container is not declared, or not in the state.
    EventContainerMissing {
        /// The event's hook.
        hook: String,
        /// The container.
        container: String,
    },
    /// pebble-ready of a container whose Pebble does not answer: Juju sends
    /// it only once Pebble is up.
    ContainerNotConnectable {
        /// The event's hook.
        hook: String,
        /// The container.
        container: String,
    },
    /// The event's secret is not in the state.
    EventSecretMissing {
        /// The event's hook.
        hook: String,
        /// The secret id.
        secret: String,
    },
    /// A secret event sent to the wrong side: secret-changed goes to
    /// observers, secret-rotate, -expired and -remove to the owner.
    SecretEventWrongSide {
        /// The event's hook.
        hook: String,
        /// The secret id.
        secret: String,
    },
    /// A secret event's revision is not one of the secret's.
    SecretRevisionMissing {
        /// The secret id.
        secret: String,
        /// The revision.
        revision: u64,
    },
    /// The event's storage is not declared, or not attached in the state.
    EventStorageMissing {
        /// The event's hook.
        hook: String,
        /// `<name>/<index>`.
        storage: String,
    },
    /// The action is not declared.
    UnknownAction {
        /// The action.
        action: String,
    },
    /// An action parameter is not of its declared JSON-schema type.
    ActionParamType {
        /// The action.
        action: String,
        /// The parameter.
        param: String,
        /// The declared type.
        expected: String,
    },
    /// A config key the charm does not declare.
    UnknownConfigOption {
        /// The key.
        key: String,
    },
    /// A config value not of the option's type.
    ConfigType {
        /// The key.
        key: String,
        /// The option's type.
        expected: ops::OptionKind,
    },
    /// A relation on an endpoint the charm does not declare.
    UnknownEndpoint {
        /// The relation id.
        relation: u32,
        /// The endpoint.
        endpoint: String,
    },
    /// A relation's interface is not the endpoint's.
    InterfaceMismatch {
        /// The relation id.
        relation: u32,
        /// The declared interface.
        declared: String,
        /// The relation's.
        given: String,
    },
    /// A relation's kind is not what its endpoint makes it (a peer relation
    /// on a `peers` endpoint, a subordinate one on a `scope: container` one).
    RelationKindMismatch {
        /// The relation id.
        relation: u32,
        /// The endpoint.
        endpoint: String,
        /// What the endpoint makes it.
        declared: RelationKind,
        /// What the state says.
        given: RelationKind,
    },
    /// Two relations with one id.
    DuplicateRelationId {
        /// The id.
        relation: u32,
    },
    /// More relations on an endpoint than its `limit`.
    EndpointLimit {
        /// The endpoint.
        endpoint: String,
        /// The limit.
        limit: u32,
        /// How many the state has.
        count: usize,
    },
    /// A subordinate relation without exactly one remote unit.
    SubordinateUnits {
        /// The relation id.
        relation: u32,
        /// How many it has.
        count: usize,
    },
    /// A peer relation listing this unit among its remote units.
    PeerIsSelf {
        /// The relation id.
        relation: u32,
        /// This unit's number.
        unit: u32,
    },
    /// A container the charm does not declare.
    UnknownContainer {
        /// The container.
        container: String,
    },
    /// Two containers with one name.
    DuplicateContainer {
        /// The container.
        container: String,
    },
    /// A service status the fake Pebble cannot put a service in (only
    /// active and inactive), or for a service not in the layers.
    UnsupportedServiceStatus {
        /// The container.
        container: String,
        /// The service.
        service: String,
        /// Why.
        reason: String,
    },
    /// A container file path that is not absolute.
    RelativeFilePath {
        /// The container.
        container: String,
        /// The path.
        path: String,
    },
    /// Two secrets with one id.
    DuplicateSecretId {
        /// The id.
        secret: String,
    },
    /// A secret without revisions, or tracking one it does not have.
    SecretTrackedRevision {
        /// The id.
        secret: String,
        /// The tracked revision.
        revision: u64,
    },
    /// A secret grant (or an observed secret's) over a relation not in the state.
    SecretRelationMissing {
        /// The id.
        secret: String,
        /// The relation id.
        relation: u32,
    },
    /// A storage instance of a storage the charm does not declare.
    UnknownStorage {
        /// `<name>/<index>`.
        storage: String,
    },
    /// A resource the charm does not declare.
    UnknownResource {
        /// The resource.
        resource: String,
    },
    /// Fewer planned units than the unit numbers in use need.
    PlannedUnits {
        /// Planned.
        planned: usize,
        /// At least this many are there.
        needed: usize,
    },
    /// A network for a binding the charm does not have (not an endpoint,
    /// an extra binding or `juju-info`).
    UnknownBinding {
        /// The binding.
        binding: String,
    },
    /// The unit's address is not an IP address.
    InvalidAddress {
        /// The address.
        address: String,
    },
    /// The Juju version is too old for the event, or not a version.
    JujuVersion {
        /// What needs a newer Juju.
        feature: String,
        /// The version needed.
        needed: String,
        /// The version given.
        version: String,
    },
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Inconsistency::*;
        match self {
            EventRelationMissing { hook, relation } => {
                write!(f, "{hook}: relation {relation} is not in the state")
            }
            RemoteUnitMissing {
                hook,
                relation,
                unit,
            } => write!(
                f,
                "{hook}: remote unit {unit} is not a remote unit of relation {relation} in the state"
            ),
            DepartingUnitStillListed { relation, unit } => write!(
                f,
                "relation-departed of unit {unit}, which relation {relation} still lists (remove it from remote_units_data)"
            ),
            EventContainerMissing { hook, container } => write!(
                f,
                "{hook}: container {container:?} is not declared or not in the state"
            ),
            ContainerNotConnectable { hook, container } => write!(
                f,
                "{hook}: container {container:?} cannot connect; Juju sends pebble-ready only once Pebble answers"
            ),
            EventSecretMissing { hook, secret } => {
                write!(f, "{hook}: secret {secret} is not in the state")
            }
            SecretEventWrongSide { hook, secret } => write!(
                f,
                "{hook} of secret {secret}: secret-changed goes to observers, secret-rotate, -expired and -remove to the owner"
            ),
            SecretRevisionMissing { secret, revision } => {
                write!(f, "secret {secret} has no revision {revision}")
            }
            EventStorageMissing { hook, storage } => write!(
                f,
                "{hook}: storage {storage} is not declared or not attached in the state"
            ),
            UnknownAction { action } => {
                write!(
                    f,
                    "action {action:?} is not declared in the charm's actions"
                )
            }
            ActionParamType {
                action,
                param,
                expected,
            } => write!(
                f,
                "action {action:?} parameter {param:?} is not of its declared type {expected}"
            ),
            UnknownConfigOption { key } => {
                write!(f, "config option {key:?} is not declared by the charm")
            }
            ConfigType { key, expected } => {
                write!(
                    f,
                    "config option {key:?} is not of its declared type {expected}"
                )
            }
            UnknownEndpoint { relation, endpoint } => write!(
                f,
                "relation {relation}: endpoint {endpoint:?} is not declared by the charm"
            ),
            InterfaceMismatch {
                relation,
                declared,
                given,
            } => write!(
                f,
                "relation {relation}: interface {given:?}, but the endpoint declares {declared:?}"
            ),
            RelationKindMismatch {
                relation,
                endpoint,
                declared,
                given,
            } => write!(
                f,
                "relation {relation} on {endpoint:?} is {given:?}, but the endpoint makes it {declared:?}"
            ),
            UnknownBinding { binding } => write!(
                f,
                "a network for binding {binding:?}, which is not an endpoint or extra binding"
            ),
            DuplicateRelationId { relation } => {
                write!(f, "two relations have id {relation}")
            }
            EndpointLimit {
                endpoint,
                limit,
                count,
            } => write!(
                f,
                "endpoint {endpoint:?} takes at most {limit} relation(s), the state has {count}"
            ),
            SubordinateUnits { relation, count } => write!(
                f,
                "subordinate relation {relation} needs exactly one remote unit, it has {count}"
            ),
            PeerIsSelf { relation, unit } => write!(
                f,
                "peer relation {relation} lists this unit ({unit}) among its remote units"
            ),
            UnknownContainer { container } => {
                write!(f, "container {container:?} is not declared by the charm")
            }
            DuplicateContainer { container } => {
                write!(f, "container {container:?} is in the state twice")
            }
            UnsupportedServiceStatus {
                container,
                service,
                reason,
            } => write!(f, "container {container:?} service {service:?}: {reason}"),
            RelativeFilePath { container, path } => write!(
                f,
                "container {container:?} file {path:?}: container paths are absolute"
            ),
            DuplicateSecretId { secret } => write!(f, "two secrets have id {secret}"),
            SecretTrackedRevision { secret, revision } => write!(
                f,
                "secret {secret} tracks revision {revision}, which it does not have"
            ),
            SecretRelationMissing { secret, relation } => write!(
                f,
                "secret {secret} is granted over relation {relation}, which is not in the state"
            ),
            UnknownStorage { storage } => {
                write!(f, "storage {storage} is not declared by the charm")
            }
            UnknownResource { resource } => {
                write!(f, "resource {resource:?} is not declared by the charm")
            }
            PlannedUnits { planned, needed } => write!(
                f,
                "planned_units is {planned}, but the unit numbers in use need at least {needed}"
            ),
            InvalidAddress { address } => {
                write!(f, "address {address:?} is not an IP address")
            }
            JujuVersion {
                feature,
                needed,
                version,
            } => write!(
                f,
                "{feature} needs Juju {needed} or later; the context has {version:?}"
            ),
        }
    }
}

/// Why a run refused to start: every [`Inconsistency`] found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent state or event: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConsistencyError {
    /// What is wrong, in the order found.
    pub problems: Vec<Inconsistency>,
}

/// What the checker needs to know about the context.
pub(crate) struct Checked<'a> {
    pub meta: &'a CharmMeta,
    pub unit_id: u32,
    pub juju_version: &'a str,
    pub model_type: super::ModelType,
    /// Whether the context sets a cloud spec.
    pub cloud_spec: bool,
}

/// Whether `version` is `needed.0.needed.1.0` or later, ordered as Juju
/// orders versions (a pre-release before its release); `None` if it is not
/// a Juju version.
fn version_at_least(version: &str, needed: (u32, u32)) -> Option<bool> {
    let version: ops::JujuVersion = version.parse().ok()?;
    Some(version >= ops::JujuVersion::new(needed.0, needed.1, 0))
}

/// The kind of relation an endpoint makes.
pub(crate) fn declared_kind(meta: &CharmMeta, endpoint: &str) -> Option<RelationKind> {
    let e = meta.endpoint(endpoint)?;
    Some(if e.role == EndpointRole::Peer {
        RelationKind::Peer
    } else if e.scope.as_deref() == Some("container") {
        RelationKind::Subordinate
    } else {
        RelationKind::Regular
    })
}

fn json_type_matches(schema_type: &str, value: &Value) -> bool {
    match schema_type {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// Checks `event` in `state` against the charm; every problem found.
pub(crate) fn check(
    ctx: &Checked<'_>,
    event: &Event,
    state: &State,
) -> Result<(), ConsistencyError> {
    let mut problems = Vec::new();
    check_event(ctx, event, state, &mut problems);
    check_config(ctx.meta, state, &mut problems);
    check_relations(ctx, state, &mut problems);
    check_containers(ctx.meta, state, &mut problems);
    check_secrets(state, &mut problems);
    check_other(ctx, state, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConsistencyError { problems })
    }
}

fn check_event(ctx: &Checked<'_>, event: &Event, state: &State, out: &mut Vec<Inconsistency>) {
    let hook = event.hook.clone();
    let mut needs_version = |feature: &str, needed: (u32, u32)| {
        if version_at_least(ctx.juju_version, needed) != Some(true) {
            out.push(Inconsistency::JujuVersion {
                feature: feature.to_string(),
                needed: format!("{}.{}", needed.0, needed.1),
                version: ctx.juju_version.to_string(),
            });
        }
    };
    match &event.kind {
        EventKind::Charm => {}
        EventKind::Relation {
            relation,
            remote_unit,
            departing_unit,
        } => {
            let Some(r) = state.relation(*relation) else {
                out.push(Inconsistency::EventRelationMissing {
                    hook,
                    relation: *relation,
                });
                return;
            };
            let departing_remote = departing_unit.is_some() && departing_unit == remote_unit;
            if let Some(unit) = remote_unit
                && !departing_remote
                && !r.remote_units_data.contains_key(unit)
            {
                out.push(Inconsistency::RemoteUnitMissing {
                    hook,
                    relation: *relation,
                    unit: *unit,
                });
            } else if let Some(unit) = departing_unit
                && departing_remote
                && r.remote_units_data.contains_key(unit)
            {
                out.push(Inconsistency::DepartingUnitStillListed {
                    relation: *relation,
                    unit: *unit,
                });
            }
        }
        EventKind::Workload {
            container,
            notice,
            check,
        } => {
            if notice.is_some() {
                needs_version("pebble-custom-notice", (3, 4));
            }
            if check.is_some() {
                needs_version("pebble check events", (3, 6));
            }
            match state.container(container) {
                Some(c) if ctx.meta.containers.contains_key(container) => {
                    if event.hook.ends_with("-pebble-ready") && !c.can_connect {
                        out.push(Inconsistency::ContainerNotConnectable {
                            hook,
                            container: container.clone(),
                        });
                    }
                }
                _ => out.push(Inconsistency::EventContainerMissing {
                    hook,
                    container: container.clone(),
                }),
            }
        }
        EventKind::Secret { secret, revision } => {
            needs_version("secrets", (3, 0));
            let Some(s) = state.secret(secret) else {
                out.push(Inconsistency::EventSecretMissing {
                    hook,
                    secret: secret.clone(),
                });
                return;
            };
            let to_observer = event.hook == "secret-changed";
            if to_observer != s.is_observed() {
                out.push(Inconsistency::SecretEventWrongSide {
                    hook,
                    secret: secret.clone(),
                });
            }
            if let Some(revision) = revision
                && !s.revisions.contains_key(revision)
            {
                out.push(Inconsistency::SecretRevisionMissing {
                    secret: secret.clone(),
                    revision: *revision,
                });
            }
        }
        EventKind::Storage { name, index } => {
            let attached = state
                .storages
                .iter()
                .any(|s| s.name == *name && s.index == *index);
            if !attached || !ctx.meta.storage.contains_key(name) {
                out.push(Inconsistency::EventStorageMissing {
                    hook,
                    storage: format!("{name}/{index}"),
                });
            }
        }
        EventKind::Action { name, params, .. } => {
            let Some(action) = ctx.meta.actions.get(name) else {
                out.push(Inconsistency::UnknownAction {
                    action: name.clone(),
                });
                return;
            };
            for (param, value) in params {
                let declared = action
                    .params
                    .get(param)
                    .and_then(|schema| schema.get("type"))
                    .and_then(Value::as_str);
                if let Some(expected) = declared
                    && !json_type_matches(expected, value)
                {
                    out.push(Inconsistency::ActionParamType {
                        action: name.clone(),
                        param: param.clone(),
                        expected: expected.to_string(),
                    });
                }
            }
        }
    }
}

fn check_config(meta: &CharmMeta, state: &State, out: &mut Vec<Inconsistency>) {
    for (key, value) in &state.config {
        match meta.config.get(key) {
            None => out.push(Inconsistency::UnknownConfigOption { key: key.clone() }),
            Some(option) if !value.is_null() && !option.kind.accepts(value) => {
                out.push(Inconsistency::ConfigType {
                    key: key.clone(),
                    expected: option.kind,
                })
            }
            Some(_) => {}
        }
    }
}

fn check_relations(ctx: &Checked<'_>, state: &State, out: &mut Vec<Inconsistency>) {
    let mut ids = BTreeSet::new();
    for r in &state.relations {
        if !ids.insert(r.id) {
            out.push(Inconsistency::DuplicateRelationId { relation: r.id });
        }
        let Some(endpoint) = ctx.meta.endpoint(&r.endpoint) else {
            out.push(Inconsistency::UnknownEndpoint {
                relation: r.id,
                endpoint: r.endpoint.clone(),
            });
            continue;
        };
        if let Some(given) = &r.interface
            && *given != endpoint.interface
        {
            out.push(Inconsistency::InterfaceMismatch {
                relation: r.id,
                declared: endpoint.interface.clone(),
                given: given.clone(),
            });
        }
        let declared = declared_kind(ctx.meta, &r.endpoint).unwrap_or_default();
        if declared != r.kind {
            out.push(Inconsistency::RelationKindMismatch {
                relation: r.id,
                endpoint: r.endpoint.clone(),
                declared,
                given: r.kind,
            });
        }
        if r.kind == RelationKind::Subordinate && r.remote_units_data.len() != 1 {
            out.push(Inconsistency::SubordinateUnits {
                relation: r.id,
                count: r.remote_units_data.len(),
            });
        }
        if r.kind == RelationKind::Peer && r.remote_units_data.contains_key(&ctx.unit_id) {
            out.push(Inconsistency::PeerIsSelf {
                relation: r.id,
                unit: ctx.unit_id,
            });
        }
    }
    for (name, endpoint) in &ctx.meta.endpoints {
        let on_endpoint = state.relations_on(name);
        let count = on_endpoint.len();
        // The tightest of the metadata's limit and the relations' own.
        let limit = endpoint
            .limit
            .into_iter()
            .chain(on_endpoint.iter().filter_map(|r| r.limit))
            .min();
        if let Some(limit) = limit
            && count > limit as usize
        {
            out.push(Inconsistency::EndpointLimit {
                endpoint: name.clone(),
                limit,
                count,
            });
        }
    }
}

fn check_containers(meta: &CharmMeta, state: &State, out: &mut Vec<Inconsistency>) {
    let mut names = BTreeSet::new();
    for c in &state.containers {
        if !names.insert(c.name.as_str()) {
            out.push(Inconsistency::DuplicateContainer {
                container: c.name.clone(),
            });
        }
        if !meta.containers.contains_key(&c.name) {
            out.push(Inconsistency::UnknownContainer {
                container: c.name.clone(),
            });
        }
        let services = c.service_names();
        for (service, status) in &c.service_statuses {
            let reason = if !services.contains(service) {
                "no layer of the container defines it".to_string()
            } else if !matches!(status, ServiceStatus::Active | ServiceStatus::Inactive) {
                format!(
                    "the fake Pebble cannot put a service in status {status:?} (only Active and Inactive)"
                )
            } else {
                continue;
            };
            out.push(Inconsistency::UnsupportedServiceStatus {
                container: c.name.clone(),
                service: service.clone(),
                reason,
            });
        }
        for path in c.files.keys().chain(c.dirs.iter()) {
            if !path.starts_with('/') {
                out.push(Inconsistency::RelativeFilePath {
                    container: c.name.clone(),
                    path: path.clone(),
                });
            }
        }
    }
}

fn check_secrets(state: &State, out: &mut Vec<Inconsistency>) {
    let mut ids = BTreeSet::new();
    for s in &state.secrets {
        if !ids.insert(s.id.as_str()) {
            out.push(Inconsistency::DuplicateSecretId {
                secret: s.id.clone(),
            });
        }
        if !s.revisions.contains_key(&s.tracked_revision) {
            out.push(Inconsistency::SecretTrackedRevision {
                secret: s.id.clone(),
                revision: s.tracked_revision,
            });
        }
        let mut relations: Vec<u32> = s.grants.iter().map(|g| g.relation).collect();
        if let SecretOwner::Remote { relation, .. } = &s.owner {
            relations.push(*relation);
        }
        for relation in relations {
            if state.relation(relation).is_none() {
                out.push(Inconsistency::SecretRelationMissing {
                    secret: s.id.clone(),
                    relation,
                });
            }
        }
    }
}

fn check_other(ctx: &Checked<'_>, state: &State, out: &mut Vec<Inconsistency>) {
    for s in &state.storages {
        if !ctx.meta.storage.contains_key(&s.name) {
            out.push(Inconsistency::UnknownStorage { storage: s.id() });
        }
    }
    for resource in state.resources.keys() {
        if !ctx.meta.resources.contains_key(resource) {
            out.push(Inconsistency::UnknownResource {
                resource: resource.clone(),
            });
        }
    }
    if let Some(planned) = state.planned_units {
        let needed = super::engine::peer_numbers(state, ctx.meta, ctx.unit_id).len();
        if planned < needed {
            out.push(Inconsistency::PlannedUnits { planned, needed });
        }
    }
    for binding in state.networks.keys() {
        let known = binding == "juju-info"
            || ctx.meta.endpoints.contains_key(binding)
            || ctx.meta.extra_bindings.contains(binding);
        if !known {
            out.push(Inconsistency::UnknownBinding {
                binding: binding.clone(),
            });
        }
    }
    let spec_on_k8s = ctx
        .juju_version
        .parse::<ops::JujuVersion>()
        .is_ok_and(|v| v >= ops::JujuVersion::new(3, 6, 10));
    if ctx.cloud_spec && ctx.model_type == super::ModelType::Kubernetes && !spec_on_k8s {
        out.push(Inconsistency::JujuVersion {
            feature: "a cloud spec on a Kubernetes model".to_string(),
            needed: "3.6.10".to_string(),
            version: ctx.juju_version.to_string(),
        });
    }
    if state.address.parse::<std::net::IpAddr>().is_err() {
        out.push(Inconsistency::InvalidAddress {
            address: state.address.clone(),
        });
    }
}
