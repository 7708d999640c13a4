//! Layers and the plan as Pebble's `internals/plan` handles them: parsing
//! and validating a layer, combining layers by `override`, validating the
//! combined plan, and ordering services by `requires`, `after` and `before`.

use std::collections::{BTreeMap, BTreeSet};

use crate::memo::Memo;

use ops::pebble::{
    Check, CheckLevel, CheckStartup, Layer, LogTarget, Override, Plan, Service, ServiceAction,
};

/// Top-level layer keys Pebble knows (`workloads` is an extension section).
const SECTIONS: [&str; 6] = [
    "summary",
    "description",
    "services",
    "checks",
    "log-targets",
    "workloads",
];

static LAYERS: Memo<Layer> = Memo::new();

/// [`parse_layer`], once per label and text: a charm adds the same layer
/// at every hook, and its tests run the same hooks again and again.
pub(crate) fn parse_layer_once(label: &str, yaml: &str) -> Result<Layer, String> {
    LAYERS.get_or_try(format!("{label}\0{yaml}"), || parse_layer(label, yaml))
}

/// Parses and validates one layer as Pebble's `plan.ParseLayer` does.
pub(crate) fn parse_layer(label: &str, yaml: &str) -> Result<Layer, String> {
    let value: serde_norway::Value =
        serde_norway::from_str(yaml).map_err(|e| format!("cannot parse layer {label:?}: {e}"))?;
    match &value {
        serde_norway::Value::Null => return Ok(Layer::default()),
        serde_norway::Value::Mapping(map) => {
            for key in map.keys() {
                let key = key.as_str().unwrap_or("");
                if !SECTIONS.contains(&key) {
                    return Err(format!(
                        "cannot parse layer {label:?}: unknown section {key:?}"
                    ));
                }
            }
        }
        _ => return Err(format!("cannot parse layer {label:?}: not a mapping")),
    }
    // Leniently, as Pebble does: a word the enums do not know is their
    // `Other`, refused below (or by `combine_layers`, for `override`) with
    // Pebble's message.
    let layer: Layer = serde_norway::from_value(value)
        .map_err(|e| format!("cannot parse layer {label:?}: {e}"))?;
    if label.starts_with("pebble-") {
        return Err("cannot use reserved label prefix \"pebble-\"".into());
    }
    for (name, service) in &layer.services {
        if name.is_empty() {
            return Err("cannot use empty string as service name".into());
        }
        if name == "pebble" {
            return Err(format!("cannot use reserved service name {name:?}"));
        }
        if name.starts_with('-') {
            return Err(format!(
                "cannot use service name {name:?}: starting with \"-\" not allowed"
            ));
        }
        // Pebble does not check a service's `startup`: any other word is
        // kept, and the service is not started by replan.
        let actions = [
            (
                "on-success",
                service.on_success.as_ref(),
                ServiceAction::FailureShutdown,
            ),
            (
                "on-failure",
                service.on_failure.as_ref(),
                ServiceAction::SuccessShutdown,
            ),
        ];
        let check_actions = service.on_check_failure.values().map(|action| {
            (
                "on-check-failure",
                Some(action),
                ServiceAction::SuccessShutdown,
            )
        });
        for (field, action, also) in actions.into_iter().chain(check_actions) {
            if let Some(action) = action
                && !valid_action(action, &also)
            {
                return Err(format!(
                    "plan service {name:?} {field} action {:?} invalid",
                    action.as_str()
                ));
            }
        }
    }
    for (name, check) in &layer.checks {
        if name.is_empty() {
            return Err("cannot use empty string as check name".into());
        }
        if !matches!(
            check.level,
            None | Some(CheckLevel::Alive | CheckLevel::Ready)
        ) {
            return Err(format!(
                "plan check {name:?} level must be \"alive\" or \"ready\""
            ));
        }
        if !matches!(
            check.startup,
            None | Some(CheckStartup::Enabled | CheckStartup::Disabled)
        ) {
            return Err(format!(
                "plan check {name:?} startup must be \"enabled\" or \"disabled\""
            ));
        }
    }
    Ok(layer)
}

/// Pebble's `validServiceAction`: the actions every field takes, and the
/// one only this field does (`also`). An empty word is unset, which is
/// valid; only `on-check-failure`'s map can still hold one.
fn valid_action(action: &ServiceAction, also: &ServiceAction) -> bool {
    action == also
        || match action {
            ServiceAction::Restart | ServiceAction::Shutdown | ServiceAction::Ignore => true,
            ServiceAction::Other(word) => word.is_empty(),
            _ => false,
        }
}

/// Which of merge and replace an item asks for.
fn override_of(
    label: &str,
    what: &str,
    name: &str,
    value: Option<&Override>,
) -> Result<bool, String> {
    match value {
        Some(Override::Merge) => Ok(true),
        Some(Override::Replace) => Ok(false),
        None => Err(format!(
            "layer {label:?} must define \"override\" for {what} {name:?}"
        )),
        Some(_) => Err(format!(
            "layer {label:?} has invalid \"override\" value for {what} {name:?}"
        )),
    }
}

/// Pebble's `plan.CombineLayers`.
pub(crate) fn combine_layers(layers: &[(String, Layer)]) -> Result<Layer, String> {
    let mut combined = Layer::default();
    if let Some((_, last)) = layers.last() {
        combined.summary = last.summary.clone();
        combined.description = last.description.clone();
    }
    for (label, layer) in layers {
        for (name, service) in &layer.services {
            let merge = override_of(label, "service", name, service.override_.as_ref())?;
            match combined.services.get_mut(name) {
                Some(old) if merge => merge_service(old, service),
                _ => {
                    combined.services.insert(name.clone(), service.clone());
                }
            }
        }
        for (name, check) in &layer.checks {
            let merge = override_of(label, "check", name, check.override_.as_ref())?;
            match combined.checks.get_mut(name) {
                Some(old) if merge => merge_check(old, check),
                _ => {
                    combined.checks.insert(name.clone(), check.clone());
                }
            }
        }
        for (name, target) in &layer.log_targets {
            let merge = override_of(label, "log target", name, target.override_.as_ref())?;
            match combined.log_targets.get_mut(name) {
                Some(old) if merge => merge_log_target(old, target),
                _ => {
                    combined.log_targets.insert(name.clone(), target.clone());
                }
            }
        }
    }
    Ok(combined)
}

/// Failures in a row before a check is down, unless its layer says.
pub(crate) const DEFAULT_THRESHOLD: u32 = 3;

/// The plan `layers` (lowest first) make, as Pebble shows it: combined,
/// with each check's default threshold filled in, and validated.
pub(crate) fn plan_of(layers: &[(String, Layer)]) -> Result<Plan, String> {
    let mut combined = combine_layers(layers)?;
    for check in combined.checks.values_mut() {
        // Pebble's CombineLayers default, shown in the plan.
        if check.threshold.unwrap_or(0) == 0 {
            check.threshold = Some(DEFAULT_THRESHOLD);
        }
    }
    let plan = Plan {
        services: combined.services,
        checks: combined.checks,
        log_targets: combined.log_targets,
    };
    validate_plan(&plan)?;
    Ok(plan)
}

/// Overwrites `old` with `new` if `new` is set and not empty.
fn set<T: Clone + PartialEq + Default>(old: &mut Option<T>, new: &Option<T>) {
    if let Some(value) = new
        && *value != T::default()
    {
        *old = Some(value.clone());
    }
}

/// Overwrites `old` with `new` if `new` is set: for the enums, where an
/// empty word already reads as unset.
fn set_word<T: Clone>(old: &mut Option<T>, new: &Option<T>) {
    if new.is_some() {
        old.clone_from(new);
    }
}

fn merge_service(old: &mut Service, new: &Service) {
    set(&mut old.summary, &new.summary);
    set(&mut old.description, &new.description);
    set_word(&mut old.startup, &new.startup);
    set(&mut old.command, &new.command);
    set(&mut old.kill_delay, &new.kill_delay);
    if new.user_id.is_some() {
        old.user_id = new.user_id;
    }
    set(&mut old.user, &new.user);
    if new.group_id.is_some() {
        old.group_id = new.group_id;
    }
    set(&mut old.group, &new.group);
    set(&mut old.working_dir, &new.working_dir);
    old.after.extend(new.after.iter().cloned());
    old.before.extend(new.before.iter().cloned());
    old.requires.extend(new.requires.iter().cloned());
    set(&mut old.workload, &new.workload);
    old.environment.extend(new.environment.clone());
    set_word(&mut old.on_success, &new.on_success);
    set_word(&mut old.on_failure, &new.on_failure);
    old.on_check_failure.extend(new.on_check_failure.clone());
    set(&mut old.backoff_delay, &new.backoff_delay);
    if new.backoff_factor.is_some() {
        old.backoff_factor = new.backoff_factor;
    }
    set(&mut old.backoff_limit, &new.backoff_limit);
}

fn merge_check(old: &mut Check, new: &Check) {
    set_word(&mut old.level, &new.level);
    set_word(&mut old.startup, &new.startup);
    set(&mut old.period, &new.period);
    set(&mut old.timeout, &new.timeout);
    set(&mut old.threshold, &new.threshold);
    if let Some(http) = &new.http {
        let old = old.http.get_or_insert_with(Default::default);
        set(&mut old.url, &http.url);
        old.headers.extend(http.headers.clone());
    }
    if let Some(tcp) = &new.tcp {
        let old = old.tcp.get_or_insert_with(Default::default);
        set(&mut old.port, &tcp.port);
        set(&mut old.host, &tcp.host);
    }
    if let Some(exec) = &new.exec {
        let old = old.exec.get_or_insert_with(Default::default);
        set(&mut old.command, &exec.command);
        set(&mut old.service_context, &exec.service_context);
        old.environment.extend(exec.environment.clone());
        if exec.user_id.is_some() {
            old.user_id = exec.user_id;
        }
        set(&mut old.user, &exec.user);
        if exec.group_id.is_some() {
            old.group_id = exec.group_id;
        }
        set(&mut old.group, &exec.group);
        set(&mut old.working_dir, &exec.working_dir);
    }
}

fn merge_log_target(old: &mut LogTarget, new: &LogTarget) {
    set(&mut old.type_, &new.type_);
    set(&mut old.location, &new.location);
    old.services.extend(new.services.iter().cloned());
    old.labels.extend(new.labels.clone());
}

/// Pebble's `Plan.Validate`.
pub(crate) fn validate_plan(plan: &Plan) -> Result<(), String> {
    for (name, service) in &plan.services {
        if service.command.as_deref().unwrap_or("").is_empty() {
            return Err(format!("plan must define \"command\" for service {name:?}"));
        }
    }
    for (name, check) in &plan.checks {
        let mut kinds = 0;
        if let Some(http) = &check.http {
            if http.url.as_deref().unwrap_or("").is_empty() {
                return Err(format!("plan must set \"url\" for http check {name:?}"));
            }
            kinds += 1;
        }
        if let Some(tcp) = &check.tcp {
            if tcp.port.unwrap_or(0) == 0 {
                return Err(format!("plan must set \"port\" for tcp check {name:?}"));
            }
            kinds += 1;
        }
        if let Some(exec) = &check.exec {
            if exec.command.as_deref().unwrap_or("").is_empty() {
                return Err(format!("plan must set \"command\" for exec check {name:?}"));
            }
            if let Some(context) = exec.service_context.as_deref().filter(|c| !c.is_empty())
                && !plan.services.contains_key(context)
            {
                return Err(format!(
                    "plan check {name:?} service context specifies non-existent service {context:?}"
                ));
            }
            kinds += 1;
        }
        if kinds != 1 {
            return Err(format!(
                "plan must specify one of \"http\", \"tcp\", or \"exec\" for check {name:?}"
            ));
        }
    }
    for (name, target) in &plan.log_targets {
        if target.type_.as_deref().unwrap_or("").is_empty() {
            return Err(format!(
                "plan must define \"type\" (\"loki\", \"opentelemetry\" or \"syslog\") for log target {name:?}"
            ));
        }
        if target.location.as_deref().unwrap_or("").is_empty() {
            return Err(format!(
                "plan must define \"location\" for log target {name:?}"
            ));
        }
    }
    let all: Vec<String> = plan.services.keys().cloned().collect();
    order(plan, &all, false).map(drop)
}

/// The services to start (with what they require) or stop (with what
/// requires them), ordered by `after`/`before` (reversed for stopping).
pub(crate) fn order(plan: &Plan, names: &[String], stop: bool) -> Result<Vec<String>, String> {
    let missing = |name: &str| format!("service {name:?} does not exist");
    let mut set = BTreeSet::new();
    let mut pending: Vec<String> = names.to_vec();
    while let Some(name) = pending.pop() {
        if !set.insert(name.clone()) {
            continue;
        }
        let service = plan.services.get(&name).ok_or_else(|| missing(&name))?;
        if stop {
            pending.extend(
                plan.services
                    .iter()
                    .filter(|(_, s)| s.requires.contains(&name))
                    .map(|(n, _)| n.clone()),
            );
        } else {
            pending.extend(service.requires.iter().cloned());
        }
    }
    // Edges first → then, among the chosen services.
    let mut preds: BTreeMap<&str, BTreeSet<&str>> =
        set.iter().map(|n| (n.as_str(), BTreeSet::new())).collect();
    for name in &set {
        let service = &plan.services[name];
        for after in service.after.iter().filter(|a| set.contains(*a)) {
            let (first, then) = if stop {
                (name.as_str(), after.as_str())
            } else {
                (after.as_str(), name.as_str())
            };
            preds.entry(then).or_default().insert(first);
        }
        for before in service.before.iter().filter(|b| set.contains(*b)) {
            let (first, then) = if stop {
                (before.as_str(), name.as_str())
            } else {
                (name.as_str(), before.as_str())
            };
            preds.entry(then).or_default().insert(first);
        }
    }
    let mut ordered = Vec::new();
    while !preds.is_empty() {
        let Some(next) = preds.iter().find(|(_, p)| p.is_empty()).map(|(n, _)| *n) else {
            let stuck: Vec<&str> = preds.keys().copied().collect();
            return Err(format!(
                "services in before/after loop: {}",
                stuck.join(", ")
            ));
        };
        preds.remove(next);
        for p in preds.values_mut() {
            p.remove(next);
        }
        ordered.push(next.to_string());
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(yaml: &str) -> Layer {
        parse_layer("t", yaml).unwrap()
    }

    #[test]
    fn checks_and_log_targets_merge_field_by_field() {
        let base = layer(
            "checks:\n  up:\n    override: replace\n    level: alive\n    http:\n      url: http://localhost/\n      \
             headers: {A: '1'}\nlog-targets:\n  loki:\n    override: replace\n    type: loki\n    \
             location: http://loki\n    services: [web]\n",
        );
        let top = layer(
            "checks:\n  up:\n    override: merge\n    period: 5s\n    http:\n      headers: {B: '2'}\n\
             log-targets:\n  loki:\n    override: merge\n    services: [db]\n",
        );
        let combined = combine_layers(&[("base".into(), base), ("top".into(), top)]).unwrap();
        let up = &combined.checks["up"];
        assert_eq!(up.level, Some(CheckLevel::Alive));
        assert_eq!(up.period.as_deref(), Some("5s"));
        let http = up.http.as_ref().unwrap();
        assert_eq!(http.url.as_deref(), Some("http://localhost/"));
        assert_eq!(http.headers.len(), 2);
        assert_eq!(combined.log_targets["loki"].services, vec!["web", "db"]);
    }

    #[test]
    fn requires_pulls_in_dependencies_and_dependants() {
        let l = layer(
            "services:\n  app:\n    override: replace\n    command: app\n    requires: [db]\n    after: [db]\n  \
             db:\n    override: replace\n    command: db\n  other:\n    override: replace\n    command: o\n",
        );
        let plan = Plan {
            services: l.services,
            ..Default::default()
        };
        assert_eq!(
            order(&plan, &["app".into()], false).unwrap(),
            vec!["db", "app"]
        );
        assert_eq!(
            order(&plan, &["db".into()], true).unwrap(),
            vec!["app", "db"]
        );
        assert_eq!(
            order(&plan, &["ghost".into()], false).unwrap_err(),
            "service \"ghost\" does not exist"
        );
        assert!(validate_plan(&plan).is_ok());
    }
}
