//! A readable account of a run: per step, the hooks each unit ran, what
//! they wrote to which databag, what happened to the services, and the
//! statuses at the end.
//!
//! Values are shortened, and a value is never shown where it may be a
//! secret: under a secret-looking key ([`is_secret_key`]), as the password
//! of a URI, or wherever a value known to be secret appears inside another.
//! Multi-line values and `*_file` keys show as `(N bytes)`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::report::{HookRecord, Report};
use super::scenario::{Scenario, Step};

/// Where the account wraps long lines.
const WIDTH: usize = 100;
/// How many characters of a value it shows.
const VALUE_CHARS: usize = 36;
/// How many lines of a failed hook's stderr it shows.
const STDERR_LINES: usize = 4;

/// Whether a databag or config key looks like it holds a secret:
/// `password`, `*-password`, `*_password`, `auth_file`, `secret-*`,
/// `*-token`, `private-key`, `tls-key`, ...
///
/// ```
/// use ops_testing::sim::account::is_secret_key;
/// assert!(is_secret_key("password"));
/// assert!(is_secret_key("replication-password"));
/// assert!(is_secret_key("auth_file"));
/// assert!(is_secret_key("secret-id"));
/// assert!(!is_secret_key("username"));
/// assert!(!is_secret_key("endpoints"));
/// ```
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let words: Vec<&str> = key.split(['-', '_', '.']).collect();
    let has = |w: &str| words.contains(&w);
    key.contains("password")
        || key.contains("passwd")
        || has("secret")
        || has("token")
        || has("credentials")
        || has("hash")
        || (has("auth") && has("file"))
        || (has("key")
            && ["private", "tls", "ssl", "api", "ssh", "access"]
                .iter()
                .any(|w| has(w)))
}

/// Shows values safely: knows every secret value of the run, so that a
/// secret copied under an innocent key (a password inside a URI, a peer
/// databag key named after a relation) is hidden too.
#[derive(Debug, Default, Clone)]
pub(crate) struct Redactor {
    secrets: BTreeSet<String>,
}

/// What stands for a hidden part while a value is shortened.
const HIDDEN: char = '\u{1}';

/// Secrets shorter than this are hidden only under their own key: hiding
/// every `x` in every value would hide everything.
const MIN_SECRET_CHARS: usize = 4;

impl Redactor {
    /// A redactor that knows the secrets of the final model, of every hook's
    /// writes and of the scenario's own data.
    pub(crate) fn for_run(scenario: &Scenario, report: &Report) -> Self {
        let mut r = Self::default();
        for relation in &report.relations {
            for bag in relation.databags.values() {
                for (k, v) in bag {
                    r.learn(k, v);
                }
            }
        }
        for hook in &report.hooks {
            for write in &hook.writes {
                for (k, v) in &write.values {
                    if let Some(v) = v {
                        r.learn(k, v);
                    }
                }
            }
        }
        for step in &scenario.steps {
            match step {
                Step::Relate(relate) => {
                    for bag in std::iter::once(&relate.app_data).chain(relate.unit_data.values()) {
                        for (k, v) in bag {
                            r.learn(k, v);
                        }
                    }
                }
                Step::SetRemoteData { data, .. } | Step::PebbleNotify { data, .. } => {
                    for (k, v) in data {
                        r.learn(k, v);
                    }
                }
                Step::Config(values) => {
                    for (k, v) in values {
                        if let Some(v) = v.as_str() {
                            r.learn(k, v);
                        }
                    }
                }
                _ => {}
            }
        }
        r
    }

    /// Remembers `value` as a secret if `key` looks like a secret's.
    pub(crate) fn learn(&mut self, key: &str, value: &str) {
        if is_secret_key(key) && value.chars().count() >= MIN_SECRET_CHARS {
            self.secrets.insert(value.to_string());
        }
    }

    /// `text` with every known secret and every URI password replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.scrub_to(text, "***")
    }

    /// `value` with every known secret and every URI password replaced by `mark`.
    fn scrub_to(&self, value: &str, mark: &str) -> String {
        let mut out = hide_uri_passwords(value).replace("***", mark);
        // Longest first, so that a secret containing another goes whole.
        let mut secrets: Vec<&String> = self.secrets.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), mark);
            }
        }
        out
    }

    /// How the account shows `key`'s value: `(secret)`, `(N bytes)` for a
    /// file's content, or the scrubbed value shortened to one line.
    pub(crate) fn show(&self, key: &str, value: &str) -> String {
        if is_secret_key(key) {
            return "(secret)".to_string();
        }
        let lower = key.to_ascii_lowercase();
        if value.contains('\n') || lower.ends_with("_file") || lower.ends_with("-file") {
            return format!("({} bytes)", value.len());
        }
        if value.is_empty() {
            return "\"\"".to_string();
        }
        // Shortened with each hidden part one character, so that no cut
        // goes through a `***`.
        let scrubbed = self.scrub_to(&value.replace(HIDDEN, " "), &HIDDEN.to_string());
        shorten(&scrubbed, VALUE_CHARS).replace(HIDDEN, "***")
    }

    /// `key=value` pairs as the account shows them; `key=(deleted)` for `None`.
    pub(crate) fn pairs<'a>(
        &self,
        values: impl IntoIterator<Item = (&'a String, Option<&'a String>)>,
    ) -> Vec<String> {
        values
            .into_iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={}", self.show(k, v)),
                None => format!("{k}=(deleted)"),
            })
            .collect()
    }
}

/// `scheme://user:password@host` becomes `scheme://user:***@host`.
fn hide_uri_passwords(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', '?', '#', ' ', ',']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..=colon]);
                        out.push_str("***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// `text` cut to `max` characters, keeping its start and end (`a…z`).
fn shorten(text: &str, max: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= max {
        return text.to_string();
    }
    let tail = max / 3;
    let head = max - tail - 1;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Appends `items` after `first` (the line's start), joined by `, `, wrapped
/// at [`WIDTH`] with continuation lines indented by `indent` spaces.
fn wrapped(out: &mut String, first: &str, items: &[String], indent: usize) {
    let mut line = first.to_string();
    // After a label (`wrote x:`) the first item comes after a space; after
    // an indent alone, straight away.
    let mut empty = first.trim().is_empty();
    for (i, item) in items.iter().enumerate() {
        let sep = if i + 1 < items.len() { "," } else { "" };
        if !line.trim().is_empty()
            && line.chars().count() + 1 + item.chars().count() + sep.len() > WIDTH
        {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(item);
        line.push_str(sep);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// A one-line description of a scenario step, secrets hidden; the data
/// it sets (`relate`'s, `set-remote-data`'s) only `with_data`.
pub(crate) fn describe_step(step: &Step, redactor: &Redactor, with_data: bool) -> String {
    let data = |bag: &BTreeMap<String, String>| {
        redactor
            .pairs(bag.iter().map(|(k, v)| (k, (!v.is_empty()).then_some(v))))
            .join(", ")
    };
    match step {
        Step::Deploy { units } => {
            format!("deploy {units} unit{}", if *units == 1 { "" } else { "s" })
        }
        Step::AddUnit {} => "add-unit".to_string(),
        Step::RemoveUnit { unit } => format!("remove-unit {unit}"),
        Step::SetLeader { unit } => format!("set-leader {unit}"),
        Step::Config(values) => {
            let shown: Vec<String> = values
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::Null => format!("{k}=(default)"),
                    serde_json::Value::String(s) => format!("{k}={}", redactor.show(k, s)),
                    other => format!("{k}={}", redactor.show(k, &other.to_string())),
                })
                .collect();
            format!("config {}", shown.join(", "))
        }
        Step::Relate(relate) => {
            let mut text = format!(
                "relate {} to {}:{}",
                relate.endpoint, relate.app, relate.remote_endpoint
            );
            if with_data {
                if !relate.app_data.is_empty() {
                    let _ = write!(text, " with {}", data(&relate.app_data));
                }
                for (unit, bag) in &relate.unit_data {
                    let _ = write!(text, "; {unit}: {}", data(bag));
                }
            }
            text
        }
        Step::SetRemoteData {
            endpoint,
            app,
            unit,
            data: bag,
        } => {
            let mut text = format!(
                "set-remote-data {} on {endpoint}",
                unit.as_deref().unwrap_or(app)
            );
            if with_data {
                let _ = write!(text, ": {}", data(bag));
            }
            text
        }
        Step::RemoveRelation { endpoint, app } => format!("remove-relation {endpoint} with {app}"),
        Step::PebbleReady { unit } => match unit {
            Some(unit) => format!("pebble-ready on {unit}"),
            None => "pebble-ready on every unit".to_string(),
        },
        Step::PebbleNotify {
            unit,
            container,
            key,
            data: bag,
        } => {
            let mut text = format!("pebble-notify {key} on {unit}");
            if let Some(container) = container {
                let _ = write!(text, " ({container})");
            }
            if with_data && !bag.is_empty() {
                let _ = write!(text, ": {}", data(bag));
            }
            text
        }
        Step::UpdateStatus {} => "update-status".to_string(),
        Step::RunAction {
            unit,
            action,
            params,
        } => {
            let mut text = format!("run-action {action} on {unit}");
            if !params.is_empty() {
                let shown: Vec<String> = params
                    .iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}={}", redactor.show(k, s)),
                        other => format!("{k}={}", redactor.show(k, &other.to_string())),
                    })
                    .collect();
                let _ = write!(text, " ({})", shown.join(", "));
            }
            text
        }
        Step::Churn { unit } => format!("churn {unit} (Kubernetes replaces its pod)"),
        Step::Refresh {} => "refresh (every unit's pod replaced in turn)".to_string(),
    }
}

/// A hook's name with its remote (or departing) unit: `db-relation-joined(pg/0)`.
pub(crate) fn hook_label(hook: &HookRecord) -> String {
    match (&hook.remote_unit, &hook.departing_unit) {
        (Some(remote), _) => format!("{}({remote})", hook.hook),
        (None, Some(departing)) => format!("{}(departing {departing})", hook.hook),
        (None, None) => hook.hook.clone(),
    }
}

/// Whether a hook did nothing worth its own line: it succeeded, wrote no
/// databag and touched no service.
pub(crate) fn is_quiet(hook: &HookRecord) -> bool {
    hook.exit_code == 0 && hook.writes.is_empty() && hook.service_events.is_empty()
}

/// `pgb-peers:0 pgbouncer-k8s`: the relation as Juju names it, and the bag's owner.
pub(crate) fn bag_label(write: &super::report::BagWrite) -> String {
    format!("{}:{} {}", write.endpoint, write.relation, write.bag)
}

/// Service events shortened: `signal SIGHUP x` reads `SIGHUP x`.
pub(crate) fn service_events(hook: &HookRecord) -> Vec<String> {
    hook.service_events
        .iter()
        .map(|e| {
            let e = e.split_once(": ").map_or(e.as_str(), |(_, e)| e);
            e.strip_prefix("signal ").unwrap_or(e).to_string()
        })
        .collect()
}

/// The last lines of a failed hook's stderr.
pub(crate) fn stderr_tail(hook: &HookRecord) -> Vec<&str> {
    let lines: Vec<&str> = hook
        .stderr
        .as_deref()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(STDERR_LINES)..].to_vec()
}

/// The readable account of a run of `scenario` that produced `report`
/// (whose `hooks` must be kept).
///
/// ```no_run
/// use ops_testing::sim::{Scenario, Simulator, account};
/// # use std::path::Path;
/// # fn demo(hook_tool: &Path) -> Result<(), Box<dyn std::error::Error>> {
/// let scenario = Scenario::load(Path::new("charms/pgbouncer-k8s/scenarios/pgb-peers.yaml"))?;
/// let report = Simulator::run_scenario(
///     &scenario,
///     Path::new("charms/pgbouncer-k8s/scenarios"),
///     Path::new("/tmp/sim"),
///     hook_tool,
///     None,
/// )?;
/// print!("{}", account::account(&scenario, &report));
/// # Ok(()) }
/// ```
pub fn account(scenario: &Scenario, report: &Report) -> String {
    let redactor = Redactor::for_run(scenario, report);
    let mut out = String::new();
    let failed = report.hooks.iter().filter(|h| h.exit_code != 0).count();
    let _ = writeln!(
        out,
        "model {}: {} step{}, {} hook{} run, {failed} failed",
        report.model,
        scenario.steps.len(),
        if scenario.steps.len() == 1 { "" } else { "s" },
        report.hooks.len(),
        if report.hooks.len() == 1 { "" } else { "s" },
    );
    let mut last_failed: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let number = i + 1;
        let _ = writeln!(
            out,
            "\nstep {number}: {}",
            describe_step(step, &redactor, true)
        );
        let hooks: Vec<&HookRecord> = report.hooks.iter().filter(|h| h.step == number).collect();
        if hooks.is_empty() {
            out.push_str("  (no hooks)\n");
        }
        let mut units: Vec<&str> = Vec::new();
        for h in &hooks {
            if !units.contains(&h.unit.as_str()) {
                units.push(&h.unit);
            }
        }
        // Units whose hooks did alike get one block.
        let mut blocks: Vec<(Vec<&str>, String)> = Vec::new();
        for unit in units {
            let mine: Vec<&HookRecord> = hooks.iter().copied().filter(|h| h.unit == unit).collect();
            let block = unit_block(&mine, &redactor, &mut last_failed);
            match blocks.iter_mut().find(|(_, b)| *b == block) {
                Some((names, _)) => names.push(unit),
                None => blocks.push((vec![unit], block)),
            }
        }
        for (names, block) in blocks {
            match names.as_slice() {
                [one] => {
                    let _ = writeln!(out, "  {one}");
                }
                many => {
                    let _ = writeln!(out, "  {} (each)", many.join(", "));
                }
            }
            out.push_str(&block);
        }
    }
    out.push_str("\nat the end\n");
    let app = report
        .units
        .keys()
        .chain(report.hooks.iter().map(|h| &h.unit))
        .next()
        .map(|u| crate::fake_juju::app_of(u).to_string())
        .unwrap_or_default();
    let _ = writeln!(out, "  {app} (application): {}", status(&report.app_status));
    for (name, unit) in &report.units {
        let leader = if unit.leader { " (leader)" } else { "" };
        let mut services = Vec::new();
        for container in unit.containers.values() {
            for (service, s) in &container.services {
                let mut parts = Vec::new();
                for (n, what) in [
                    (s.starts, "start"),
                    (s.stops, "stop"),
                    (s.restarts, "restart"),
                ] {
                    if n > 0 {
                        parts.push(format!("{n} {what}{}", if n == 1 { "" } else { "s" }));
                    }
                }
                let mut signals: BTreeMap<&str, usize> = BTreeMap::new();
                for signal in &s.signals {
                    *signals.entry(signal.as_str()).or_default() += 1;
                }
                for (signal, n) in signals {
                    parts.push(format!("{n} {signal}"));
                }
                if !parts.is_empty() {
                    services.push(format!("{service} {}", parts.join(" ")));
                }
            }
        }
        let head = format!("  {name}{leader}: {}", status(&unit.status));
        if services.is_empty() {
            let _ = writeln!(out, "{head}");
        } else {
            wrapped(&mut out, &format!("{head}; services:"), &services, 6);
        }
    }
    out
}

/// One unit's hooks in one step: runs of quiet hooks on one line, each
/// other hook on its own with what it wrote and did to the services, a
/// failure with its stderr's last lines.
fn unit_block<'a>(
    hooks: &[&'a HookRecord],
    redactor: &Redactor,
    last_failed: &mut BTreeMap<&'a str, &'a str>,
) -> String {
    let mut out = String::new();
    let mut quiet: Vec<String> = Vec::new();
    for &hook in hooks {
        let unit = hook.unit.as_str();
        let mut label = hook_label(hook);
        if last_failed.get(unit) == Some(&hook.hook.as_str()) {
            label.push_str(" (retried)");
        }
        if hook.exit_code == 0 {
            last_failed.remove(unit);
        } else {
            last_failed.insert(unit, &hook.hook);
        }
        if is_quiet(hook) {
            push_counted(&mut quiet, label);
            continue;
        }
        flush_quiet(&mut out, &mut quiet);
        if hook.exit_code != 0 {
            let _ = writeln!(
                out,
                "  ! {label} FAILED (exit {}); its writes were dropped",
                hook.exit_code
            );
            for line in stderr_tail(hook) {
                let line = redactor.scrub(line);
                let _ = writeln!(out, "      | {}", shorten(&line, WIDTH - 8));
            }
        } else {
            let _ = writeln!(out, "    {label}");
        }
        for write in &hook.writes {
            let pairs = redactor.pairs(write.values.iter().map(|(k, v)| (k, v.as_ref())));
            wrapped(
                &mut out,
                &format!("      wrote {}:", bag_label(write)),
                &pairs,
                8,
            );
        }
        let events = service_events(hook);
        if !events.is_empty() {
            wrapped(&mut out, "      pebble:", &events, 8);
        }
    }
    flush_quiet(&mut out, &mut quiet);
    out
}

/// `active: ` reads `active`.
fn status(status: &str) -> &str {
    status.strip_suffix(": ").unwrap_or(status)
}

/// Adds `label` to a run of quiet hooks, counting repeats: `x ×3`.
fn push_counted(quiet: &mut Vec<String>, label: String) {
    if let Some(last) = quiet.last_mut() {
        let (base, count) = match last.rsplit_once(" ×") {
            Some((base, n)) if n.parse::<usize>().is_ok() => {
                (base.to_string(), n.parse::<usize>().unwrap_or(1))
            }
            _ => (last.clone(), 1),
        };
        if base == label {
            *last = format!("{base} ×{}", count + 1);
            return;
        }
    }
    quiet.push(label);
}

fn flush_quiet(out: &mut String, quiet: &mut Vec<String>) {
    if !quiet.is_empty() {
        wrapped(out, "    ", &group_relation_hooks(quiet), 6);
        quiet.clear();
    }
}

/// Consecutive hooks of one relation share their prefix:
/// `db-relation-created, db-relation-joined(pg/0)` reads
/// `db-relation-{created, joined(pg/0)}` (as items, for [`wrapped`]).
fn group_relation_hooks(labels: &[String]) -> Vec<String> {
    let prefix_of = |label: &str| {
        label
            .find("-relation-")
            .map(|at| label[..at + "-relation-".len()].to_string())
    };
    let mut items = Vec::new();
    let mut i = 0;
    while i < labels.len() {
        let Some(prefix) = prefix_of(&labels[i]) else {
            items.push(labels[i].clone());
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < labels.len() && prefix_of(&labels[j]).as_deref() == Some(prefix.as_str()) {
            j += 1;
        }
        if j - i == 1 {
            items.push(labels[i].clone());
        } else {
            let last = j - 1;
            for (k, label) in labels[i..j].iter().enumerate() {
                let rest = &label[prefix.len()..];
                items.push(match (k, i + k == last) {
                    (0, _) => format!("{prefix}{{{rest}"),
                    (_, true) => format!("{rest}}}"),
                    _ => rest.to_string(),
                });
            }
        }
        i = j;
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for key in [
            "password",
            "monitoring-password",
            "replication_password",
            "auth_file",
            "secret-id",
            "secret_key",
            "tls-key",
            "private-key",
            "api-token",
            "PASSWORD",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "username",
            "endpoints",
            "cfg_file",
            "database",
            "private-address",
            "leader_hostname",
            "key",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn values_are_shortened_and_secrets_hidden() {
        let mut r = Redactor::default();
        r.learn("password", "s3cr3t-pw-value");
        r.learn("password", "x");
        assert_eq!(r.show("password", "s3cr3t-pw-value"), "(secret)");
        assert_eq!(r.show("auth_file", "\"u\" \"md5abc\"\n"), "(secret)");
        assert_eq!(r.show("cfg_file", "[databases]\nx = y\n"), "(18 bytes)");
        assert_eq!(r.show("relation_id_2", "s3cr3t-pw-value"), "***");
        assert_eq!(
            r.show("uris", "postgresql://u:other@h:5432/db"),
            "postgresql://u:***@h:5432/db"
        );
        assert_eq!(r.show("note", "x marks"), "x marks");
        assert_eq!(r.show("empty", ""), "\"\"");
        let long = "pgbouncer-k8s-0.pgbouncer-k8s-endpoints.pgb-demo.svc.cluster.local:6432";
        let shown = r.show("endpoints", long);
        assert_eq!(shown.chars().count(), VALUE_CHARS, "{shown}");
        assert!(shown.starts_with("pgbouncer-k8s-0.") && shown.ends_with("local:6432"));
    }

    #[test]
    fn uri_passwords_go_but_the_rest_stays() {
        assert_eq!(
            hide_uri_passwords("a postgresql://u:p@h/d, http://h/x and ftp://u@h"),
            "a postgresql://u:***@h/d, http://h/x and ftp://u@h"
        );
        assert_eq!(hide_uri_passwords("no uri"), "no uri");
    }

    #[test]
    fn repeated_quiet_hooks_are_counted() {
        let mut quiet = Vec::new();
        for label in ["a", "b", "b", "b", "a"] {
            push_counted(&mut quiet, label.to_string());
        }
        assert_eq!(quiet, vec!["a", "b ×3", "a"]);
    }

    #[test]
    fn hooks_of_one_relation_share_their_prefix() {
        let labels: Vec<String> = [
            "install",
            "db-relation-created",
            "db-relation-joined(pg/0)",
            "db-relation-changed(pg/0)",
            "peers-relation-changed",
            "start",
        ]
        .map(String::from)
        .to_vec();
        let mut out = String::new();
        wrapped(&mut out, "", &group_relation_hooks(&labels), 0);
        assert_eq!(
            out,
            "install, db-relation-{created, joined(pg/0), changed(pg/0)}, peers-relation-changed, start\n"
        );
    }

    #[test]
    fn long_lists_wrap() {
        let mut out = String::new();
        let items: Vec<String> = (0..30).map(|i| format!("item-{i:02}")).collect();
        wrapped(&mut out, "  list:", &items, 4);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 2, "{out}");
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH), "{out}");
        assert!(lines[1].starts_with("    item-"), "{out}");
        assert_eq!(out.matches("item-").count(), 30);
    }
}
