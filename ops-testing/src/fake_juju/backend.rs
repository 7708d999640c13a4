//! `ops`' `Backend` over the fake model, for one unit in one hook.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use ops::backend::{
    Backend, BackendError, CloudSpec, LogLevel, OpenedPort, RelationRef, Result, SecretAddArgs,
    SecretInfo, SecretSetArgs, StatusInfo, StringMap,
};

use super::{FakeJuju, HookContext, HookError, HookErrorKind, PortRange};

/// The hook tools of one unit in one hook, answering from a shared
/// [`FakeJuju`] as Juju's tools would, failures included: each failure is
/// the `BackendError` that `ops`' `HookTools` makes of Juju's message
/// (`RelationNotFound`, `SecretNotFound`, `PermissionDenied`, else
/// `ToolFailed` with exit status 2 for usage errors and 1 otherwise).
///
/// The caller brackets the hook with [`FakeJuju::begin_hook`] and
/// [`FakeJuju::end_hook`], as Juju commits a hook's writes only when it
/// succeeds.
pub struct FakeBackend {
    juju: Arc<Mutex<FakeJuju>>,
    ctx: HookContext,
    calls: Mutex<Vec<String>>,
    restricted: bool,
    /// In `collect-metrics`: `add-metric` is taken.
    metrics: bool,
}

/// Juju's answer, in `collect-metrics` and `meter-status-changed`, to the
/// tools those hooks may not use.
pub const RESTRICTED_CONTEXT: &str = "not implemented for restricted context";

/// Juju's answer to `add-metric` in any hook but `collect-metrics`, whose
/// context alone records metrics.
pub const METRICS_NOT_ALLOWED: &str = "metrics not allowed in this context";

/// The one hook whose context takes `add-metric`.
pub const METRICS_HOOK: &str = "collect-metrics";

/// The hooks Juju runs in a restricted context.
pub const RESTRICTED_HOOKS: &[&str] = &["collect-metrics", "meter-status-changed"];

/// The hook tools refused with [`RESTRICTED_CONTEXT`] in a restricted hook:
/// the one list both [`FakeBackend::restricted`] and the `juju-hook-tool`
/// executable (when `JUJU_HOOK_NAME` is one of [`RESTRICTED_HOOKS`]) go by.
/// It is every tool behind a method of Juju's `jujuc.RestrictedContext`
/// that returns its error: all but `juju-log` and `opened-ports` (which
/// lists nothing there), and `add-metric`, which the metrics context of
/// `collect-metrics` provides.
pub const RESTRICTED_TOOLS: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "credential-get",
    "goal-state",
    "is-leader",
    "juju-reboot",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "resource-get",
    "secret-add",
    "secret-get",
    "secret-grant",
    "secret-ids",
    "secret-info-get",
    "secret-remove",
    "secret-revoke",
    "secret-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
    "storage-add",
    "storage-get",
    "storage-list",
];

/// Whether `tool` is refused in a restricted hook.
pub fn is_restricted_tool(tool: &str) -> bool {
    RESTRICTED_TOOLS.contains(&tool)
}

/// What Juju answers `tool` in `hook` (empty in an action) when its
/// context refuses it: the restricted context's tools, and `add-metric`
/// outside `collect-metrics`. `None` when the tool runs.
pub(crate) fn refusal(hook: &str, tool: &str) -> Option<&'static str> {
    if FakeBackend::is_restricted_hook(hook) && is_restricted_tool(tool) {
        Some(RESTRICTED_CONTEXT)
    } else if tool == "add-metric" && hook != METRICS_HOOK {
        Some(METRICS_NOT_ALLOWED)
    } else {
        None
    }
}

impl FakeBackend {
    /// The hook tools of `ctx.unit`, in the hook `ctx` describes.
    pub fn new(juju: Arc<Mutex<FakeJuju>>, ctx: HookContext) -> Self {
        Self {
            juju,
            ctx,
            calls: Mutex::new(Vec::new()),
            restricted: false,
            metrics: false,
        }
    }

    /// The hook tools of `ctx.unit` in the dispatch of `dispatch_path`
    /// (`JUJU_DISPATCH_PATH`: `hooks/<hook>` or `actions/<action>`):
    /// [`restricted`](Self::restricted) when Juju runs that hook in its
    /// restricted context (an action never is). The one place the
    /// in-process test faces (Harness, Context) decide it, as
    /// `juju-hook-tool` does for the simulator from `JUJU_HOOK_NAME`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ops::backend::Backend;
    /// use ops_testing::fake_juju::{FakeBackend, FakeJuju, HookContext};
    ///
    /// let juju = Arc::new(Mutex::new(FakeJuju::new("m")));
    /// let unit = || HookContext::unit("a/0");
    /// let metrics = FakeBackend::in_dispatch(juju.clone(), unit(), "hooks/collect-metrics");
    /// assert!(metrics.config_get().is_err());
    /// let action = FakeBackend::in_dispatch(juju.clone(), unit(), "actions/collect-metrics");
    /// assert!(action.config_get().is_ok());
    /// let changed = FakeBackend::in_dispatch(juju, unit(), "hooks/config-changed");
    /// assert!(changed.config_get().is_ok());
    /// ```
    pub fn in_dispatch(juju: Arc<Mutex<FakeJuju>>, ctx: HookContext, dispatch_path: &str) -> Self {
        let mut backend = Self::new(juju, ctx);
        let hook = dispatch_path.strip_prefix("hooks/");
        backend.metrics = hook == Some(METRICS_HOOK);
        match hook {
            Some(hook) if Self::is_restricted_hook(hook) => backend.restricted(),
            _ => backend,
        }
    }

    /// The same tools in a restricted hook (`collect-metrics`,
    /// `meter-status-changed`): `is-leader`, `status-set`, `relation-*`,
    /// `config-get` and `state-get` fail with Juju's
    /// [`RESTRICTED_CONTEXT`] message, as under Juju.
    pub fn restricted(mut self) -> Self {
        self.restricted = true;
        self
    }

    /// Whether a hook with this name runs in Juju's restricted context
    /// (one of [`RESTRICTED_HOOKS`]).
    pub fn is_restricted_hook(hook: &str) -> bool {
        RESTRICTED_HOOKS.contains(&hook)
    }

    /// The hook context this backend answers in.
    pub fn context(&self) -> &HookContext {
        &self.ctx
    }

    /// The hook tools called so far, by name, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many times `tool` was called.
    pub fn count(&self, tool: &str) -> usize {
        self.calls().iter().filter(|c| *c == tool).count()
    }

    /// Records a call of `tool` and locks the model for it, or refuses it
    /// as Juju does if the hook is restricted and so is the tool.
    fn call(&self, tool: &str) -> Result<MutexGuard<'_, FakeJuju>> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tool.to_string());
        if self.restricted && is_restricted_tool(tool) {
            return Err(BackendError::ToolFailed {
                command: tool.to_string(),
                args: Vec::new(),
                status: 1,
                stderr: format!("ERROR {RESTRICTED_CONTEXT}"),
            });
        }
        Ok(self.juju.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// The error `HookTools` would make of Juju's failure of `tool args...`.
fn to_backend_error(tool: &str, args: Vec<String>, error: HookError) -> BackendError {
    let stderr = format!("ERROR {}", error.message);
    let command = tool.to_string();
    match error.kind {
        HookErrorKind::RelationNotFound => BackendError::RelationNotFound {
            relation: args
                .iter()
                .position(|a| a == "-r" || a == "--relation")
                .and_then(|i| args.get(i + 1))
                .cloned()
                .unwrap_or_default(),
            command,
            stderr,
        },
        HookErrorKind::SecretNotFound => BackendError::SecretNotFound {
            secret: args
                .iter()
                .find(|a| a.starts_with("secret:"))
                .or_else(|| {
                    args.iter()
                        .position(|a| a == "--label")
                        .and_then(|i| args.get(i + 1))
                })
                .cloned()
                .unwrap_or_default(),
            command,
            stderr,
        },
        HookErrorKind::Permission => BackendError::PermissionDenied {
            command,
            args,
            stderr,
        },
        HookErrorKind::Usage | HookErrorKind::Other => BackendError::ToolFailed {
            command,
            args,
            status: if error.kind == HookErrorKind::Usage {
                2
            } else {
                1
            },
            stderr,
        },
    }
}

fn secret_ref_args(id: Option<&str>, label: Option<&str>) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(id) = id {
        args.push(id.to_string());
    }
    if let Some(label) = label {
        args.extend(strings(&["--label", label]));
    }
    args
}

impl Backend for FakeBackend {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationRef>> {
        let juju = self.call("relation-ids")?;
        juju.hook_relation_ids(&self.ctx, endpoint)
            .map_err(|e| to_backend_error("relation-ids", strings(&[endpoint]), e))
    }

    fn relation_list(&self, relation: &RelationRef) -> Result<Vec<String>> {
        let juju = self.call("relation-list")?;
        let r = relation.to_string();
        juju.hook_relation_list(&self.ctx, relation)
            .map_err(|e| to_backend_error("relation-list", strings(&["-r", &r]), e))
    }

    fn relation_remote_app(&self, relation: &RelationRef) -> Result<Option<String>> {
        let juju = self.call("relation-list")?;
        let r = relation.to_string();
        juju.hook_relation_remote_app(&self.ctx, relation)
            .map(Some)
            .map_err(|e| to_backend_error("relation-list", strings(&["-r", &r, "--app"]), e))
    }

    fn relation_get(&self, relation: &RelationRef, member: &str, app: bool) -> Result<StringMap> {
        let juju = self.call("relation-get")?;
        let r = relation.to_string();
        juju.hook_relation_get(&self.ctx, relation, member, app)
            .map_err(|e| to_backend_error("relation-get", strings(&["-r", &r, "-", member]), e))
    }

    fn relation_set(&self, relation: &RelationRef, app: bool, data: &StringMap) -> Result<()> {
        let mut juju = self.call("relation-set")?;
        let r = relation.to_string();
        juju.hook_relation_set(&self.ctx, relation, app, data)
            .map_err(|e| to_backend_error("relation-set", strings(&["-r", &r, "--file", "-"]), e))
    }

    fn is_leader(&self) -> Result<bool> {
        Ok(self.call("is-leader")?.hook_is_leader(&self.ctx))
    }

    fn config_get(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        Ok(self.call("config-get")?.hook_config_get(&self.ctx))
    }

    fn status_set(&self, app: bool, status: &StatusInfo) -> Result<()> {
        let mut juju = self.call("status-set")?;
        juju.hook_status_set(&self.ctx, app, status).map_err(|e| {
            let flag = format!("--application={}", if app { "True" } else { "False" });
            let args = strings(&[&flag, status.name.as_str(), "--", &status.message]);
            to_backend_error("status-set", args, e)
        })
    }

    fn status_get(&self, app: bool) -> Result<StatusInfo> {
        let juju = self.call("status-get")?;
        juju.hook_status_get(&self.ctx, app).map_err(|e| {
            let flag = format!("--application={app}");
            to_backend_error("status-get", strings(&["--include-data", &flag]), e)
        })
    }

    fn application_version_set(&self, version: &str) -> Result<()> {
        self.call("application-version-set")?
            .hook_application_version_set(&self.ctx, version);
        Ok(())
    }

    fn add_metric(&self, metrics: &[(String, String)], labels: &[(String, String)]) -> Result<()> {
        let mut juju = self.call("add-metric")?;
        if !self.metrics {
            return Err(BackendError::ToolFailed {
                command: "add-metric".to_string(),
                args: Vec::new(),
                status: 1,
                stderr: format!("ERROR {METRICS_NOT_ALLOWED}"),
            });
        }
        juju.hook_add_metric(&self.ctx, metrics, labels);
        Ok(())
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<()> {
        self.call("juju-log")?
            .hook_juju_log(&self.ctx, level, message);
        Ok(())
    }

    fn state_get(&self) -> Result<StringMap> {
        Ok(self.call("state-get")?.hook_state_get(&self.ctx))
    }

    fn state_set(&self, data: &StringMap) -> Result<()> {
        self.call("state-set")?
            .hook_state_set(&self.ctx, data)
            .map_err(|e| to_backend_error("state-set", strings(&["--file", "-"]), e))
    }

    fn state_delete(&self, key: &str) -> Result<()> {
        self.call("state-delete")?.hook_state_delete(&self.ctx, key);
        Ok(())
    }

    fn secret_add(&self, args: &SecretAddArgs) -> Result<String> {
        let mut juju = self.call("secret-add")?;
        juju.hook_secret_add(&self.ctx, args).map_err(|e| {
            let mut argv = secret_ref_args(None, args.label.as_deref());
            argv.extend(strings(&["--owner", args.owner.as_str()]));
            to_backend_error("secret-add", argv, e)
        })
    }

    fn secret_get(
        &self,
        id: Option<&str>,
        label: Option<&str>,
        refresh: bool,
        peek: bool,
    ) -> Result<StringMap> {
        let mut juju = self.call("secret-get")?;
        juju.hook_secret_get(&self.ctx, id, label, refresh, peek)
            .map_err(|e| to_backend_error("secret-get", secret_ref_args(id, label), e))
    }

    fn secret_info_get(&self, id: Option<&str>, label: Option<&str>) -> Result<SecretInfo> {
        let juju = self.call("secret-info-get")?;
        juju.hook_secret_info_get(&self.ctx, id, label)
            .map_err(|e| to_backend_error("secret-info-get", secret_ref_args(id, label), e))
    }

    fn secret_set(&self, id: &str, args: &SecretSetArgs) -> Result<()> {
        let mut juju = self.call("secret-set")?;
        juju.hook_secret_set(&self.ctx, id, args)
            .map_err(|e| to_backend_error("secret-set", strings(&[id]), e))
    }

    fn secret_grant(&self, id: &str, relation_id: u32, unit: Option<&str>) -> Result<()> {
        let mut juju = self.call("secret-grant")?;
        juju.hook_secret_grant(&self.ctx, id, relation_id, unit)
            .map_err(|e| {
                let r = relation_id.to_string();
                to_backend_error("secret-grant", strings(&["--relation", &r, id]), e)
            })
    }

    fn secret_revoke(&self, id: &str, relation_id: u32, unit: Option<&str>) -> Result<()> {
        let mut juju = self.call("secret-revoke")?;
        juju.hook_secret_revoke(&self.ctx, id, Some(relation_id), None, unit)
            .map_err(|e| {
                let r = relation_id.to_string();
                to_backend_error("secret-revoke", strings(&["--relation", &r, id]), e)
            })
    }

    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<()> {
        let mut juju = self.call("secret-remove")?;
        juju.hook_secret_remove(&self.ctx, id, revision)
            .map_err(|e| to_backend_error("secret-remove", strings(&[id]), e))
    }

    fn open_port(&self, port: &OpenedPort, _endpoints: &[String]) -> Result<()> {
        self.call("open-port")?
            .hook_open_port(&self.ctx, &PortRange::from(port));
        Ok(())
    }

    fn close_port(&self, port: &OpenedPort, _endpoints: &[String]) -> Result<()> {
        self.call("close-port")?
            .hook_close_port(&self.ctx, &PortRange::from(port));
        Ok(())
    }

    fn opened_ports(&self) -> Result<Vec<OpenedPort>> {
        let juju = self.call("opened-ports")?;
        Ok(juju
            .hook_opened_ports(&self.ctx)
            .iter()
            .map(PortRange::to_opened_port)
            .collect())
    }

    fn network_get(&self, binding: &str, relation_id: Option<u32>) -> Result<serde_json::Value> {
        let juju = self.call("network-get")?;
        let mut args = strings(&[binding]);
        if let Some(id) = relation_id {
            args.extend(strings(&["-r", &id.to_string()]));
            let known = juju
                .relations
                .get(&id)
                .is_some_and(|r| r.endpoint_of(self.ctx.app()).is_some());
            if !known {
                return Err(to_backend_error(
                    "network-get",
                    args,
                    HookError::relation_not_found(&id.to_string()),
                ));
            }
        }
        juju.hook_network_get(&self.ctx, binding)
            .map_err(|e| to_backend_error("network-get", args, e))
    }

    fn goal_state(&self) -> Result<serde_json::Value> {
        Ok(self.call("goal-state")?.hook_goal_state(&self.ctx))
    }

    fn resource_get(&self, name: &str) -> Result<PathBuf> {
        let juju = self.call("resource-get")?;
        juju.hook_resource_get(&self.ctx, name)
            .map(PathBuf::from)
            .map_err(|e| to_backend_error("resource-get", strings(&[name]), e))
    }

    fn action_get(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        let juju = self.call("action-get")?;
        juju.hook_action_get(&self.ctx)
            .map_err(|e| to_backend_error("action-get", vec![], e))
    }

    fn action_set(&self, results: &StringMap) -> Result<()> {
        let mut juju = self.call("action-set")?;
        juju.hook_action_set(&self.ctx, results).map_err(|e| {
            let args = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
            to_backend_error("action-set", args, e)
        })
    }

    fn action_fail(&self, message: &str) -> Result<()> {
        let mut juju = self.call("action-fail")?;
        juju.hook_action_fail(&self.ctx, message)
            .map_err(|e| to_backend_error("action-fail", strings(&["--", message]), e))
    }

    fn action_log(&self, message: &str) -> Result<()> {
        let mut juju = self.call("action-log")?;
        juju.hook_action_log(&self.ctx, message)
            .map_err(|e| to_backend_error("action-log", strings(&["--", message]), e))
    }

    fn credential_get(&self) -> Result<CloudSpec> {
        let spec = self
            .call("credential-get")?
            .hook_credential_get(&self.ctx)
            .map_err(|e| to_backend_error("credential-get", strings(&["--format=json"]), e))?;
        // As ops' HookTools reads it: the output holds a credential, so
        // neither it nor serde's reason (which may quote it) is kept.
        serde_json::from_value(spec).map_err(|_| BackendError::MalformedOutput {
            command: "credential-get".to_string(),
            reason: "not a cloud spec".to_string(),
            output: "<secret content withheld>".to_string(),
        })
    }

    fn secret_ids(&self) -> Result<Vec<String>> {
        // Juju prints bare ids; ops' HookTools gives them their `secret:`.
        Ok(self
            .call("secret-ids")?
            .hook_secret_ids(&self.ctx)
            .into_iter()
            .map(|id| {
                if id.starts_with("secret:") {
                    id
                } else {
                    format!("secret:{id}")
                }
            })
            .collect())
    }

    fn juju_reboot(&self, _now: bool) -> Result<()> {
        self.call("juju-reboot")?.hook_reboot(&self.ctx);
        Ok(())
    }

    fn storage_list(&self, name: Option<&str>) -> Result<Vec<String>> {
        Ok(self
            .call("storage-list")?
            .hook_storage_list(&self.ctx, name))
    }

    fn storage_get_location(&self, id: &str) -> Result<PathBuf> {
        let juju = self.call("storage-get")?;
        let location = juju
            .hook_storage_get(&self.ctx, id, Some("location"))
            .map_err(|e| {
                to_backend_error(
                    "storage-get",
                    strings(&["--format=json", "-s", id, "location"]),
                    e,
                )
            })?;
        Ok(PathBuf::from(location.as_str().unwrap_or_default()))
    }

    fn storage_add(&self, name: &str, count: u32) -> Result<()> {
        let mut juju = self.call("storage-add")?;
        juju.hook_storage_add(&self.ctx, name, count)
            .map_err(|e| to_backend_error("storage-add", strings(&[&format!("{name}={count}")]), e))
    }

    fn relation_model_get(&self, relation: &RelationRef) -> Result<String> {
        let juju = self.call("relation-model-get")?;
        let r = relation.to_string();
        juju.hook_relation_model_get(&self.ctx, relation)
            .map_err(|e| to_backend_error("relation-model-get", strings(&["-r", &r]), e))
    }
}
