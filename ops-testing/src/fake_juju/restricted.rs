//! What Juju refuses in a hook's context: the restricted context of
//! `collect-metrics` and `meter-status-changed`, and `add-metric` outside
//! `collect-metrics`. One set of rules for the in-process tools
//! ([`FakeTools`](super::FakeTools)) and the `juju-hook-tool` executable.

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
/// the one list both [`FakeTools`](super::FakeTools) and the `juju-hook-tool`
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

/// Whether a hook with this name runs in Juju's restricted context (one
/// of [`RESTRICTED_HOOKS`]).
pub fn is_restricted_hook(hook: &str) -> bool {
    RESTRICTED_HOOKS.contains(&hook)
}

/// Whether `tool` is refused in a restricted hook.
pub fn is_restricted_tool(tool: &str) -> bool {
    RESTRICTED_TOOLS.contains(&tool)
}

/// What Juju answers `tool` in `hook` (empty in an action) when its
/// context refuses it: the restricted context's tools, and `add-metric`
/// outside `collect-metrics`. `None` when the tool runs.
pub(crate) fn refusal(hook: &str, tool: &str) -> Option<&'static str> {
    if is_restricted_hook(hook) && is_restricted_tool(tool) {
        Some(RESTRICTED_CONTEXT)
    } else if tool == "add-metric" && hook != METRICS_HOOK {
        Some(METRICS_NOT_ALLOWED)
    } else {
        None
    }
}
