//! One hook or action as Juju invokes it, and the environment Juju gives
//! the charm for it (the uniter's `HookVars`): the one description that the
//! Harness, `Context` and the simulator each turn into a dispatch, so that
//! the three tell a charm the same things in the same variables.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ops::backend::{Backend, HookTools};
use ops::storage::{JujuStateStore, StateStore};
use ops::{ContextError, JujuContext, StateLocation};

use crate::fake_juju::{FakeJuju, FakeTools, HookContext};

/// The Juju version the test faces and the simulator report by default.
pub const JUJU_VERSION: &str = "3.6.0";

/// One dispatch of a charm: which hook or action, for which unit, in which
/// model, with which relation and units, and the event's own variables.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    /// `hooks/<name>` or `actions/<name>` (`JUJU_DISPATCH_PATH`).
    pub dispatch_path: String,
    /// The unit and, for a relation hook, the relation and units: what the
    /// hook tools default to.
    pub context: HookContext,
    pub model_name: String,
    pub model_uuid: String,
    pub charm_dir: PathBuf,
    pub juju_version: String,
    /// The event's own variables (`JUJU_WORKLOAD_NAME`, `JUJU_NOTICE_*`,
    /// `JUJU_SECRET_*`, `JUJU_ACTION_*`, ...) and the unit's placement
    /// (`JUJU_MACHINE_ID`, `JUJU_AVAILABILITY_ZONE`, ...), as given.
    pub event_vars: Vec<(String, String)>,
}

impl Invocation {
    /// The hook's name, as `JUJU_HOOK_NAME` gives it: empty for an action.
    pub fn hook_name(&self) -> &str {
        self.dispatch_path.strip_prefix("hooks/").unwrap_or("")
    }

    /// Begins this dispatch in `juju` (its writes pending until the fake's
    /// `end_hook`): what the charm is told, and the hook tools it calls,
    /// `ops`' own `HookTools` over the fake's tool table, as under Juju.
    pub fn begin(&self, juju: &Arc<Mutex<FakeJuju>>) -> Result<Begun, ContextError> {
        let context = JujuContext::from_vars(self.env())?;
        juju.lock()
            .unwrap_or_else(|e| e.into_inner())
            .begin_hook(&self.context);
        let tools = FakeTools::in_dispatch(juju.clone(), self.context.clone(), &self.dispatch_path)
            .hook_tools();
        Ok(Begun { context, tools })
    }

    /// The `JUJU_*` variables Juju sets for this dispatch.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = [
            ("JUJU_DISPATCH_PATH", self.dispatch_path.clone()),
            ("JUJU_HOOK_NAME", self.hook_name().to_string()),
            ("JUJU_UNIT_NAME", self.context.unit.clone()),
            ("JUJU_MODEL_NAME", self.model_name.clone()),
            ("JUJU_MODEL_UUID", self.model_uuid.clone()),
            ("JUJU_CHARM_DIR", self.charm_dir.display().to_string()),
            ("JUJU_VERSION", self.juju_version.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(relation) = &self.context.relation {
            vars.push(("JUJU_RELATION".into(), relation.name.clone()));
            vars.push(("JUJU_RELATION_ID".into(), relation.to_string()));
        }
        for (var, value) in [
            ("JUJU_REMOTE_UNIT", &self.context.remote_unit),
            ("JUJU_REMOTE_APP", &self.context.remote_app),
            ("JUJU_DEPARTING_UNIT", &self.context.departing_unit),
        ] {
            if let Some(value) = value {
                vars.push((var.to_string(), value.clone()));
            }
        }
        vars.extend(self.event_vars.iter().cloned());
        vars
    }
}

/// An event's own variables ([`Invocation::event_vars`]), named once here
/// for the Harness, `Context` and the simulator alike.
pub(crate) mod event_vars {
    fn var(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    /// A workload event: its container, and the custom notice (id, type,
    /// key) or the check that fired it.
    pub(crate) fn workload(
        container: &str,
        notice: Option<(&str, &str, &str)>,
        check: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut vars = vec![var("JUJU_WORKLOAD_NAME", container)];
        if let Some((id, kind, key)) = notice {
            vars.push(var("JUJU_NOTICE_ID", id));
            vars.push(var("JUJU_NOTICE_TYPE", kind));
            vars.push(var("JUJU_NOTICE_KEY", key));
        }
        if let Some(check) = check {
            vars.push(var("JUJU_PEBBLE_CHECK_NAME", check));
        }
        vars
    }

    /// A secret event: the secret's id, its label if it has one here, and
    /// the revision (secret-expired, secret-remove).
    pub(crate) fn secret(
        id: &str,
        label: Option<&str>,
        revision: Option<u64>,
    ) -> Vec<(String, String)> {
        let mut vars = vec![var("JUJU_SECRET_ID", id)];
        if let Some(label) = label {
            vars.push(var("JUJU_SECRET_LABEL", label));
        }
        if let Some(revision) = revision {
            vars.push(var("JUJU_SECRET_REVISION", &revision.to_string()));
        }
        vars
    }

    /// An action: its name and the id of this run of it.
    pub(crate) fn action(name: &str, uuid: &str) -> Vec<(String, String)> {
        vec![var("JUJU_ACTION_NAME", name), var("JUJU_ACTION_UUID", uuid)]
    }
}

/// A dispatch begun in the fake Juju ([`Invocation::begin`]).
pub(crate) struct Begun {
    /// What the charm is told about its hook.
    pub context: JujuContext,
    /// The hook tools the charm calls.
    pub tools: HookTools,
}

/// The store a charm keeps its state in, by where its `main` says: Juju's
/// unit state through `tools`, or `in_charm_dir`, the face's stand-in for
/// the charm directory's state file.
pub(crate) fn state_store(
    location: StateLocation,
    tools: Arc<dyn Backend>,
    in_charm_dir: Box<dyn StateStore>,
) -> Box<dyn StateStore> {
    match location {
        StateLocation::CharmDir => in_charm_dir,
        StateLocation::Juju => Box::new(JujuStateStore::new(tools)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ops::backend::RelationRef;

    fn value<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_relation_hook_names_its_relation_and_units() {
        let invocation = Invocation {
            dispatch_path: "hooks/db-relation-departed".into(),
            context: HookContext {
                unit: "app/0".into(),
                relation: Some(RelationRef::new("db", 7)),
                remote_unit: Some("pg/1".into()),
                remote_app: Some("pg".into()),
                departing_unit: Some("pg/1".into()),
            },
            model_name: "m".into(),
            model_uuid: "00000000-0000-4000-8000-000000000001".into(),
            charm_dir: PathBuf::from("/charm"),
            juju_version: JUJU_VERSION.into(),
            event_vars: vec![("JUJU_MACHINE_ID".into(), "3".into())],
        };
        let vars = invocation.env();
        for (name, expected) in [
            ("JUJU_DISPATCH_PATH", "hooks/db-relation-departed"),
            ("JUJU_HOOK_NAME", "db-relation-departed"),
            ("JUJU_UNIT_NAME", "app/0"),
            ("JUJU_MODEL_NAME", "m"),
            ("JUJU_MODEL_UUID", "00000000-0000-4000-8000-000000000001"),
            ("JUJU_CHARM_DIR", "/charm"),
            ("JUJU_VERSION", "3.6.0"),
            ("JUJU_RELATION", "db"),
            ("JUJU_RELATION_ID", "db:7"),
            ("JUJU_REMOTE_UNIT", "pg/1"),
            ("JUJU_REMOTE_APP", "pg"),
            ("JUJU_DEPARTING_UNIT", "pg/1"),
            ("JUJU_MACHINE_ID", "3"),
        ] {
            assert_eq!(value(&vars, name), Some(expected), "{name}");
        }
    }

    #[test]
    fn an_action_has_no_hook_name_and_a_charm_hook_no_relation() {
        let mut invocation = Invocation {
            dispatch_path: "actions/backup".into(),
            context: HookContext::unit("app/0"),
            model_name: "m".into(),
            model_uuid: "u".into(),
            charm_dir: PathBuf::from("/charm"),
            juju_version: JUJU_VERSION.into(),
            event_vars: Vec::new(),
        };
        assert_eq!(value(&invocation.env(), "JUJU_HOOK_NAME"), Some(""));
        invocation.dispatch_path = "hooks/start".into();
        let vars = invocation.env();
        assert_eq!(value(&vars, "JUJU_HOOK_NAME"), Some("start"));
        assert_eq!(value(&vars, "JUJU_RELATION_ID"), None);
        assert_eq!(value(&vars, "JUJU_REMOTE_APP"), None);
    }

    #[test]
    fn an_events_own_variables_are_named_as_juju_names_them() {
        let vars = event_vars::workload("db", Some(("7", "custom", "example.com/up")), None);
        for (name, expected) in [
            ("JUJU_WORKLOAD_NAME", "db"),
            ("JUJU_NOTICE_ID", "7"),
            ("JUJU_NOTICE_TYPE", "custom"),
            ("JUJU_NOTICE_KEY", "example.com/up"),
        ] {
            assert_eq!(value(&vars, name), Some(expected), "{name}");
        }
        let vars = event_vars::workload("db", None, Some("ready"));
        assert_eq!(value(&vars, "JUJU_PEBBLE_CHECK_NAME"), Some("ready"));
        assert_eq!(value(&vars, "JUJU_NOTICE_ID"), None);
        let vars = event_vars::secret("secret:abc", Some("creds"), Some(3));
        assert_eq!(value(&vars, "JUJU_SECRET_ID"), Some("secret:abc"));
        assert_eq!(value(&vars, "JUJU_SECRET_LABEL"), Some("creds"));
        assert_eq!(value(&vars, "JUJU_SECRET_REVISION"), Some("3"));
        let vars = event_vars::secret("secret:abc", None, None);
        assert_eq!(vars.len(), 1);
        let vars = event_vars::action("backup", "9");
        assert_eq!(value(&vars, "JUJU_ACTION_NAME"), Some("backup"));
        assert_eq!(value(&vars, "JUJU_ACTION_UUID"), Some("9"));
    }
}
