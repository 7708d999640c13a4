//! Health checks as Pebble's check manager keeps them
//! (`internals/overlord/checkstate`): operations on the state's check
//! records and changes (the API, `api::checks`, serves them), without probes: the fake runs no
//! HTTP, TCP or exec check; tests say how each run went
//! ([`FakePebble::fail_check`](super::FakePebble::fail_check),
//! [`pass_check`](super::FakePebble::pass_check)).
//!
//! A running check has a change: `perform-check` while it is up. When its
//! failures in a row reach its threshold that change fails, the services
//! with `on-check-failure: {<check>: restart}` are restarted, and a
//! `recover-check` change takes over while it is down; its first success
//! ends that change and a new `perform-check` one starts.

use std::collections::{BTreeMap, BTreeSet};

use ops::pebble::{Check, CheckInfo, CheckStartup, CheckStatus, Service};
use serde_json::{Value, json};

use super::http::Reply;
use super::plan::DEFAULT_THRESHOLD;
use super::state::{CheckRecord, State};

const PERFORM: &str = "perform-check";
const RECOVER: &str = "recover-check";

/// Why a test could not report a check run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckRunError {
    /// No check of that name in the plan.
    #[error("check {0:?} is not in the plan")]
    NotInPlan(String),
    /// The check is inactive (stopped, or `startup: disabled` and never
    /// started): Pebble does not run it.
    #[error("check {0:?} is not running")]
    NotRunning(String),
}

impl CheckRecord {
    fn threshold(&self) -> u32 {
        threshold(&self.config)
    }

    fn info(&self, name: &str) -> CheckInfo {
        CheckInfo {
            name: name.to_string(),
            level: self.config.level.clone(),
            // Pebble's check manager reports an unset startup as enabled.
            startup: self.config.startup.clone().unwrap_or(CheckStartup::Enabled),
            status: self.status,
            successes: Some(self.successes),
            failures: self.failures,
            threshold: self.threshold(),
            change_id: self.change_id.clone(),
            prev_change_id: self.prev_change_id.clone(),
        }
    }

    /// The entry of `GET /v1/checks`, with Pebble's `omitempty` fields.
    pub(crate) fn json(&self, name: &str) -> Value {
        let info = self.info(name);
        let mut value = json!({
            "name": info.name,
            "startup": info.startup.as_str(),
            "status": info.status.as_str(),
            "successes": self.successes,
            "threshold": info.threshold,
        });
        if let Some(level) = &info.level {
            value["level"] = level.as_str().into();
        }
        if self.failures > 0 {
            value["failures"] = self.failures.into();
        }
        if let Some(id) = info.change_id {
            value["change-id"] = id.into();
        }
        if let Some(id) = info.prev_change_id {
            value["prev-change-id"] = id.into();
        }
        value
    }
}

fn threshold(check: &Check) -> u32 {
    check
        .threshold
        .filter(|t| *t > 0)
        .unwrap_or(DEFAULT_THRESHOLD)
}

/// `HTTP`, `TCP` or `exec`, as in Pebble's change summaries.
fn check_type(check: &Check) -> &'static str {
    if check.http.is_some() {
        "HTTP"
    } else if check.tcp.is_some() {
        "TCP"
    } else {
        "exec"
    }
}

/// What a failed run reports, as Pebble's checkers word it.
fn failure_message(check: &Check) -> String {
    if check.http.is_some() {
        "non-2xx status code 500".to_string()
    } else if let Some(tcp) = &check.tcp {
        let host = tcp
            .host
            .as_deref()
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost");
        format!(
            "dial tcp {host}:{}: connect: connection refused",
            tcp.port.unwrap_or(0)
        )
    } else {
        "exit status 1".to_string()
    }
}

/// Whether a check starts when its layer is added and on replan.
fn starts_by_default(check: &Check) -> bool {
    matches!(check.startup, None | Some(CheckStartup::Enabled))
}

impl State {
    /// The service an exec check takes its context from, as it is now.
    fn context_of(&self, check: &Check) -> Option<Service> {
        let name = check.exec.as_ref()?.service_context.as_deref()?;
        self.plan.services.get(name).cloned()
    }

    /// Starts a `perform-check` change for `name` and records it up.
    fn start_check(&mut self, name: &str, config: Check, successes: u32, prev: Option<String>) {
        let summary = format!("Perform {} check {name:?}", check_type(&config));
        let change = self.spawn_running_change(PERFORM, summary, notice_data(name));
        let context = self.context_of(&config);
        self.checks.insert(
            name.to_string(),
            CheckRecord {
                config,
                context,
                status: CheckStatus::Up,
                successes,
                failures: 0,
                change_id: Some(change),
                prev_change_id: prev,
            },
        );
    }

    /// Records `name` inactive with no runs (a `startup: disabled` check).
    fn inactive_check(&mut self, name: &str, config: Check) {
        let context = self.context_of(&config);
        self.checks.insert(
            name.to_string(),
            CheckRecord {
                config,
                context,
                status: CheckStatus::Inactive,
                successes: 0,
                failures: 0,
                change_id: None,
                prev_change_id: None,
            },
        );
    }

    /// Pebble's `CheckManager.PlanChanged`, run on every layer added:
    /// running checks whose configuration changed are restarted (unless
    /// they became `startup: disabled`: those keep running), removed ones
    /// stopped, and every other check that is not running is started if
    /// its startup is enabled, or recorded inactive if not.
    pub(crate) fn checks_plan_changed(&mut self) {
        let plan_checks = self.plan.checks.clone();
        let running: Vec<(String, String)> = self
            .checks
            .iter()
            .filter_map(|(name, r)| Some((name.clone(), r.change_id.clone()?)))
            .collect();
        let mut start = BTreeSet::new();
        for (name, change) in &running {
            if let Some(new) = plan_checks.get(name) {
                let record = &self.checks[name];
                if record.config == *new && record.context == self.context_of(new) {
                    continue;
                }
                if new.startup == Some(CheckStartup::Disabled) && starts_by_default(&record.config)
                {
                    continue;
                }
                start.insert(name.clone());
            }
            self.finish_change(change, "Hold");
            self.checks.remove(name);
        }
        let was_running: BTreeSet<&String> = running.iter().map(|(n, _)| n).collect();
        for (name, config) in &plan_checks {
            if was_running.contains(name) {
                continue;
            }
            if starts_by_default(config) {
                start.insert(name.clone());
            } else {
                self.inactive_check(name, config.clone());
            }
        }
        self.checks.retain(|name, _| plan_checks.contains_key(name));
        for name in start {
            self.start_check(&name, plan_checks[&name].clone(), 0, None);
        }
    }

    /// Pebble's `CheckManager.Replan`: checks not running whose startup is
    /// enabled are started.
    pub(crate) fn checks_replan(&mut self) {
        let idle: Vec<(String, Check)> = self
            .plan
            .checks
            .iter()
            .filter(|(name, config)| {
                starts_by_default(config)
                    && self
                        .checks
                        .get(*name)
                        .is_some_and(|r| r.change_id.is_none())
            })
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect();
        for (name, config) in idle {
            self.start_check(&name, config, 0, None);
        }
    }

    /// A check's status, as `GET /v1/checks` gives it.
    pub fn check_info(&self, name: &str) -> Option<CheckInfo> {
        self.checks.get(name).map(|r| r.info(name))
    }

    /// `POST /v1/checks`: the checks that changed, sorted, or the error reply.
    pub(crate) fn checks_action(
        &mut self,
        action: &str,
        names: &[String],
    ) -> Result<Vec<String>, Reply> {
        if !matches!(action, "start" | "stop") {
            return Err(Reply::bad_request(format!("invalid action {action:?}")));
        }
        let mut missing: Vec<&str> = names
            .iter()
            .filter(|n| !self.plan.checks.contains_key(*n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            return Err(Reply::bad_request(format!(
                "cannot {action} checks: cannot find checks in plan: {}",
                missing.join(", ")
            )));
        }
        let mut changed = Vec::new();
        for name in names {
            let Some(record) = self.checks.get(name) else {
                continue;
            };
            match (action, record.change_id.clone()) {
                ("start", None) => {
                    self.start_check(name, self.plan.checks[name].clone(), 0, None);
                    changed.push(name.clone());
                }
                ("stop", Some(change)) => {
                    self.finish_change(&change, "Hold");
                    // Counts are kept, so the stopped check shows how it was.
                    if let Some(record) = self.checks.get_mut(name) {
                        record.status = CheckStatus::Inactive;
                        record.change_id = None;
                    }
                    changed.push(name.clone());
                }
                _ => {}
            }
        }
        changed.sort();
        changed.dedup();
        Ok(changed)
    }

    /// One run of a running check: failed (`Err` with its message) or not.
    pub fn run_check(
        &mut self,
        name: &str,
        outcome: Result<(), String>,
    ) -> Result<(), CheckRunError> {
        let change = self
            .checks
            .get(name)
            .ok_or_else(|| CheckRunError::NotInPlan(name.to_string()))?
            .change_id
            .clone()
            .ok_or_else(|| CheckRunError::NotRunning(name.to_string()))?;
        if self.change_ready(&change) != Some(false) {
            // Its change was aborted: Pebble runs the check no more.
            return Err(CheckRunError::NotRunning(name.to_string()));
        }
        let Some(record) = self.checks.get_mut(name) else {
            return Err(CheckRunError::NotInPlan(name.to_string()));
        };
        let threshold = record.threshold();
        match (record.status, outcome) {
            (CheckStatus::Down, Ok(())) => {
                // Recovered: the recover-check change is done and a new
                // perform-check one starts, one success counted.
                let config = record.config.clone();
                self.finish_change(&change, "Done");
                self.start_check(name, config, 1, Some(change));
            }
            (CheckStatus::Down, Err(message)) => {
                record.failures += 1;
                self.log_task(&change, "ERROR", &message);
            }
            (_, Ok(())) => {
                record.successes += 1;
                let failures = std::mem::take(&mut record.failures);
                if failures > 0 {
                    let plural = if failures == 1 { "failure" } else { "failures" };
                    self.log_task(
                        &change,
                        "INFO",
                        &format!("succeeded after {failures} {plural}"),
                    );
                }
            }
            (_, Err(message)) => {
                record.failures += 1;
                let (successes, failures) = (record.successes, record.failures);
                let summary = format!("Recover {} check {name:?}", check_type(&record.config));
                self.log_task(&change, "ERROR", &message);
                if failures >= threshold {
                    self.finish_change(&change, "Error");
                    self.restart_for_failed_check(name);
                    let recover = self.spawn_running_change(RECOVER, summary, notice_data(name));
                    if let Some(record) = self.checks.get_mut(name) {
                        record.status = CheckStatus::Down;
                        record.successes = successes;
                        record.change_id = Some(recover);
                        record.prev_change_id = Some(change);
                    }
                }
            }
        }
        Ok(())
    }

    /// A failed run of `name` with the message its kind of check gives.
    pub fn fail_check(&mut self, name: &str) -> Result<(), CheckRunError> {
        let message = self
            .checks
            .get(name)
            .map(|r| failure_message(&r.config))
            .unwrap_or_default();
        self.run_check(name, Err(message))
    }
}

/// The `change-update` notice data of a check's changes.
fn notice_data(check: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("check-name".to_string(), check.to_string())])
}
