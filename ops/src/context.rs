//! The `JUJU_*` environment of one hook, typed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::backend::RelationRef;

/// A `JUJU_*` variable is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A variable Juju always sets is not set.
    #[error("environment variable {name} is not set; is this running under Juju?")]
    Missing {
        /// The variable.
        name: &'static str,
    },
    /// A variable has a value of the wrong form.
    #[error("environment variable {name} has malformed value {value:?}: expected {expected}")]
    Malformed {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// The form expected.
        expected: &'static str,
    },
    /// A `JUJU_*` variable is not valid UTF-8.
    #[error("environment variable {name} is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        name: String,
    },
}

/// The variable ops sets, to the dispatch path, for the processes it starts
/// (the hook tools; a charm passes [`JujuContext::child_env`] to its own), so
/// that a charm binary started by the charm itself exits at once, as Python
/// ops does.
pub const OPERATOR_DISPATCH_VAR: &str = "OPERATOR_DISPATCH";

/// What Juju tells a charm about the hook it runs, from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JujuContext {
    /// `JUJU_DISPATCH_PATH`, e.g. `hooks/pgb-peers-relation-changed`.
    pub dispatch_path: String,
    /// `JUJU_UNIT_NAME`, e.g. `pgbouncer-k8s/0`.
    pub unit_name: String,
    /// `JUJU_MODEL_NAME`.
    pub model_name: String,
    /// `JUJU_MODEL_UUID`.
    pub model_uuid: String,
    /// `JUJU_CHARM_DIR`.
    pub charm_dir: PathBuf,
    /// `JUJU_VERSION`.
    pub version: String,
    /// `JUJU_RELATION` and `JUJU_RELATION_ID`, parsed together.
    pub relation: Option<RelationRef>,
    /// `JUJU_REMOTE_UNIT`.
    pub remote_unit: Option<String>,
    /// `JUJU_REMOTE_APP`.
    pub remote_app: Option<String>,
    /// `JUJU_DEPARTING_UNIT`.
    pub departing_unit: Option<String>,
    /// `JUJU_ACTION_NAME`.
    pub action_name: Option<String>,
    /// `JUJU_ACTION_UUID`.
    pub action_id: Option<String>,
    /// `JUJU_WORKLOAD_NAME`: the container of a Pebble event.
    pub workload_name: Option<String>,
    /// `JUJU_NOTICE_ID`, `JUJU_NOTICE_TYPE`, `JUJU_NOTICE_KEY`.
    pub notice: Option<(String, String, String)>,
    /// `JUJU_PEBBLE_CHECK_NAME`.
    pub check_name: Option<String>,
    /// `JUJU_SECRET_ID`.
    pub secret_id: Option<String>,
    /// `JUJU_SECRET_LABEL`.
    pub secret_label: Option<String>,
    /// `JUJU_SECRET_REVISION`.
    pub secret_revision: Option<u64>,
    /// `JUJU_STORAGE_ID`, e.g. `data/0`.
    pub storage_id: Option<String>,
    /// `JUJU_MACHINE_ID`: the machine the unit is on (machine models).
    pub machine_id: Option<String>,
    /// `JUJU_AVAILABILITY_ZONE`: the zone the unit is in, if the cloud has zones.
    pub availability_zone: Option<String>,
    /// `JUJU_PRINCIPAL_UNIT`: the principal unit of a subordinate unit.
    pub principal_unit: Option<String>,
    /// `OPERATOR_DISPATCH` holds this dispatch's path, as ops sets it for the
    /// processes it starts: this process was started by the charm itself.
    /// Any other value (set by something else) is not a re-entry.
    pub reentrant: bool,
}

impl JujuContext {
    /// Reads the process environment.
    ///
    /// A variable that is not UTF-8 does not panic (as `std::env::vars`
    /// would): a `JUJU_*` one is [`ContextError::NotUnicode`], any other is
    /// ignored.
    pub fn from_env() -> Result<Self, ContextError> {
        Self::from_vars_os(std::env::vars_os())
    }

    /// [`from_vars`](Self::from_vars) over OS strings, as the environment holds them.
    pub fn from_vars_os(
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Self, ContextError> {
        let mut utf8 = Vec::new();
        for (key, value) in vars {
            match (key.into_string(), value.into_string()) {
                (Ok(key), Ok(value)) => utf8.push((key, value)),
                (Ok(key), Err(_)) if key.starts_with("JUJU_") => {
                    return Err(ContextError::NotUnicode { name: key });
                }
                _ => {}
            }
        }
        Self::from_vars(utf8)
    }

    /// Reads a set of variables (for tests, and for the simulator).
    ///
    /// ```
    /// let ctx = ops::JujuContext::from_vars([
    ///     ("JUJU_DISPATCH_PATH", "hooks/db-relation-changed"),
    ///     ("JUJU_UNIT_NAME", "app/0"),
    ///     ("JUJU_CHARM_DIR", "/var/lib/juju/charm"),
    ///     ("JUJU_RELATION", "db"),
    ///     ("JUJU_RELATION_ID", "db:3"),
    /// ]).unwrap();
    /// assert_eq!(ctx.event_name(), "db_relation_changed");
    /// assert_eq!(ctx.relation.unwrap().id, 3);
    /// ```
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, ContextError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let get = |name: &str| vars.get(name).cloned();
        let require = |name: &'static str| get(name).ok_or(ContextError::Missing { name });

        let dispatch_path = require("JUJU_DISPATCH_PATH")?;
        let reentrant = vars.get(OPERATOR_DISPATCH_VAR) == Some(&dispatch_path);
        let unit_name = require("JUJU_UNIT_NAME")?;
        if !unit_name.contains('/') {
            return Err(ContextError::Malformed {
                name: "JUJU_UNIT_NAME",
                value: unit_name,
                expected: "<application>/<number>",
            });
        }
        let charm_dir = PathBuf::from(require("JUJU_CHARM_DIR")?);
        let relation = match get("JUJU_RELATION_ID") {
            Some(raw) => Some(parse_relation_id(&raw, get("JUJU_RELATION").as_deref())?),
            None => None,
        };
        let secret_revision = match get("JUJU_SECRET_REVISION") {
            Some(raw) => Some(raw.parse().map_err(|_| ContextError::Malformed {
                name: "JUJU_SECRET_REVISION",
                value: raw.clone(),
                expected: "a revision number",
            })?),
            None => None,
        };
        let notice = get("JUJU_NOTICE_ID").map(|id| {
            (
                id,
                get("JUJU_NOTICE_TYPE").unwrap_or_default(),
                get("JUJU_NOTICE_KEY").unwrap_or_default(),
            )
        });
        Ok(Self {
            dispatch_path,
            unit_name,
            model_name: get("JUJU_MODEL_NAME").unwrap_or_default(),
            model_uuid: get("JUJU_MODEL_UUID").unwrap_or_default(),
            charm_dir,
            version: get("JUJU_VERSION").unwrap_or_default(),
            relation,
            remote_unit: get("JUJU_REMOTE_UNIT"),
            remote_app: get("JUJU_REMOTE_APP"),
            departing_unit: get("JUJU_DEPARTING_UNIT"),
            action_name: get("JUJU_ACTION_NAME"),
            action_id: get("JUJU_ACTION_UUID"),
            workload_name: get("JUJU_WORKLOAD_NAME"),
            notice,
            check_name: get("JUJU_PEBBLE_CHECK_NAME"),
            secret_id: get("JUJU_SECRET_ID"),
            secret_label: get("JUJU_SECRET_LABEL"),
            secret_revision,
            storage_id: get("JUJU_STORAGE_ID"),
            machine_id: get("JUJU_MACHINE_ID"),
            availability_zone: get("JUJU_AVAILABILITY_ZONE"),
            principal_unit: get("JUJU_PRINCIPAL_UNIT"),
            reentrant,
        })
    }

    /// Whether this is a hook Juju runs in its restricted context
    /// (`collect-metrics`, `meter-status-changed`), where `is-leader`,
    /// `status-set`, `relation-*`, `config-get` and `state-get` fail.
    pub fn is_restricted(&self) -> bool {
        !self.is_action()
            && matches!(
                self.event_name().as_str(),
                "collect_metrics" | "meter_status_changed"
            )
    }

    /// The event name: the last element of the dispatch path, `-` → `_`
    /// (`hooks/pgb-peers-relation-changed` → `pgb_peers_relation_changed`,
    /// `actions/get-password` → `get_password_action`).
    pub fn event_name(&self) -> String {
        let last = self
            .dispatch_path
            .rsplit('/')
            .next()
            .unwrap_or(&self.dispatch_path)
            .replace('-', "_");
        if self.is_action() && !last.ends_with("_action") {
            format!("{last}_action")
        } else {
            last
        }
    }

    /// What a process the charm starts should have in its environment
    /// (`Command::envs(ctx.child_env())`): `OPERATOR_DISPATCH` set to this
    /// dispatch's path, so that the charm binary, if that process runs it,
    /// knows it is a re-entry. (ops cannot set it in its own environment:
    /// the crate forbids `unsafe`, which `std::env::set_var` needs.)
    ///
    /// ```
    /// # let ctx = ops::JujuContext::from_vars([
    /// #     ("JUJU_DISPATCH_PATH", "hooks/install"), ("JUJU_UNIT_NAME", "a/0"),
    /// #     ("JUJU_CHARM_DIR", "/charm"),
    /// # ]).unwrap();
    /// let mut child = std::process::Command::new("true");
    /// child.envs(ctx.child_env());
    /// assert_eq!(ctx.child_env(), [("OPERATOR_DISPATCH", "hooks/install")]);
    /// ```
    pub fn child_env(&self) -> [(&'static str, &str); 1] {
        [(OPERATOR_DISPATCH_VAR, self.dispatch_path.as_str())]
    }

    /// Whether this dispatch runs an action (`actions/<name>`).
    pub fn is_action(&self) -> bool {
        self.dispatch_path.starts_with("actions/")
    }

    /// The application name: the unit name before the `/`.
    pub fn app_name(&self) -> &str {
        self.unit_name.split('/').next().unwrap_or(&self.unit_name)
    }
}

/// Parses `JUJU_RELATION_ID`: `name:3`, or `3` with the name from `JUJU_RELATION`.
fn parse_relation_id(raw: &str, relation_name: Option<&str>) -> Result<RelationRef, ContextError> {
    let malformed = || ContextError::Malformed {
        name: "JUJU_RELATION_ID",
        value: raw.to_string(),
        expected: "<endpoint>:<id> or <id>",
    };
    let (name, id) = match raw.rsplit_once(':') {
        Some((name, id)) => (name.to_string(), id),
        None => (
            relation_name
                .ok_or(ContextError::Missing {
                    name: "JUJU_RELATION",
                })?
                .to_string(),
            raw,
        ),
    };
    if name.is_empty() {
        return Err(malformed());
    }
    let id = id.parse().map_err(|_| malformed())?;
    Ok(RelationRef::new(name, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("JUJU_DISPATCH_PATH", "hooks/pgb-peers-relation-changed"),
            ("JUJU_UNIT_NAME", "pgbouncer-k8s/1"),
            ("JUJU_CHARM_DIR", "/charm"),
            ("JUJU_MODEL_NAME", "dev"),
        ]
    }

    #[test]
    fn event_name_from_dispatch_path() {
        let ctx = JujuContext::from_vars(base()).unwrap();
        assert_eq!(ctx.event_name(), "pgb_peers_relation_changed");
        assert_eq!(ctx.app_name(), "pgbouncer-k8s");
        let mut vars = base();
        vars[0].1 = "actions/get-password";
        let ctx = JujuContext::from_vars(vars).unwrap();
        assert_eq!(ctx.event_name(), "get_password_action");
        assert!(ctx.is_action());
    }

    #[test]
    fn placement_from_machine_zone_and_principal_vars() {
        let ctx = JujuContext::from_vars(base()).unwrap();
        assert_eq!(
            (ctx.machine_id, ctx.availability_zone, ctx.principal_unit),
            (None, None, None)
        );
        let mut vars = base();
        vars.extend([
            ("JUJU_MACHINE_ID", "3/lxd/1"),
            ("JUJU_AVAILABILITY_ZONE", "us-east-1a"),
            ("JUJU_PRINCIPAL_UNIT", "mysql/0"),
        ]);
        let ctx = JujuContext::from_vars(vars).unwrap();
        assert_eq!(ctx.machine_id.as_deref(), Some("3/lxd/1"));
        assert_eq!(ctx.availability_zone.as_deref(), Some("us-east-1a"));
        assert_eq!(ctx.principal_unit.as_deref(), Some("mysql/0"));
    }

    #[test]
    fn relation_id_both_forms() {
        let mut vars = base();
        vars.push(("JUJU_RELATION_ID", "pgb-peers:3"));
        assert_eq!(
            JujuContext::from_vars(vars).unwrap().relation,
            Some(RelationRef::new("pgb-peers", 3))
        );
        let mut vars = base();
        vars.push(("JUJU_RELATION_ID", "7"));
        vars.push(("JUJU_RELATION", "db"));
        assert_eq!(
            JujuContext::from_vars(vars).unwrap().relation,
            Some(RelationRef::new("db", 7))
        );
    }

    #[test]
    fn malformed_and_missing_variables_are_named() {
        let mut vars = base();
        vars.push(("JUJU_RELATION_ID", "db:x"));
        let err = JujuContext::from_vars(vars).unwrap_err();
        assert!(
            matches!(
                err,
                ContextError::Malformed {
                    name: "JUJU_RELATION_ID",
                    ..
                }
            ),
            "{err}"
        );
        let mut vars = base();
        vars.push(("JUJU_RELATION_ID", "4"));
        let err = JujuContext::from_vars(vars).unwrap_err();
        assert!(
            matches!(
                err,
                ContextError::Missing {
                    name: "JUJU_RELATION"
                }
            ),
            "{err}"
        );
        let vars: Vec<_> = base()
            .into_iter()
            .filter(|(k, _)| *k != "JUJU_UNIT_NAME")
            .collect();
        let err = JujuContext::from_vars(vars).unwrap_err();
        assert!(err.to_string().contains("JUJU_UNIT_NAME"), "{err}");
        let mut vars = base();
        vars[1].1 = "nounit";
        assert!(matches!(
            JujuContext::from_vars(vars),
            Err(ContextError::Malformed {
                name: "JUJU_UNIT_NAME",
                ..
            })
        ));
        let vars: Vec<_> = base()
            .into_iter()
            .filter(|(k, _)| *k != "JUJU_DISPATCH_PATH")
            .collect();
        assert!(matches!(
            JujuContext::from_vars(vars),
            Err(ContextError::Missing {
                name: "JUJU_DISPATCH_PATH"
            })
        ));
    }

    #[test]
    fn non_utf8_variables_do_not_panic() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![0x66, 0xff, 0x6f]);
        let mut vars: Vec<(OsString, OsString)> = base()
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        vars.push(("LANG_JUNK".into(), bad()));
        vars.push((bad(), "x".into()));
        let ctx = JujuContext::from_vars_os(vars.clone()).unwrap();
        assert_eq!(ctx.unit_name, "pgbouncer-k8s/1");
        vars.push(("JUJU_REMOTE_UNIT".into(), bad()));
        assert!(matches!(
            JujuContext::from_vars_os(vars),
            Err(ContextError::NotUnicode { name }) if name == "JUJU_REMOTE_UNIT"
        ));
    }

    #[test]
    fn only_operator_dispatch_as_ops_sets_it_marks_reentry() {
        let mut vars = base();
        vars.push(("OPERATOR_DISPATCH", "hooks/pgb-peers-relation-changed"));
        assert!(JujuContext::from_vars(vars).unwrap().reentrant);
        for other in ["1", "", "hooks/install"] {
            let mut vars = base();
            vars.push(("OPERATOR_DISPATCH", other));
            assert!(
                !JujuContext::from_vars(vars).unwrap().reentrant,
                "{other:?}"
            );
        }
        assert!(!JujuContext::from_vars(base()).unwrap().reentrant);
    }
}
