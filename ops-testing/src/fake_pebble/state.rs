//! The fake Pebble's plan, services and changes, behaving as Pebble's plan
//! and service managers do (`internals/plan`, `internals/overlord/servstate`).
//!
//! The bottom of the fake's layers: the state holds the data (check
//! records and the notice and identity stores included) and plain
//! operations on it. `checks` works on it, and `api` drives both (for
//! example telling the checks when a layer was added, as Pebble's plan
//! manager does); nothing here calls up into them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use ops::pebble::{
    Check, CheckStatus, Layer, Plan, Service, ServiceAction, ServiceStartup, ServiceStatus,
};
use serde_json::{Value, json};

use super::http::Reply;
use super::identities::Identities;
use super::notices::{CHANGE_UPDATE, Notices};
use super::plan::{combine_layers, order, parse_layer_once, plan_of};
use super::util::rfc3339;
use super::{FileOwner, ServiceEvent};

/// How many log lines a task keeps, as Pebble's `Task.addLog`.
const TASK_LOG_LINES: usize = 10;

/// The signals Pebble accepts by name.
const SIGNALS: [&str; 31] = [
    "SIGABRT",
    "SIGALRM",
    "SIGBUS",
    "SIGCHLD",
    "SIGCONT",
    "SIGFPE",
    "SIGHUP",
    "SIGILL",
    "SIGINT",
    "SIGIO",
    "SIGKILL",
    "SIGPIPE",
    "SIGPOLL",
    "SIGPROF",
    "SIGPWR",
    "SIGQUIT",
    "SIGSEGV",
    "SIGSTKFLT",
    "SIGSTOP",
    "SIGSYS",
    "SIGTERM",
    "SIGTRAP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGUSR1",
    "SIGUSR2",
    "SIGVTALRM",
    "SIGWINCH",
    "SIGXCPU",
];

/// A service that was started at least once.
#[derive(Debug, Clone)]
struct ServiceRecord {
    status: ServiceStatus,
    /// The configuration it was (last) started with.
    config: Service,
    since: SystemTime,
}

#[derive(Debug, Clone)]
struct TaskRecord {
    id: String,
    kind: &'static str,
    summary: String,
    status: &'static str,
    log: Vec<String>,
    time: SystemTime,
    /// The task's `data` (an exec's `exit-code`).
    data: Option<Value>,
}

#[derive(Debug, Clone)]
struct ChangeRecord {
    id: String,
    kind: String,
    summary: String,
    /// `Doing` while a long-running task (a check's) runs, then `Done`,
    /// `Error` or `Hold` (stopped).
    status: &'static str,
    tasks: Vec<TaskRecord>,
    err: Option<String>,
    service_names: Vec<String>,
    /// What the change's `change-update` notices carry besides `kind`.
    notice_data: BTreeMap<String, String>,
    spawn: SystemTime,
    /// When it became ready; `None` while it is still in progress (an exec
    /// waiting for its process).
    ready: Option<SystemTime>,
}

/// What the fake knows of one check in the plan.
#[derive(Debug, Clone)]
pub(crate) struct CheckRecord {
    /// The configuration it was (last) started with.
    pub config: Check,
    /// The service its exec check runs in the context of, as it was then.
    pub context: Option<Service>,
    pub status: CheckStatus,
    pub successes: u32,
    pub failures: u32,
    pub change_id: Option<String>,
    pub prev_change_id: Option<String>,
}

/// Everything the fake Pebble remembers.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub layers: Vec<(String, Layer)>,
    pub plan: Plan,
    services: BTreeMap<String, ServiceRecord>,
    changes: Vec<ChangeRecord>,
    next_task: u64,
    pub events: Vec<ServiceEvent>,
    pub start_errors: BTreeMap<String, String>,
    pub owners: BTreeMap<String, FileOwner>,
    /// The container's files while they are in memory; `None` once they
    /// are in the host directory (and for a fake that starts there).
    pub memory: Option<super::disk::MemoryTree>,
    pub checks: BTreeMap<String, CheckRecord>,
    pub notices: Notices,
    pub identities: Identities,
    /// Warnings, oldest first.
    pub warnings: Vec<super::api::warnings::WarningRecord>,
    /// Every request line served, `<METHOD> <path>` (no query), in order.
    pub requests: Vec<String>,
}

enum Step {
    Start(String),
    Stop(String),
}

/// A services change planned by [`State::plan_services_change`], to run
/// with [`State::run_services_change`].
pub(crate) struct ServicesChange {
    kind: String,
    summary: String,
    steps: Vec<Step>,
    service_names: Vec<String>,
}

impl State {
    /// Pebble as a new pod starts it (churn, `juju refresh`): no layers, so
    /// no plan, services or checks, and none of the old Pebble's changes,
    /// notices, identities or warnings. The files stay, and so do what the test set up and the
    /// records it reads (service events, start errors, requests).
    pub fn start_afresh(&mut self) {
        *self = State {
            events: std::mem::take(&mut self.events),
            start_errors: std::mem::take(&mut self.start_errors),
            owners: std::mem::take(&mut self.owners),
            memory: self.memory.take(),
            requests: std::mem::take(&mut self.requests),
            ..State::default()
        };
    }

    /// `POST /v1/layers` with action `add`: the 400 message on failure.
    pub fn add_layer(&mut self, label: &str, combine: bool, yaml: &str) -> Result<(), String> {
        let layer =
            parse_layer_once(label, yaml).map_err(|e| format!("cannot parse layer YAML: {e}"))?;
        let existing = self.layers.iter().position(|(l, _)| l == label);
        let mut layers = self.layers.clone();
        match existing {
            Some(_) if !combine => return Err(format!("layer {label:?} already exists")),
            Some(index) => {
                let combined =
                    combine_layers(&[layers[index].clone(), (label.to_string(), layer)])?;
                layers[index].1 = combined;
            }
            None => layers.push((label.to_string(), layer)),
        }
        let plan = plan_of(&layers)?;
        self.layers = layers;
        self.plan = plan;
        Ok(())
    }

    /// A service's state: `None` if it is not in the plan.
    pub fn service_status(&self, name: &str) -> Option<ServiceStatus> {
        self.plan.services.get(name)?;
        Some(
            self.services
                .get(name)
                .map_or(ServiceStatus::Inactive, |r| r.status),
        )
    }

    /// `GET /v1/services`: every service in the plan, or only those named.
    pub fn service_infos(&self, names: &[String]) -> Value {
        let infos: Vec<Value> = self
            .plan
            .services
            .iter()
            .filter(|(name, _)| names.is_empty() || names.contains(name))
            .map(|(name, service)| {
                // Pebble's service manager: anything but enabled is disabled.
                let startup = if is_enabled(service) {
                    ServiceStartup::Enabled
                } else {
                    ServiceStartup::Disabled
                };
                let mut info = json!({
                    "name": name,
                    "startup": startup.as_str(),
                    "current": self.service_status(name).unwrap_or(ServiceStatus::Inactive).as_str(),
                });
                if let Some(record) = self.services.get(name) {
                    info["current-since"] = rfc3339(record.since, true).into();
                }
                info
            })
            .collect();
        Value::Array(infos)
    }

    /// `POST /v1/services` in one go (plan, then run), for tests of the
    /// state alone: the API runs the two halves itself, to let the checks
    /// replan in between as Pebble does.
    #[cfg(test)]
    pub fn services_action(
        &mut self,
        action: &str,
        requested: Vec<String>,
    ) -> Result<String, Reply> {
        let planned = self.plan_services_change(action, requested)?;
        Ok(self.run_services_change(planned))
    }

    /// The first half of `POST /v1/services`: what the change will do, or
    /// the error reply. A replan records the services' new configuration.
    pub fn plan_services_change(
        &mut self,
        action: &str,
        mut requested: Vec<String>,
    ) -> Result<ServicesChange, Reply> {
        match action {
            "replan" | "autostart" if !requested.is_empty() => {
                return Err(Reply::bad_request(format!(
                    "{action} accepts no service names"
                )));
            }
            "autostart" => {
                let enabled: Vec<String> = self
                    .plan
                    .services
                    .iter()
                    .filter(|(_, s)| is_enabled(s))
                    .map(|(n, _)| n.clone())
                    .collect();
                requested =
                    order(&self.plan, &enabled, false).map_err(|e| Reply::error(500, e, None))?;
                if requested.is_empty() {
                    return Err(Reply::error(
                        400,
                        "no default services",
                        Some("no-default-services"),
                    ));
                }
            }
            "replan" => {}
            _ if requested.is_empty() => {
                return Err(Reply::bad_request(format!(
                    "must specify services for {action} action"
                )));
            }
            _ => {}
        }
        let cannot = |e: String| Reply::bad_request(format!("cannot {action} services: {e}"));
        let (steps, first, count) = match action {
            "start" | "autostart" => {
                let names = order(&self.plan, &requested, false).map_err(cannot)?;
                let count = names.len();
                (
                    names.into_iter().map(Step::Start).collect::<Vec<_>>(),
                    requested[0].clone(),
                    count,
                )
            }
            "stop" => {
                let names = order(&self.plan, &requested, true).map_err(cannot)?;
                let count = names.len();
                (
                    names.into_iter().map(Step::Stop).collect(),
                    requested[0].clone(),
                    count,
                )
            }
            "restart" => {
                let stops = order(&self.plan, &requested, true).map_err(cannot)?;
                let starts = order(&self.plan, &requested, false).map_err(cannot)?;
                let count = starts.len();
                let steps = stops
                    .into_iter()
                    .filter(|n| requested.contains(n))
                    .map(Step::Stop)
                    .chain(starts.into_iter().map(Step::Start))
                    .collect();
                (steps, requested[0].clone(), count)
            }
            "replan" => {
                let (stops, starts) = self.replan_lists().map_err(cannot)?;
                let replanned: BTreeSet<String> = stops.iter().chain(&starts).cloned().collect();
                requested = replanned.into_iter().collect();
                let steps = stops
                    .into_iter()
                    .map(Step::Stop)
                    .chain(starts.into_iter().map(Step::Start))
                    .collect();
                (
                    steps,
                    requested.first().cloned().unwrap_or_default(),
                    requested.len(),
                )
            }
            _ => return Err(Reply::bad_request(format!("invalid action {action:?}"))),
        };
        let title = title_case(action);
        let summary = match (steps.is_empty(), count) {
            (true, _) => format!("{title} - no services"),
            (false, 1) => format!("{title} service {first:?}"),
            (false, n) => format!("{title} service {first:?} and {} more", n - 1),
        };
        Ok(ServicesChange {
            kind: action.to_string(),
            summary,
            steps,
            service_names: requested,
        })
    }

    /// The second half of `POST /v1/services`: runs the change at once; its id.
    pub fn run_services_change(&mut self, planned: ServicesChange) -> String {
        self.run_change(
            &planned.kind,
            planned.summary,
            planned.steps,
            planned.service_names,
        )
    }

    /// What replan stops and starts: services whose configuration changed
    /// since they were started are restarted; `startup: enabled` ones started.
    fn replan_lists(&mut self) -> Result<(Vec<String>, Vec<String>), String> {
        let mut changed = BTreeSet::new();
        for (name, record) in &mut self.services {
            if let Some(config) = self.plan.services.get(name) {
                if *config == record.config {
                    continue;
                }
                record.config = config.clone();
            }
            changed.insert(name.clone());
        }
        let changed_in_plan: Vec<String> = changed
            .iter()
            .filter(|n| self.plan.services.contains_key(*n))
            .cloned()
            .collect();
        let starts: Vec<String> = self
            .plan
            .services
            .iter()
            .filter(|(n, s)| changed.contains(*n) || is_enabled(s))
            .map(|(n, _)| n.clone())
            .collect();
        let stops = order(&self.plan, &changed_in_plan, true)?;
        let starts = order(&self.plan, &starts, false)?;
        Ok((stops, starts))
    }

    fn run_change(
        &mut self,
        kind: &str,
        summary: String,
        steps: Vec<Step>,
        service_names: Vec<String>,
    ) -> String {
        let spawn = SystemTime::now();
        let mut tasks = Vec::new();
        let mut touched: Vec<(String, bool, bool)> = Vec::new(); // (name, stopped, started)
        let mut touch = |name: &str, stopped: bool, started: bool| match touched
            .iter_mut()
            .find(|(n, _, _)| n == name)
        {
            Some(entry) => {
                entry.1 |= stopped;
                entry.2 |= started;
            }
            None => touched.push((name.to_string(), stopped, started)),
        };
        for step in steps {
            self.next_task += 1;
            let now = SystemTime::now();
            let stamp = rfc3339(now, false);
            let mut task = TaskRecord {
                id: self.next_task.to_string(),
                kind: "start",
                summary: String::new(),
                status: "Done",
                log: Vec::new(),
                time: now,
                data: None,
            };
            match step {
                Step::Start(name) => {
                    task.summary = format!("Start service {name:?}");
                    let running = self
                        .services
                        .get(&name)
                        .is_some_and(|r| r.status == ServiceStatus::Active);
                    let config = self.plan.services.get(&name).cloned().unwrap_or_default();
                    if running {
                        task.log
                            .push(format!("{stamp} INFO Service {name:?} already started."));
                    } else if let Some(error) = self.start_errors.get(&name) {
                        task.status = "Error";
                        task.log.push(format!("{stamp} ERROR {error}"));
                        self.services.entry(name.clone()).or_insert(ServiceRecord {
                            status: ServiceStatus::Inactive,
                            config,
                            since: now,
                        });
                    } else {
                        self.services.insert(
                            name.clone(),
                            ServiceRecord {
                                status: ServiceStatus::Active,
                                config,
                                since: now,
                            },
                        );
                        touch(&name, false, true);
                    }
                }
                Step::Stop(name) => {
                    task.kind = "stop";
                    task.summary = format!("Stop service {name:?}");
                    match self.services.get_mut(&name) {
                        Some(record) if record.status == ServiceStatus::Active => {
                            record.status = ServiceStatus::Inactive;
                            record.since = now;
                            touch(&name, true, false);
                        }
                        Some(_) => task
                            .log
                            .push(format!("{stamp} INFO Service {name:?} already stopped.")),
                        None => {}
                    }
                }
            }
            tasks.push(task);
        }
        for (name, stopped, started) in touched {
            self.events.push(match (stopped, started) {
                (true, true) => ServiceEvent::Restart(name),
                (true, false) => ServiceEvent::Stop(name),
                _ => ServiceEvent::Start(name),
            });
        }
        let err = change_err(&tasks);
        let id = self.next_change_id();
        let has_tasks = !tasks.is_empty();
        self.changes.push(ChangeRecord {
            id: id.clone(),
            kind: kind.to_string(),
            summary,
            status: if err.is_some() { "Error" } else { "Done" },
            tasks,
            err,
            service_names,
            notice_data: BTreeMap::new(),
            spawn,
            ready: Some(SystemTime::now()),
        });
        // Pebble records a change-update notice when a change is spawned
        // and at each status it moves to: Do, Doing (if it has tasks), and
        // Done or Error.
        let occurrences = if has_tasks { 3 } else { 2 };
        for _ in 0..occurrences {
            self.change_update_notice(&id);
        }
        id
    }

    fn next_change_id(&self) -> String {
        (self.changes.len() + 1).to_string()
    }

    fn change_update_notice(&mut self, id: &str) {
        let Some(change) = self.changes.iter().find(|c| c.id == id) else {
            return;
        };
        let mut data = change.notice_data.clone();
        data.insert("kind".into(), change.kind.clone());
        self.notices
            .add(None, CHANGE_UPDATE, id, data, std::time::Duration::ZERO);
    }

    /// Spawns a change of one task that runs until [`finish_change`]
    /// ends it, as Pebble's `perform-check` and `recover-check` changes.
    pub(super) fn spawn_running_change(
        &mut self,
        kind: &str,
        summary: String,
        notice_data: BTreeMap<String, String>,
    ) -> String {
        let task_kind = match kind {
            "perform-check" => "perform-check",
            "recover-check" => "recover-check",
            _ => "run",
        };
        self.push_running_change(kind, task_kind, summary, notice_data)
            .0
    }

    /// A change of one task, both in progress ("Doing"), with its
    /// change-update notices; its id and the task's.
    fn push_running_change(
        &mut self,
        kind: &str,
        task_kind: &'static str,
        summary: String,
        notice_data: BTreeMap<String, String>,
    ) -> (String, String) {
        let now = SystemTime::now();
        self.next_task += 1;
        let task_id = self.next_task.to_string();
        let id = self.next_change_id();
        self.changes.push(ChangeRecord {
            id: id.clone(),
            kind: kind.to_string(),
            summary: summary.clone(),
            status: "Doing",
            tasks: vec![TaskRecord {
                id: task_id.clone(),
                kind: task_kind,
                summary,
                status: "Doing",
                log: Vec::new(),
                time: now,
                data: None,
            }],
            err: None,
            service_names: Vec::new(),
            notice_data,
            spawn: now,
            ready: None,
        });
        self.change_update_notice(&id); // spawned (Do)
        self.change_update_notice(&id); // its task started (Doing)
        (id, task_id)
    }

    /// Adds a line (`<time> <LEVEL> <message>`) to a running change's task log.
    pub(super) fn log_task(&mut self, change_id: &str, level: &str, message: &str) {
        let Some(task) = self
            .changes
            .iter_mut()
            .find(|c| c.id == change_id)
            .and_then(|c| c.tasks.first_mut())
        else {
            return;
        };
        if task.log.len() >= TASK_LOG_LINES {
            task.log.remove(0);
        }
        task.log.push(format!(
            "{} {level} {message}",
            rfc3339(SystemTime::now(), false)
        ));
    }

    /// Ends a running change with `status` (`Done`, `Error` or `Hold`).
    pub(super) fn finish_change(&mut self, change_id: &str, status: &'static str) {
        let Some(change) = self.changes.iter_mut().find(|c| c.id == change_id) else {
            return;
        };
        if change.ready.is_some() {
            return;
        }
        let now = SystemTime::now();
        for task in &mut change.tasks {
            task.status = status;
        }
        change.status = status;
        change.err = change_err(&change.tasks);
        change.ready = Some(now);
        self.change_update_notice(change_id);
    }

    /// Pebble's `on-check-failure: {<check>: restart}`: the running
    /// services that ask for it are restarted (no change is made).
    pub(super) fn restart_for_failed_check(&mut self, check: &str) {
        let restart: Vec<String> = self
            .plan
            .services
            .iter()
            .filter(|(_, s)| s.on_check_failure.get(check) == Some(&ServiceAction::Restart))
            .map(|(n, _)| n.clone())
            .collect();
        for name in restart {
            if let Some(record) = self.services.get_mut(&name)
                && record.status == ServiceStatus::Active
            {
                record.since = SystemTime::now();
                self.events.push(ServiceEvent::Restart(name));
            }
        }
    }

    /// Opens a change of one task that is in progress ("Doing") until
    /// [`finish_task`](Self::finish_task); its id and the task's.
    pub fn begin_change(
        &mut self,
        kind: &str,
        task_kind: &'static str,
        summary: String,
    ) -> (String, String) {
        self.push_running_change(kind, task_kind, summary, BTreeMap::new())
    }

    /// The kind of the task with this id, if there is one.
    pub fn task_kind(&self, task_id: &str) -> Option<&'static str> {
        self.changes
            .iter()
            .flat_map(|c| &c.tasks)
            .find(|t| t.id == task_id)
            .map(|t| t.kind)
    }

    /// Ends a task of [`begin_change`](Self::begin_change): done with
    /// `data`, or in error with `error`, which becomes the change's `err`
    /// as Pebble words it. The change is then ready.
    pub fn finish_task(
        &mut self,
        change_id: &str,
        task_id: &str,
        data: Option<Value>,
        error: Option<&str>,
    ) {
        let Some(change) = self.changes.iter_mut().find(|c| c.id == change_id) else {
            return;
        };
        if change.ready.is_some() {
            return; // aborted meanwhile: Pebble would have killed the process
        }
        let now = SystemTime::now();
        if let Some(task) = change.tasks.iter_mut().find(|t| t.id == task_id) {
            task.data = data;
            task.status = if error.is_some() { "Error" } else { "Done" };
            if let Some(error) = error {
                task.log
                    .push(format!("{} ERROR {error}", rfc3339(now, false)));
            }
        }
        change.err = change_err(&change.tasks);
        change.status = if change.err.is_some() {
            "Error"
        } else {
            "Done"
        };
        change.ready = Some(now);
        self.change_update_notice(change_id);
    }

    /// Aborts a change that is not ready (Pebble's `Change.Abort`): its
    /// change as Pebble answers the abort (running tasks `Abort`, so the
    /// change too, not ready), or `None` if it is already ready. The fake
    /// has no task runner to move on later, so the change is then held at
    /// once, as Pebble's runner holds a task it cannot undo: a later read
    /// shows it `Hold` and ready. An aborted exec's handler is not stopped;
    /// what it reports is dropped ([`finish_task`](Self::finish_task)).
    pub fn abort_change(&mut self, id: &str) -> Option<Value> {
        let change = self.changes.iter_mut().find(|c| c.id == id)?;
        if change.ready.is_some() {
            return None;
        }
        for task in &mut change.tasks {
            task.status = match task.status {
                "Doing" => "Abort",
                "Do" => "Hold",
                other => other,
            };
        }
        change.status = "Abort";
        let answer = change_json(change);
        self.change_update_notice(id); // moved to Abort
        self.finish_change(id, "Hold");
        Some(answer)
    }

    /// Whether the change with this id is ready (`None`: no such change).
    pub fn change_ready(&self, id: &str) -> Option<bool> {
        self.changes
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.ready.is_some())
    }

    /// `GET /v1/changes/<id>`.
    pub fn change_json(&self, id: &str) -> Option<Value> {
        self.changes.iter().find(|c| c.id == id).map(change_json)
    }

    /// `GET /v1/changes?select=...&for=...`.
    pub fn changes_json(&self, select: &str, service: &str) -> Result<Value, String> {
        let wanted = |c: &&ChangeRecord| match select {
            "all" => true,
            "ready" => c.ready.is_some(),
            _ => c.ready.is_none(),
        };
        if !matches!(select, "" | "in-progress" | "all" | "ready") {
            return Err("select should be one of: all,in-progress,ready".into());
        }
        Ok(Value::Array(
            self.changes
                .iter()
                .filter(wanted)
                .filter(|c| service.is_empty() || c.service_names.iter().any(|n| n == service))
                .map(change_json)
                .collect(),
        ))
    }

    /// `POST /v1/signals`: the 500 message if any service could not be signalled.
    pub fn signal(&mut self, signal: &str, services: &[String]) -> Result<(), String> {
        let mut errors = Vec::new();
        for name in services {
            let running = self
                .services
                .get(name)
                .is_some_and(|r| r.status == ServiceStatus::Active);
            if !running {
                errors.push(format!(
                    "cannot send signal to {name:?}: service is not running"
                ));
            } else if !SIGNALS.contains(&signal) {
                errors.push(format!(
                    "cannot send signal to {name:?}: invalid signal name {signal:?}"
                ));
            } else {
                self.events.push(ServiceEvent::Signal {
                    service: name.clone(),
                    signal: signal.to_string(),
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Pebble's `err` of a change whose tasks failed: one line per failed task.
/// Whether replan and autostart start `service`: Pebble's service manager
/// starts only `startup: enabled` ones (unset or any other word: not).
fn is_enabled(service: &Service) -> bool {
    service.startup == Some(ServiceStartup::Enabled)
}

fn change_err(tasks: &[TaskRecord]) -> Option<String> {
    let failures: Vec<String> = tasks
        .iter()
        .filter(|t| t.status == "Error")
        .flat_map(|t| {
            t.log
                .iter()
                .filter_map(|l| {
                    l.split_once(" ERROR ")
                        .map(|(_, m)| format!("- {} ({m})", t.summary))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    (!failures.is_empty()).then(|| {
        format!(
            "cannot perform the following tasks:\n{}",
            failures.join("\n")
        )
    })
}

fn change_json(change: &ChangeRecord) -> Value {
    let tasks: Vec<Value> = change
        .tasks
        .iter()
        .map(|t| {
            let done = u64::from(t.status != "Doing");
            let mut task = json!({
                "id": t.id, "kind": t.kind, "summary": t.summary, "status": t.status,
                "progress": {"label": "", "done": done, "total": 1},
                "spawn-time": rfc3339(t.time, true),
            });
            if done == 1 {
                task["ready-time"] = rfc3339(change.ready.unwrap_or(t.time), true).into();
            }
            if !t.log.is_empty() {
                task["log"] = json!(t.log);
            }
            if let Some(data) = &t.data {
                task["data"] = data.clone();
            }
            task
        })
        .collect();
    let mut value = json!({
        "id": change.id, "kind": change.kind, "summary": change.summary,
        "status": change.status,
        "ready": change.ready.is_some(),
        "spawn-time": rfc3339(change.spawn, true),
    });
    if let Some(ready) = change.ready {
        value["ready-time"] = rfc3339(ready, true).into();
    }
    if !tasks.is_empty() {
        value["tasks"] = Value::Array(tasks);
    }
    if let Some(err) = &change.err {
        value["err"] = err.clone().into();
    }
    value
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(yaml: &str) -> String {
        yaml.to_string()
    }

    #[test]
    fn combine_merges_and_replaces_like_pebble() {
        let mut state = State::default();
        state
            .add_layer(
                "base",
                false,
                &layer("services:\n  a:\n    override: replace\n    command: a --x\n    environment: {K: '1'}\n    after: [b]\n  b:\n    override: replace\n    command: b\n"),
            )
            .unwrap();
        state
            .add_layer(
                "top",
                false,
                &layer("services:\n  a:\n    override: merge\n    environment: {L: '2'}\n    startup: enabled\n  b:\n    override: replace\n    command: b2\n"),
            )
            .unwrap();
        let a = &state.plan.services["a"];
        assert_eq!(a.command.as_deref(), Some("a --x"));
        assert_eq!(a.environment.len(), 2);
        assert_eq!(a.startup, Some(ServiceStartup::Enabled));
        assert_eq!(a.override_, Some(ops::pebble::Override::Replace));
        assert_eq!(state.plan.services["b"].command.as_deref(), Some("b2"));
        assert_eq!(
            order(&state.plan, &["a".into(), "b".into()], false).unwrap(),
            vec!["b", "a"]
        );
        assert_eq!(
            order(&state.plan, &["a".into(), "b".into()], true).unwrap(),
            vec!["a", "b"]
        );
    }

    /// Pebble does not check a service's `startup`: another word is kept
    /// in the plan and the service is reported, and treated, as disabled.
    /// An empty `on-check-failure` action is unset, which Pebble takes.
    #[test]
    fn a_service_startup_pebble_does_not_know_is_kept_and_means_disabled() {
        let mut state = State::default();
        state
            .add_layer(
                "x",
                false,
                "services:\n  a:\n    override: replace\n    command: a\n    startup: later\n    \
                 on-check-failure: {up: ''}\n",
            )
            .unwrap();
        let a = &state.plan.services["a"];
        assert_eq!(a.startup, Some(ServiceStartup::Other("later".into())));
        assert_eq!(state.service_infos(&[])[0]["startup"], "disabled");
        assert!(!is_enabled(a));
    }

    #[test]
    fn layer_errors_have_pebbles_messages() {
        let mut state = State::default();
        let cases = [
            (
                "x",
                "services:\n  a:\n    command: a\n",
                "layer \"x\" must define \"override\" for service \"a\"",
            ),
            (
                "x",
                "services:\n  a:\n    override: replace\n",
                "plan must define \"command\" for service \"a\"",
            ),
            (
                "x",
                "services:\n  a:\n    override: overlay\n    command: a\n",
                "layer \"x\" has invalid \"override\" value for service \"a\"",
            ),
            (
                "x",
                "checks:\n  c:\n    override: Merge\n    tcp: {port: 80}\n",
                "layer \"x\" has invalid \"override\" value for check \"c\"",
            ),
            (
                "x",
                "log-targets:\n  t:\n    override: foo\n    type: loki\n    location: http://l\n",
                "layer \"x\" has invalid \"override\" value for log target \"t\"",
            ),
            (
                "x",
                "checks:\n  c:\n    override: replace\n    level: critical\n    tcp: {port: 80}\n",
                "cannot parse layer YAML: plan check \"c\" level must be \"alive\" or \"ready\"",
            ),
            (
                "x",
                "checks:\n  c:\n    override: replace\n    startup: later\n    tcp: {port: 80}\n",
                "cannot parse layer YAML: plan check \"c\" startup must be \"enabled\" or \"disabled\"",
            ),
            (
                "x",
                "services:\n  a:\n    override: replace\n    command: a\n    on-success: success-shutdown\n",
                "cannot parse layer YAML: plan service \"a\" on-success action \"success-shutdown\" invalid",
            ),
            (
                "x",
                "services:\n  a:\n    override: replace\n    command: a\n    on-failure: failure-shutdown\n",
                "cannot parse layer YAML: plan service \"a\" on-failure action \"failure-shutdown\" invalid",
            ),
            (
                "x",
                "services:\n  a:\n    override: replace\n    command: a\n    on-check-failure: {up: reboot}\n",
                "cannot parse layer YAML: plan service \"a\" on-check-failure action \"reboot\" invalid",
            ),
            (
                "x",
                "bogus: 1\n",
                "cannot parse layer YAML: cannot parse layer \"x\": unknown section \"bogus\"",
            ),
            (
                "pebble-x",
                "summary: s\n",
                "cannot parse layer YAML: cannot use reserved label prefix \"pebble-\"",
            ),
            (
                "x",
                "services:\n  a:\n    override: replace\n    command: a\n    requires: [nope]\n",
                "service \"nope\" does not exist",
            ),
            (
                "x",
                "checks:\n  c:\n    override: replace\n",
                "plan must specify one of \"http\", \"tcp\", or \"exec\" for check \"c\"",
            ),
            (
                "x",
                "services:\n  a:\n    override: replace\n    command: a\n    after: [b]\n  b:\n    override: replace\n    command: b\n    after: [a]\n",
                "services in before/after loop: a, b",
            ),
        ];
        for (label, yaml, message) in cases {
            assert_eq!(state.add_layer(label, false, yaml).unwrap_err(), message);
        }
        assert!(state.layers.is_empty(), "failed layers are not kept");
        state.add_layer("x", false, "summary: one\n").unwrap();
        assert_eq!(
            state.add_layer("x", false, "summary: two\n").unwrap_err(),
            "layer \"x\" already exists"
        );
    }

    #[test]
    fn replan_restarts_changed_and_starts_enabled_services() {
        let mut state = State::default();
        let yaml = |cmd: &str| {
            format!(
                "services:\n  a:\n    override: replace\n    command: {cmd}\n    startup: enabled\n  b:\n    override: replace\n    command: b\n"
            )
        };
        state.add_layer("l", true, &yaml("a1")).unwrap();
        let id = state.services_action("replan", vec![]).unwrap();
        assert_eq!(
            state.change_json(&id).unwrap()["summary"],
            "Replan service \"a\""
        );
        assert_eq!(state.service_status("a"), Some(ServiceStatus::Active));
        assert_eq!(state.service_status("b"), Some(ServiceStatus::Inactive));
        let id = state.services_action("replan", vec![]).unwrap();
        assert_eq!(
            state.change_json(&id).unwrap()["summary"],
            "Replan service \"a\""
        );
        state.add_layer("l", true, &yaml("a2")).unwrap();
        state.services_action("replan", vec![]).unwrap();
        assert_eq!(
            state.events,
            vec![
                ServiceEvent::Start("a".into()),
                ServiceEvent::Restart("a".into())
            ]
        );
    }
}
