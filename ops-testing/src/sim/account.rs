//! A readable account of a run: per step, the hooks each unit ran, what
//! they wrote to which databag, what happened to the services, and the
//! statuses at the end; and the final model as YAML or JSON
//! ([`model_text`]). Both show the run through one [`Redactor`].
//!
//! Databag values are shortened at a character boundary, `…` marking what
//! was left out; status messages and stderr lines are shown whole. A value
//! is never shown where it may be a secret: under a secret-looking key
//! ([`is_secret_key`]), as the password of a URI, or wherever a value the
//! [`Redactor`] knows to be secret (Juju secrets' content among them)
//! appears inside another. Multi-line values and `*_file` keys show as
//! `(N bytes)`.

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
/// `*-token`, `private-key`, `tls-key`, ..., and `relation_id_<n>`: a
/// database user's name, under which the PostgreSQL charms (pgbouncer-k8s
/// among them) keep that user's password.
///
/// ```
/// use ops_testing::sim::account::is_secret_key;
/// assert!(is_secret_key("password"));
/// assert!(is_secret_key("replication-password"));
/// assert!(is_secret_key("auth_file"));
/// assert!(is_secret_key("secret-id"));
/// assert!(is_secret_key("relation_id_7"));
/// assert!(!is_secret_key("username"));
/// assert!(!is_secret_key("endpoints"));
/// assert!(!is_secret_key("requested-secrets"));
/// ```
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let words: Vec<&str> = key.split(['-', '_', '.']).collect();
    let has = |w: &str| words.contains(&w);
    let user_password = key
        .strip_prefix("relation_id_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    key.contains("password")
        || key.contains("passwd")
        || user_password
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
/// secret copied under an innocent key (a password inside a URI, in a
/// status message, a log line or a file) is hidden too.
///
/// It learns a value as secret when it stands under a secret-looking key
/// ([`is_secret_key`]) in a databag, a hook's write or the scenario, and
/// every value of every revision of every Juju secret of the run (those in
/// the final model and those the hooks wrote, so a secret removed before
/// the end too). A value it knows is hidden wherever it appears, whole or
/// inside a longer text, as are each of its lines and its JSON-escaped form.
#[derive(Default, Clone)]
pub struct Redactor {
    secrets: BTreeSet<String>,
}

/// How many secrets it knows, never which.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

/// What stands for a hidden part while a value is shortened.
const HIDDEN: char = '\u{1}';

/// Secret values shorter than this many characters are hidden only where
/// they stand whole under their own secret-looking key, never inside other
/// text: a Juju secret's content holds short values that are not secret
/// (`tls: "False"`, a port), and hiding every `true`, `5432` or `False` in
/// a run's output would hide what the output is for. Eight is the shortest
/// password most policies accept; the charms' generated ones are longer.
pub const MIN_SECRET_CHARS: usize = 8;

impl Redactor {
    /// A redactor that knows the secrets of the final model (databags and
    /// every Juju secret's revisions), of every hook's writes (databags
    /// and secrets) and of the scenario's own data.
    pub fn for_run(scenario: &Scenario, report: &Report) -> Self {
        let mut r = Self::default();
        for relation in &report.relations {
            for bag in relation.databags.values() {
                for (k, v) in bag {
                    r.learn(k, v);
                }
            }
        }
        for secret in &report.secrets {
            for content in secret.content.values() {
                for v in content.values() {
                    r.learn_value(v);
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
            for write in &hook.secret_writes {
                for v in write.content.values() {
                    r.learn_value(v);
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
                Step::RunAction { params, .. } => {
                    for (k, v) in params {
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
    pub fn learn(&mut self, key: &str, value: &str) {
        if is_secret_key(key) {
            self.learn_value(value);
        }
    }

    /// Remembers `value` as a secret whatever its key: the value, each of
    /// its lines (but a PEM armor line, `-----BEGIN ...-----`, which every
    /// certificate shares) and its JSON-escaped form, each if at least
    /// [`MIN_SECRET_CHARS`] long.
    pub fn learn_value(&mut self, value: &str) {
        let escaped = serde_json::to_string(value).unwrap_or_default();
        let escaped = escaped
            .strip_prefix('"')
            .and_then(|e| e.strip_suffix('"'))
            .unwrap_or_default();
        let lines = value
            .lines()
            .map(str::trim)
            .filter(|l| !(l.starts_with("-----") && l.ends_with("-----")));
        let forms = std::iter::once(value)
            .chain(lines)
            .chain(std::iter::once(escaped));
        for form in forms {
            if form.chars().count() >= MIN_SECRET_CHARS {
                self.secrets.insert(form.to_string());
            }
        }
    }

    /// How many secret values (and forms of them) it knows.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether it knows no secret value.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Hides secrets in every string of `value` (a serialized report),
    /// map keys included (a databag key may be a secret's user name): every
    /// known secret and URI password becomes `***`, and a string under a
    /// secret-looking key is `***` whole. Keys that become alike get ` (2)`,
    /// ` (3)`, ... so that none is lost.
    pub fn scrub_value(&self, value: &mut serde_norway::Value) {
        match value {
            serde_norway::Value::String(text) => *text = self.scrub(text),
            serde_norway::Value::Sequence(items) => {
                for item in items {
                    self.scrub_value(item);
                }
            }
            serde_norway::Value::Mapping(map) => {
                for (mut key, mut item) in std::mem::take(map) {
                    let secret_key = key.as_str().is_some_and(is_secret_key);
                    match &mut item {
                        serde_norway::Value::String(text) if secret_key => {
                            *text = "***".to_string();
                        }
                        item => self.scrub_value(item),
                    }
                    if let serde_norway::Value::String(name) = &mut key {
                        let scrubbed = self.scrub(name);
                        let mut unique = scrubbed.clone();
                        let mut n = 2;
                        while map.contains_key(unique.as_str()) {
                            unique = format!("{scrubbed} ({n})");
                            n += 1;
                        }
                        *name = unique;
                    }
                    map.insert(key, item);
                }
            }
            serde_norway::Value::Tagged(tagged) => self.scrub_value(&mut tagged.value),
            _ => {}
        }
    }

    /// `text` with every known secret and every URI password replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        self.scrub_to(text, "***")
    }

    /// `value` with every known secret and every URI password replaced by `mark`.
    ///
    /// Known secrets go first, so that a secret URI goes whole rather than
    /// only its password; then URI passwords. Hiding one part can join
    /// others into a secret (a secret holding `***`), so it goes round
    /// until nothing changes (each round that hides a secret shortens the
    /// text; a few rounds at most).
    fn scrub_to(&self, value: &str, mark: &str) -> String {
        // Longest first, so that a secret containing another goes whole.
        let mut secrets: Vec<&String> = self.secrets.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = value.to_string();
        for _ in 0..16 {
            let before = out.clone();
            for secret in &secrets {
                if out.contains(secret.as_str()) {
                    out = out.replace(secret.as_str(), mark);
                }
            }
            out = hide_uri_passwords(&out).replace("***", mark);
            if out == before {
                break;
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
                Some(v) => format!("{}={}", self.scrub(k), self.show(k, v)),
                None => format!("{}=(deleted)", self.scrub(k)),
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
        Step::RemoveUnit {
            unit,
            expire_lease: false,
        } => format!("remove-unit {unit}"),
        Step::RemoveUnit {
            unit,
            expire_lease: true,
        } => format!("remove-unit {unit}, its lease expiring at once"),
        Step::ExpireLease {} => "expire-lease (the gone leader's lease runs out)".to_string(),
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
/// databag or secret and touched no service.
pub(crate) fn is_quiet(hook: &HookRecord) -> bool {
    hook.exit_code == 0
        && hook.writes.is_empty()
        && hook.secret_writes.is_empty()
        && hook.service_events.is_empty()
}

/// A secret revision a hook wrote, by keys only:
/// `secret secret:xyz (label) revision 2: password, username`.
pub(crate) fn secret_label(write: &super::report::SecretWrite) -> String {
    let label = write
        .label
        .as_deref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    format!(
        "secret {}{label} revision {}: {}",
        write.id,
        write.revision,
        write.keys.join(", ")
    )
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
pub fn stderr_tail(hook: &HookRecord) -> Vec<&str> {
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
    // Statuses whole (never shortened), secrets hidden.
    let _ = writeln!(
        out,
        "  {app} (application): {}",
        status(&redactor.scrub(&report.app_status))
    );
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
        let head = format!(
            "  {name}{leader}: {}",
            status(&redactor.scrub(&unit.status))
        );
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
            // Whole lines: a message cut short misleads.
            for line in stderr_tail(hook) {
                let _ = writeln!(out, "      | {}", redactor.scrub(line));
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
        for write in &hook.secret_writes {
            let _ = writeln!(out, "      {}", secret_label(write));
        }
        let events: Vec<String> = service_events(hook)
            .iter()
            .map(|e| redactor.scrub(e))
            .collect();
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

/// How [`model_text`] prints the final model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    /// YAML.
    Yaml,
    /// JSON, pretty-printed, ending with a newline.
    Json,
}

/// Why the final model could not be printed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelTextError {
    /// The report as a YAML tree, or that tree as YAML text.
    #[error("cannot print the report as YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// The tree as JSON text.
    #[error("cannot print the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The final model of a run of `scenario` (what `ops-sim --format yaml`
/// or `json` prints), every hook run too if `hooks`, with every secret
/// hidden: each string of it goes through the run's
/// [`Redactor`] (learnt from the whole report,
/// hooks included), and a string under a secret-looking key is `***`.
///
/// ```no_run
/// # fn demo(scenario: &ops_testing::sim::Scenario, report: &ops_testing::sim::Report) {
/// use ops_testing::sim::{ModelFormat, model_text};
/// let yaml = model_text(scenario, report, false, ModelFormat::Yaml).unwrap();
/// assert!(yaml.starts_with("model: "));
/// # }
/// ```
pub fn model_text(
    scenario: &Scenario,
    report: &Report,
    hooks: bool,
    format: ModelFormat,
) -> Result<String, ModelTextError> {
    let redactor = Redactor::for_run(scenario, report);
    let mut value = if hooks {
        serde_norway::to_value(report)?
    } else {
        let mut model = report.clone();
        model.hooks.clear();
        serde_norway::to_value(&model)?
    };
    redactor.scrub_value(&mut value);
    Ok(match format {
        ModelFormat::Yaml => serde_norway::to_string(&value)?,
        ModelFormat::Json => serde_json::to_string_pretty(&value)? + "\n",
    })
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
        assert_eq!(r.show("relation_id_2", "s3cr3t-pw-value"), "(secret)");
        assert_eq!(r.show("note", "pw is s3cr3t-pw-value!"), "pw is ***!");
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

    use crate::sim::report::{
        ContainerReport, RelationReport, SecretReport, SecretWrite, UnitReport,
    };

    /// Every secret value of [`synthetic_run`], with what it stands for.
    const SECRETS: [&str; 7] = [
        "peer-bag-pw-0123456789",
        "admin-pw-abcdefgh",
        "rev1-secret-pw-aaaa",
        "rev2-secret-pw-bbbb",
        "removed-secret-zzzz",
        "MIIBsecretline0123",
        "pa\"ss\\word-1234",
    ];

    fn bag(pairs: &[(&str, &str)]) -> crate::fake_juju::Bag {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A run built by hand: secrets in a peer databag (under keys that look
    /// like secrets' and under a database user's name), in two revisions of
    /// a Juju secret (one of its values spread over lines, others short and
    /// not secret), in a secret a hook wrote and removed before the end,
    /// and copied into a status, a file, a log line on stderr, a service
    /// event and a JSON document in a databag.
    fn synthetic_run() -> (Scenario, Report) {
        let scenario = Scenario::parse(
            "charm: {dir: x}\nsteps:\n  - deploy: {units: 1}\n  - update-status: {}\n  \
             - run-action: {unit: app/0, action: rotate, params: {password: action-pw-9876}}\n",
            std::path::Path::new("s.yaml"),
        )
        .unwrap();
        let [peer_pw, admin_pw, rev1, rev2, removed, line, quoted] = SECRETS;
        let tls_key = format!("-----BEGIN KEY-----\n{line}\n-----END KEY-----\n");
        let json_doc = serde_json::json!({ "password": quoted }).to_string();
        let relation = RelationReport {
            id: 0,
            endpoint: "pgb-peers".to_string(),
            remote_app: "app".to_string(),
            databags: [
                (
                    "app".to_string(),
                    bag(&[
                        ("relation_id_5", peer_pw),
                        ("admin_password", admin_pw),
                        ("settings", &json_doc),
                        ("tls", "true"),
                    ]),
                ),
                ("app/0".to_string(), bag(&[("port", "5432")])),
            ]
            .into(),
        };
        let secret = SecretReport {
            id: "secret:abc".to_string(),
            owner: "app".to_string(),
            label: Some("user-5".to_string()),
            revisions: vec![1, 2],
            keys: vec!["password".to_string(), "tls-key".to_string()],
            grants: vec![],
            content: [
                (
                    1,
                    bag(&[
                        ("password", rev1),
                        ("username", "relation_id_5"),
                        ("tls", "False"),
                        ("port", "5432"),
                        ("token", quoted),
                    ]),
                ),
                (2, bag(&[("password", rev2), ("tls-key", &tls_key)])),
            ]
            .into(),
        };
        let files = [(
            "/etc/app.ini".to_string(),
            format!(
                "tls = False\nport = 5432\nadmin = {admin_pw}\nold = {rev1}\n-----END KEY-----\n"
            ),
        )]
        .into();
        let unit = UnitReport {
            leader: true,
            status: format!("active: connected with {rev2}"),
            containers: [(
                "app".to_string(),
                ContainerReport {
                    files,
                    service_events: vec![format!("start svc-{peer_pw}")],
                    services: BTreeMap::new(),
                },
            )]
            .into(),
        };
        let hook = |step, name: &str, exit_code| HookRecord {
            step,
            unit: "app/0".to_string(),
            hook: name.to_string(),
            relation_id: None,
            remote_app: None,
            remote_unit: None,
            departing_unit: None,
            exit_code,
            duration_ms: 1.0,
            stderr: None,
            writes: vec![],
            secret_writes: vec![],
            service_events: vec![],
        };
        let mut elected = hook(1, "leader-elected", 0);
        elected.secret_writes = vec![SecretWrite {
            id: "secret:gone".to_string(),
            label: None,
            revision: 1,
            keys: vec!["password".to_string()],
            content: bag(&[("password", removed)]),
        }];
        elected.service_events = vec![format!("app: start svc-{peer_pw}")];
        let mut failed = hook(2, "update-status", 1);
        failed.stderr = Some(format!(
            "connecting with {removed}\nkey line {line}\nsent {json_doc}\nrotating to action-pw-9876\nport 5432 tls False"
        ));
        let report = Report {
            model: "m".to_string(),
            app_status: format!("active: {admin_pw}"),
            units: [("app/0".to_string(), unit)].into(),
            relations: vec![relation],
            secrets: vec![secret],
            hooks: vec![elected, failed],
        };
        (scenario, report)
    }

    #[test]
    fn the_redactor_learns_every_secret_of_a_synthetic_model() {
        let (scenario, report) = synthetic_run();
        let r = Redactor::for_run(&scenario, &report);
        assert!(!r.is_empty());
        let outputs = [
            ("account", account(&scenario, &report)),
            (
                "mermaid",
                super::super::mermaid::sequence(&scenario, &report),
            ),
            (
                "markdown",
                super::super::mermaid::markdown("t", &scenario, &report),
            ),
            (
                "yaml",
                model_text(&scenario, &report, false, ModelFormat::Yaml).unwrap(),
            ),
            (
                "yaml --hooks",
                model_text(&scenario, &report, true, ModelFormat::Yaml).unwrap(),
            ),
            (
                "json",
                model_text(&scenario, &report, false, ModelFormat::Json).unwrap(),
            ),
            (
                "json --hooks",
                model_text(&scenario, &report, true, ModelFormat::Json).unwrap(),
            ),
        ];
        let json_quoted = serde_json::to_string(SECRETS[6]).unwrap();
        for (format, text) in &outputs {
            // The user name, a secret's content, is hidden as a databag key too.
            let also = [
                json_quoted.trim_matches('"'),
                "relation_id_5",
                "action-pw-9876",
            ];
            for secret in SECRETS.iter().chain(also.iter()) {
                assert!(!text.contains(secret), "{format} shows {secret:?}:\n{text}");
            }
            // What is no secret stays: short values of a secret's content
            // are not hidden inside other text.
            if format.starts_with("yaml") || format.starts_with("json") {
                assert!(text.contains("tls = False"), "{format}:\n{text}");
                assert!(text.contains("port = 5432"), "{format}:\n{text}");
                assert!(text.contains("-----END KEY-----"), "{format}:\n{text}");
            }
        }
        let (_, account_text) = &outputs[0];
        assert!(
            account_text.contains("app/0 (leader): active: connected with ***"),
            "{account_text}"
        );
        assert!(
            account_text.contains("secret secret:gone revision 1: password"),
            "{account_text}"
        );
        assert!(
            account_text.contains("      | port 5432 tls False\n"),
            "{account_text}"
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let (scenario, report) = synthetic_run();
        let r = Redactor::for_run(&scenario, &report);
        let writes: Vec<_> = report.hooks.iter().map(|h| &h.secret_writes).collect();
        let bag_write = super::super::report::BagWrite::diff(
            0,
            "pgb-peers",
            "app",
            &bag(&[]),
            &bag(&[("relation_id_5", SECRETS[0])]),
        );
        let shown = format!("{r:?} {:?} {writes:?} {bag_write:?}", report.secrets);
        for secret in SECRETS {
            assert!(!shown.contains(secret), "{secret:?} in {shown}");
        }
        assert!(shown.starts_with("Redactor { secrets: "), "{shown}");
        assert!(shown.contains("keys: [\"password\"]"), "{shown}");
    }

    #[test]
    fn a_secret_uri_goes_whole_and_hiding_never_rebuilds_a_secret() {
        let mut r = Redactor::default();
        r.learn_value("postgresql://relation_id_2:pw-0123456789@host:6432/appdb");
        assert_eq!(
            r.scrub("uris=postgresql://relation_id_2:pw-0123456789@host:6432/appdb"),
            "uris=***"
        );
        let mut r = Redactor::default();
        r.learn_value("u:***@host12");
        let shown = r.scrub("x://u:pw@host12/db");
        assert!(!shown.contains("u:***@host12"), "{shown}");
    }

    proptest::proptest! {
        /// A learned secret (of at least MIN_SECRET_CHARS printable
        /// characters) never survives scrubbing, wherever it is put, nor
        /// does it in a serialized tree, as a value or as a key.
        #[test]
        fn prop_a_learned_secret_never_survives(
            secret in "[ -~]{8,24}",
            before in "[ -~\n]{0,40}",
            after in "[ -~\n]{0,40}",
        ) {
            let mut r = Redactor::default();
            r.learn_value(&secret);
            let text = format!("{before}{secret}{after}");
            let scrubbed = r.scrub(&text);
            proptest::prop_assert!(!scrubbed.contains(&secret), "{:?}", scrubbed);
            let mut tree = serde_norway::Mapping::new();
            tree.insert(text.clone().into(), text.clone().into());
            tree.insert("note".into(), vec![serde_norway::Value::from(text)].into());
            let mut tree = serde_norway::Value::Mapping(tree);
            r.scrub_value(&mut tree);
            let printed = serde_json::to_string(&tree).unwrap();
            let json_secret = serde_json::to_string(&secret).unwrap();
            proptest::prop_assert!(
                !printed.contains(json_secret.trim_matches('"')),
                "{}",
                printed
            );
        }
    }

    #[test]
    fn short_values_are_hidden_only_whole_under_their_key() {
        let mut r = Redactor::default();
        r.learn_value("False");
        r.learn_value("1234567");
        r.learn("password", "0");
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(
            r.scrub("tls False, port 1234567, 0"),
            "tls False, port 1234567, 0"
        );
        assert_eq!(r.show("password", "0"), "(secret)");
        let mut value: serde_norway::Value =
            serde_norway::from_str("{password: '0', port: '0', list: [{token: ab}]}").unwrap();
        r.scrub_value(&mut value);
        assert_eq!(
            serde_norway::to_string(&value).unwrap(),
            "password: '***'\nport: '0'\nlist:\n- token: '***'\n"
        );
        r.learn_value("12345678");
        assert_eq!(r.len(), 1);
        assert_eq!(r.scrub("port 123456789"), "port ***9");
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
