//! From a Juju event name to the event's full name and snapshot.

use serde_json::{Value, json};

use crate::backend::RelationRef;
use crate::context::JujuContext;
use crate::meta::CharmMeta;

/// A Juju event, recognised: its full name, its data, and its scope name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JujuEventValue {
    pub(crate) name: String,
    pub(crate) snapshot: Value,
}

/// Why a Juju event could not be given its data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The event needs a `JUJU_*` variable that is not set.
    #[error("event {event} needs {variable}, which is not set")]
    MissingVariable {
        /// The event name.
        event: String,
        /// The variable.
        variable: &'static str,
    },
    /// `action-get` failed: the action fails (non-zero exit) instead of
    /// running with empty parameters.
    #[error("cannot read the parameters of action {action}: {source}")]
    ActionParams {
        /// The action.
        action: String,
        /// The hook tool's error.
        #[source]
        source: crate::backend::BackendError,
    },
}

const CHARM_EVENTS: &[&str] = &[
    "install",
    "start",
    "stop",
    "remove",
    "update_status",
    "config_changed",
    "upgrade_charm",
    "leader_elected",
    "leader_settings_changed",
    "pre_series_upgrade",
    "post_series_upgrade",
    "collect_metrics",
];
const SECRET_EVENTS: &[&str] = &[
    "secret_changed",
    "secret_remove",
    "secret_rotate",
    "secret_expired",
];
const RELATION_KINDS: &[&str] = &[
    "relation_created",
    "relation_joined",
    "relation_changed",
    "relation_departed",
    "relation_broken",
];
const CONTAINER_KINDS: &[&str] = &[
    "pebble_ready",
    "pebble_custom_notice",
    "pebble_check_failed",
    "pebble_check_recovered",
];
const STORAGE_KINDS: &[&str] = &["storage_attached", "storage_detaching"];

/// Whether `kind` after `<prefix>_` names one of `prefix`'s events.
fn split_scoped<'a>(
    name: &'a str,
    kinds: &[&'static str],
    names: impl Iterator<Item = &'a String>,
) -> Option<(&'a String, &'static str)> {
    for scope in names {
        let underscored = scope.replace('-', "_");
        let rest = name
            .strip_prefix(&underscored)
            .and_then(|r| r.strip_prefix('_'));
        if let Some(kind) = rest.and_then(|rest| kinds.iter().find(|k| **k == rest)) {
            return Some((scope, kind));
        }
    }
    None
}

/// Recognises the event Juju dispatched; `None` for a name this charm has no
/// such event for (an undeclared relation, an unknown hook).
pub(crate) fn resolve(
    meta: &CharmMeta,
    ctx: &JujuContext,
    action_params: impl FnOnce() -> crate::backend::Result<serde_json::Map<String, Value>>,
) -> Result<Option<JujuEventValue>, ResolveError> {
    let name = ctx.event_name();
    let missing = |variable| ResolveError::MissingVariable {
        event: name.clone(),
        variable,
    };
    if ctx.is_action() {
        let action = name.trim_end_matches("_action");
        let declared = meta
            .actions
            .keys()
            .find(|a| a.replace('-', "_") == action)
            .cloned();
        let Some(action) = declared else {
            return Ok(None);
        };
        let params = action_params().map_err(|source| ResolveError::ActionParams {
            action: action.clone(),
            source,
        })?;
        return Ok(Some(JujuEventValue {
            name,
            snapshot: json!({"name": action, "id": ctx.action_id, "params": params}),
        }));
    }
    if CHARM_EVENTS.contains(&name.as_str()) {
        return Ok(Some(JujuEventValue {
            name,
            snapshot: json!({}),
        }));
    }
    if SECRET_EVENTS.contains(&name.as_str()) {
        let id = ctx
            .secret_id
            .clone()
            .ok_or_else(|| missing("JUJU_SECRET_ID"))?;
        return Ok(Some(JujuEventValue {
            snapshot: json!({"id": id, "label": ctx.secret_label, "revision": ctx.secret_revision}),
            name,
        }));
    }
    if let Some((endpoint, _)) = split_scoped(&name, RELATION_KINDS, meta.endpoints.keys()) {
        let relation = match &ctx.relation {
            Some(r) => r.clone(),
            None => return Err(missing("JUJU_RELATION_ID")),
        };
        let relation = RelationRef::new(endpoint.clone(), relation.id);
        return Ok(Some(JujuEventValue {
            snapshot: json!({
                "relation": relation,
                "app": ctx.remote_app.clone().or_else(|| ctx.remote_unit.as_deref().and_then(|u| u.split('/').next()).map(str::to_string)),
                "unit": ctx.remote_unit,
                "departing_unit": ctx.departing_unit,
            }),
            name,
        }));
    }
    if let Some((container, kind)) = split_scoped(&name, CONTAINER_KINDS, meta.containers.keys()) {
        let snapshot = match kind {
            "pebble_custom_notice" => {
                let (id, kind, key) = ctx
                    .notice
                    .clone()
                    .ok_or_else(|| missing("JUJU_NOTICE_ID"))?;
                json!({"container": container, "notice_id": id, "notice_type": kind, "notice_key": key})
            }
            "pebble_check_failed" | "pebble_check_recovered" => {
                let check = ctx
                    .check_name
                    .clone()
                    .ok_or_else(|| missing("JUJU_PEBBLE_CHECK_NAME"))?;
                json!({"container": container, "check": check})
            }
            _ => json!({"container": container}),
        };
        return Ok(Some(JujuEventValue { name, snapshot }));
    }
    if let Some((storage, _)) = split_scoped(&name, STORAGE_KINDS, meta.storage.keys()) {
        let id = ctx
            .storage_id
            .clone()
            .ok_or_else(|| missing("JUJU_STORAGE_ID"))?;
        return Ok(Some(JujuEventValue {
            snapshot: json!({"name": storage, "id": id}),
            name,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::events::*;

    fn meta() -> CharmMeta {
        CharmMeta::from_charmcraft_yaml(
            "name: c\npeers: {pgb-peers: {interface: p}}\ncontainers: {pgbouncer: {}}\nstorage: {data: {type: filesystem}}\nactions: {get-password: {}}\n",
        )
        .unwrap()
    }

    fn ctx(path: &str, extra: &[(&str, &str)]) -> JujuContext {
        let mut vars = vec![
            ("JUJU_DISPATCH_PATH", path),
            ("JUJU_UNIT_NAME", "c/0"),
            ("JUJU_CHARM_DIR", "/x"),
        ];
        vars.extend_from_slice(extra);
        JujuContext::from_vars(vars).unwrap()
    }

    fn snapshot_as<E: Event>(path: &str, extra: &[(&str, &str)]) -> E {
        let value = resolve(&meta(), &ctx(path, extra), || Ok(Default::default()))
            .unwrap()
            .unwrap();
        serde_json::from_value(value.snapshot).unwrap()
    }

    #[test]
    fn every_scope_resolves_into_its_event_type() {
        let _: Install = snapshot_as("hooks/install", &[]);
        let changed: RelationChanged = snapshot_as(
            "hooks/pgb-peers-relation-changed",
            &[
                ("JUJU_RELATION_ID", "pgb-peers:2"),
                ("JUJU_REMOTE_UNIT", "c/1"),
            ],
        );
        assert_eq!(changed.relation, RelationRef::new("pgb-peers", 2));
        assert_eq!(changed.app.as_deref(), Some("c"));
        let ready: PebbleReady = snapshot_as(
            "hooks/pgbouncer-pebble-ready",
            &[("JUJU_WORKLOAD_NAME", "pgbouncer")],
        );
        assert_eq!(ready.container, "pgbouncer");
        let failed: PebbleCheckFailed = snapshot_as(
            "hooks/pgbouncer-pebble-check-failed",
            &[("JUJU_PEBBLE_CHECK_NAME", "up")],
        );
        assert_eq!(failed.check, "up");
        let notice: PebbleCustomNotice = snapshot_as(
            "hooks/pgbouncer-pebble-custom-notice",
            &[
                ("JUJU_NOTICE_ID", "1"),
                ("JUJU_NOTICE_TYPE", "custom"),
                ("JUJU_NOTICE_KEY", "a.com/b"),
            ],
        );
        assert_eq!(notice.notice_key, "a.com/b");
        let secret: SecretExpired = snapshot_as(
            "hooks/secret-expired",
            &[
                ("JUJU_SECRET_ID", "secret:x"),
                ("JUJU_SECRET_REVISION", "3"),
            ],
        );
        assert_eq!(secret.revision, Some(3));
        let attached: StorageAttached = snapshot_as(
            "hooks/data-storage-attached",
            &[("JUJU_STORAGE_ID", "data/0")],
        );
        assert_eq!(attached.id, "data/0");
        let action: ActionEvent = snapshot_as("actions/get-password", &[("JUJU_ACTION_UUID", "7")]);
        assert_eq!(action.name, "get-password");
    }

    #[test]
    fn unknown_names_are_none() {
        for path in [
            "hooks/db-relation-changed",
            "hooks/frobnicate",
            "actions/nope",
            "hooks/other-pebble-ready",
        ] {
            assert_eq!(
                resolve(&meta(), &ctx(path, &[]), || Ok(Default::default())).unwrap(),
                None,
                "{path}"
            );
        }
    }

    #[test]
    fn missing_variables_are_errors() {
        let err = resolve(
            &meta(),
            &ctx("hooks/pgb-peers-relation-changed", &[]),
            || Ok(Default::default()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("JUJU_RELATION_ID"));
        let err = resolve(&meta(), &ctx("hooks/secret-changed", &[]), || {
            Ok(Default::default())
        })
        .unwrap_err();
        assert!(err.to_string().contains("JUJU_SECRET_ID"));
    }

    #[test]
    fn a_failing_action_get_fails_the_action() {
        let err = resolve(&meta(), &ctx("actions/get-password", &[]), || {
            Err(crate::backend::BackendError::ToolFailed {
                command: "action-get".into(),
                args: vec!["--format=json".into()],
                status: 1,
                stderr: "ERROR cannot read action parameters".into(),
            })
        })
        .unwrap_err();
        assert!(
            matches!(&err, ResolveError::ActionParams { action, .. } if action == "get-password"),
            "{err}"
        );
    }
}
