//! A run as a Mermaid sequence diagram, and a Markdown report (the account
//! plus the diagram).
//!
//! The charm's units and the simulated applications are the participants;
//! each scenario step is a note across all of them; hooks are notes over
//! their unit (hooks that did nothing visible are merged into one note);
//! a databag write is a message from the writer to the relation's other
//! side (every other live unit, for a peer relation); a simulated
//! application's data, from a step, is a dashed message to the units.
//! Only key names travel on the messages: never values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::account::{self, Redactor};
use super::report::{HookRecord, Report};
use super::scenario::{Scenario, Step};

/// How long a line of a merged note may grow before the next hook name
/// goes on a new line.
const NOTE_CHARS: usize = 48;
/// How many characters of a stderr line a note shows.
const STDERR_CHARS: usize = 80;

/// Text made safe inside a Mermaid message or note: `#`, `;`, `<` and `>`
/// become entity codes, and a newline a space.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to at most `max` characters, at a character boundary, its
/// end marked `…` where it was cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Lines of a note, escaped, joined by `<br/>`.
fn lines(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| escape(p))
        .collect::<Vec<_>>()
        .join("<br/>")
}

struct Diagram<'a> {
    out: String,
    ids: BTreeMap<String, String>,
    first: String,
    last: String,
    app: String,
    /// Units that have run a hook and not yet `remove`.
    live: BTreeSet<String>,
    /// Relation id → the application on its other side.
    remote_of: BTreeMap<u32, String>,
    redactor: &'a Redactor,
}

impl Diagram<'_> {
    fn id(&self, name: &str) -> Option<&str> {
        self.ids.get(name).map(String::as_str)
    }

    fn note(&mut self, who: &str, parts: &[String]) {
        if let Some(id) = self.id(who).map(str::to_string) {
            let _ = writeln!(self.out, "    Note over {id}: {}", lines(parts));
        }
    }

    fn message(&mut self, from: &str, to: &str, arrow: &str, text: &str) {
        if let (Some(a), Some(b)) = (self.id(from), self.id(to)) {
            let line = format!("    {a}{arrow}{b}: {}\n", escape(text));
            self.out.push_str(&line);
        }
    }

    fn quiet(&mut self, unit: &str, labels: &mut Vec<String>) {
        if labels.is_empty() {
            return;
        }
        let mut parts: Vec<String> = Vec::new();
        for label in labels.iter() {
            match parts.last_mut() {
                Some(line) if line.chars().count() + 2 + label.chars().count() <= NOTE_CHARS => {
                    line.push_str(", ");
                    line.push_str(label);
                }
                _ => parts.push(label.clone()),
            }
        }
        self.note(unit, &parts);
        labels.clear();
    }

    fn hook(&mut self, hook: &HookRecord) {
        let mut parts = vec![account::hook_label(hook)];
        if hook.exit_code != 0 {
            parts[0].push_str(&format!(" FAILED (exit {})", hook.exit_code));
            if let Some(line) = account::stderr_tail(hook).last() {
                parts.push(clip(&self.redactor.scrub(line), STDERR_CHARS));
            }
            self.out.push_str("    rect rgb(255, 221, 221)\n");
            self.note(&hook.unit, &parts);
            self.out.push_str("    end\n");
            return;
        }
        let events = account::service_events(hook);
        if !events.is_empty() {
            parts.push(
                self.redactor
                    .scrub(&format!("pebble: {}", events.join(", "))),
            );
        }
        for write in &hook.secret_writes {
            parts.push(account::secret_label(write));
        }
        self.note(&hook.unit, &parts);
        for write in &hook.writes {
            let keys = write.keys.join(", ");
            // A key may be a secret's user name.
            let text = self
                .redactor
                .scrub(&format!("{}: {keys}", account::bag_label(write)));
            let remote = self.remote_of.get(&write.relation).cloned();
            match remote {
                Some(remote) if remote == self.app => {
                    let peers: Vec<String> = self
                        .live
                        .iter()
                        .filter(|u| **u != hook.unit)
                        .cloned()
                        .collect();
                    for peer in peers {
                        self.message(&hook.unit, &peer, "->>", &text);
                    }
                }
                Some(remote) if self.ids.contains_key(&remote) => {
                    self.message(&hook.unit, &remote, "->>", &text);
                }
                _ => self.note(&hook.unit, &[format!("wrote {text}")]),
            }
        }
    }

    /// A simulated application's data, set by a step, to every live unit.
    fn remote_data(&mut self, app: &str, label: &str, data: &BTreeMap<String, String>) {
        if data.is_empty() {
            return;
        }
        let keys: Vec<String> = data
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    format!("{k} (deleted)")
                } else {
                    k.clone()
                }
            })
            .collect();
        let text = self
            .redactor
            .scrub(&format!("{label}: {}", keys.join(", ")));
        for unit in self.live.clone() {
            self.message(app, &unit, "-->>", &text);
        }
    }
}

/// The run of `scenario` that produced `report` (with its hooks) as a
/// Mermaid sequence diagram.
///
/// ```no_run
/// # fn demo(scenario: &ops_testing::sim::Scenario, report: &ops_testing::sim::Report) {
/// let diagram = ops_testing::sim::mermaid::sequence(scenario, report);
/// assert!(diagram.starts_with("sequenceDiagram\n"));
/// ops_testing::sim::mermaid::check(&diagram).unwrap();
/// # }
/// ```
pub fn sequence(scenario: &Scenario, report: &Report) -> String {
    let redactor = Redactor::for_run(scenario, report);
    let mut units: Vec<String> = Vec::new();
    for name in report
        .hooks
        .iter()
        .map(|h| &h.unit)
        .chain(report.units.keys())
    {
        if !units.contains(name) {
            units.push(name.clone());
        }
    }
    let app = units
        .first()
        .map(|u| crate::fake_juju::app_of(u).to_string())
        .unwrap_or_default();
    let mut out = String::from("sequenceDiagram\n");
    let mut ids = BTreeMap::new();
    let mut order = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let id = format!("u{i}");
        let _ = writeln!(out, "    participant {id} as {}", escape(unit));
        ids.insert(unit.clone(), id.clone());
        order.push(id);
    }
    for (i, remote) in scenario.apps.keys().enumerate() {
        let id = format!("a{i}");
        let _ = writeln!(out, "    participant {id} as {}", escape(remote));
        ids.insert(remote.clone(), id.clone());
        order.push(id);
    }
    let mut remote_of = BTreeMap::new();
    for hook in &report.hooks {
        if let (Some(id), Some(remote)) = (hook.relation_id, &hook.remote_app) {
            remote_of.entry(id).or_insert_with(|| remote.clone());
        }
    }
    for r in &report.relations {
        remote_of
            .entry(r.id)
            .or_insert_with(|| r.remote_app.clone());
    }
    let mut d = Diagram {
        out,
        ids,
        first: order.first().cloned().unwrap_or_default(),
        last: order.last().cloned().unwrap_or_default(),
        app,
        live: BTreeSet::new(),
        remote_of,
        redactor: &redactor,
    };
    // A unit is there from the start of the step that brought it
    // (`deploy`, `add-unit`), so that its peers' writes reach it.
    let mut arrives: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for unit in &units {
        if let Some(first) = report.hooks.iter().find(|h| h.unit == *unit) {
            arrives.entry(first.step).or_default().push(unit.clone());
        }
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let number = i + 1;
        d.live.extend(arrives.remove(&number).into_iter().flatten());
        let title = escape(&format!(
            "step {number}: {}",
            account::describe_step(step, d.redactor, false)
        ));
        if d.first.is_empty() {
            break;
        }
        let over = if d.first == d.last {
            d.first.clone()
        } else {
            format!("{},{}", d.first, d.last)
        };
        let _ = writeln!(d.out, "    Note over {over}: {title}");
        let hooks: Vec<&HookRecord> = report.hooks.iter().filter(|h| h.step == number).collect();
        match step {
            Step::Relate(relate) => {
                let id = hooks
                    .iter()
                    .find(|h| h.hook == format!("{}-relation-created", relate.endpoint))
                    .and_then(|h| h.relation_id);
                let label = match id {
                    Some(id) => format!("{}:{id} {}", relate.endpoint, relate.app),
                    None => format!("{} {}", relate.endpoint, relate.app),
                };
                d.remote_data(&relate.app, &label, &relate.app_data);
                for (unit, data) in &relate.unit_data {
                    let label = label.replace(&relate.app, unit);
                    d.remote_data(&relate.app, &label, data);
                }
            }
            Step::SetRemoteData {
                endpoint,
                app,
                unit,
                data,
            } => {
                let label = format!("{endpoint} {}", unit.as_deref().unwrap_or(app));
                d.remote_data(app, &label, data);
            }
            _ => {}
        }
        let mut quiet: Vec<String> = Vec::new();
        let mut quiet_unit = String::new();
        for hook in hooks {
            d.live.insert(hook.unit.clone());
            if quiet_unit != hook.unit {
                let unit = std::mem::take(&mut quiet_unit);
                d.quiet(&unit, &mut quiet);
                quiet_unit = hook.unit.clone();
            }
            if account::is_quiet(hook) {
                quiet.push(account::hook_label(hook));
            } else {
                d.quiet(&hook.unit, &mut quiet);
                d.hook(hook);
            }
            if hook.hook == "remove" && hook.exit_code == 0 {
                d.live.remove(&hook.unit);
            }
        }
        d.quiet(&quiet_unit, &mut quiet);
    }
    let mut end = Vec::new();
    for (name, unit) in &report.units {
        let leader = if unit.leader { "leader, " } else { "" };
        // The status whole (never shortened), secrets hidden.
        let status = redactor.scrub(&unit.status);
        let status = status.strip_suffix(": ").unwrap_or(&status);
        end.push((name.clone(), format!("at the end: {leader}{status}")));
    }
    for (name, text) in end {
        d.note(&name, &[text]);
    }
    d.out
}

/// A Markdown report of the run: the account in a text block and the
/// sequence diagram in a `mermaid` block, under `title`.
pub fn markdown(title: &str, scenario: &Scenario, report: &Report) -> String {
    format!(
        "# {title}\n\n## Account\n\n```text\n{}```\n\n## Sequence\n\n```mermaid\n{}```\n",
        account::account(scenario, report),
        sequence(scenario, report)
    )
}

/// Checks the Mermaid that [`sequence`] writes, as far as it goes: the
/// header, participants declared once and before use, well-formed arrows
/// and notes, balanced `rect`/`end`, and no character Mermaid would read
/// as syntax (`;`, `#` outside an entity code, `<`/`>` outside `<br/>`) in
/// any text. The error names the line.
pub fn check(diagram: &str) -> Result<(), String> {
    let mut lines = diagram.lines().enumerate();
    match lines.next() {
        Some((_, "sequenceDiagram")) => {}
        other => return Err(format!("line 1: expected sequenceDiagram, got {other:?}")),
    }
    let mut declared: BTreeSet<String> = BTreeSet::new();
    let mut depth = 0usize;
    let is_id =
        |id: &str| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    for (i, raw) in lines {
        let n = i + 1;
        let line = raw.trim();
        let bad = |what: &str| Err(format!("line {n}: {what}: {line:?}"));
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("participant ") {
            let Some((id, label)) = rest.split_once(" as ") else {
                return bad("a participant needs `ID as label`");
            };
            if !is_id(id) {
                return bad("a participant id is letters, digits and _");
            }
            check_text(label).or_else(|e| bad(&e))?;
            if !declared.insert(id.to_string()) {
                return bad("participant declared twice");
            }
            continue;
        }
        if line.starts_with("rect rgb(") && line.ends_with(')') {
            depth += 1;
            continue;
        }
        if line == "end" {
            if depth == 0 {
                return bad("`end` without `rect`");
            }
            depth -= 1;
            continue;
        }
        if let Some(rest) = line.strip_prefix("Note over ") {
            let Some((who, text)) = rest.split_once(": ") else {
                return bad("a note needs `Note over ID: text`");
            };
            for id in who.split(',') {
                if !declared.contains(id) {
                    return bad(&format!("note over undeclared participant {id}"));
                }
            }
            check_text(text).or_else(|e| bad(&e))?;
            continue;
        }
        let Some((arrow_part, text)) = line.split_once(": ") else {
            return bad("not a participant, note, rect or message");
        };
        let arrow = ["-->>", "->>"]
            .into_iter()
            .find_map(|a| arrow_part.split_once(a));
        let Some((from, to)) = arrow else {
            return bad("a message needs `A->>B: text` or `A-->>B: text`");
        };
        for id in [from, to] {
            if !declared.contains(id) {
                return bad(&format!("message from or to undeclared participant {id:?}"));
            }
        }
        check_text(text).or_else(|e| bad(&e))?;
    }
    if depth != 0 {
        return Err("a `rect` is never closed with `end`".to_string());
    }
    if declared.is_empty() {
        return Err("no participants".to_string());
    }
    Ok(())
}

/// A message's or note's text: no bare `;`, `#`, `<` or `>`.
fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("empty text".to_string());
    }
    let text = text.replace("<br/>", "\n");
    let mut rest = text.as_str();
    while let Some(at) = rest.find(['#', ';', '<', '>']) {
        let tail = &rest[at..];
        if let Some(code) = tail.strip_prefix('#') {
            let end = code.find(';').unwrap_or(0);
            let name = &code[..end];
            if end > 0 && name.chars().all(|c| c.is_ascii_alphanumeric()) {
                rest = &code[end + 1..];
                continue;
            }
        }
        return Err(format!(
            "{:?} would be read as Mermaid syntax",
            tail.chars().next().unwrap_or(' ')
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_cuts_at_a_char_boundary_and_says_so() {
        assert_eq!(clip("short", 80), "short");
        let long = "é".repeat(100);
        let clipped = clip(&long, 80);
        assert_eq!(clipped.chars().count(), 80);
        assert!(clipped.ends_with("é…"), "{clipped}");
        assert_eq!(clip("abcdef", 4), "abc…");
    }

    #[test]
    fn escaping_leaves_nothing_mermaid_reads_as_syntax() {
        let hostile = "a;b #c <script> d\ne";
        let escaped = escape(hostile);
        assert!(check_text(&escaped).is_ok(), "{escaped}");
        assert!(check_text(hostile).is_err());
        assert_eq!(escaped, "a#59;b #35;c #lt;script#gt; d e");
    }

    #[test]
    fn check_finds_what_mermaid_rejects() {
        let good = "sequenceDiagram\n    participant u0 as app/0\n    participant a0 as pg\n    Note over u0,a0: step 1\n    u0->>a0: db:1 app: k\n    rect rgb(1, 2, 3)\n    Note over u0: x<br/>y\n    end\n";
        assert_eq!(check(good), Ok(()));
        for (bad, why) in [
            ("graph TD\n", "sequenceDiagram"),
            ("sequenceDiagram\n    u0->>a0: x\n", "undeclared"),
            (
                "sequenceDiagram\n    participant u0 as a\n    Note over u1: x\n",
                "undeclared",
            ),
            (
                "sequenceDiagram\n    participant u0 as a\n    Note over u0: a;b\n",
                "syntax",
            ),
            (
                "sequenceDiagram\n    participant u0 as a\n    Note over u0: #1\n",
                "syntax",
            ),
            (
                "sequenceDiagram\n    participant u0 as a\n    u0-x u0: lost\n",
                "message",
            ),
            (
                "sequenceDiagram\n    participant u0 as a\n    rect rgb(1, 2, 3)\n",
                "never closed",
            ),
            (
                "sequenceDiagram\n    participant u0 as a\n    participant u0 as b\n",
                "twice",
            ),
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
