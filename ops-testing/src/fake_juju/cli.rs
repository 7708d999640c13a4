//! The hook tools as executables: argv parsed as Juju's `gnuflag` does, the
//! model kept in a JSON state file shared by every unit's processes.
//!
//! One executable, `juju-hook-tool`, acts as the tool its `argv[0]` names;
//! [`install_hook_tools`] makes the symlinks.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ops::backend::{
    LogLevel, OpenedPort, RelationRef, SecretAddArgs, SecretOwner, SecretSetArgs, StatusInfo,
    StatusName,
};
use serde_json::{Value, json};

use super::{FakeJuju, HookContext, HookError, HookErrorKind};

/// The environment variable naming the model's state file.
pub const STATE_VAR: &str = "OPS_FAKE_JUJU_STATE";

/// Every tool name the executable answers to.
pub const TOOLS: &[&str] = &[
    "relation-get",
    "relation-set",
    "relation-ids",
    "relation-list",
    "is-leader",
    "config-get",
    "status-set",
    "status-get",
    "juju-log",
    "state-get",
    "state-set",
    "state-delete",
    "secret-add",
    "secret-get",
    "secret-info-get",
    "secret-set",
    "secret-grant",
    "secret-revoke",
    "secret-remove",
    "secret-ids",
    "application-version-set",
    "open-port",
    "close-port",
    "opened-ports",
    "network-get",
    "goal-state",
    "resource-get",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
    "leader-get",
    "leader-set",
];

/// Symlinks every tool name in `dir` to the `juju-hook-tool` executable `exe`.
pub fn install_hook_tools(exe: &Path, dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    for tool in TOOLS {
        let link = dir.join(tool);
        if fs::symlink_metadata(&link).is_ok() {
            fs::remove_file(&link)?;
        }
        std::os::unix::fs::symlink(exe, &link)?;
    }
    Ok(())
}

/// Writes the model to a state file, atomically.
pub fn save_state(path: &Path, juju: &FakeJuju) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let json = serde_json::to_vec_pretty(juju).map_err(std::io::Error::other)?;
    fs::write(&tmp, json)?;
    fs::rename(&tmp, path)
}

/// Reads the model from a state file.
pub fn load_state(path: &Path) -> std::io::Result<FakeJuju> {
    let text = fs::read(path)?;
    serde_json::from_slice(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// Runs `f` on the model in `path` under an exclusive lock, saving it after.
pub fn with_state<T>(path: &Path, f: impl FnOnce(&mut FakeJuju) -> T) -> std::io::Result<T> {
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(path))?;
    lock.lock()?;
    let mut juju = load_state(path)?;
    let before = juju.clone();
    let out = f(&mut juju);
    if juju != before {
        save_state(path, &juju)?;
    }
    lock.unlock()?;
    Ok(out)
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// What a tool run ends with: stdout, or an error for stderr and its exit code.
pub enum Outcome {
    /// Success, with what to print.
    Ok(String),
    /// Failure: message (without `ERROR `) and exit status.
    Err(String, i32),
}

/// Parsed argv: flags by name and positionals in order.
#[derive(Debug, Default)]
struct Args {
    flags: BTreeMap<String, String>,
    positional: Vec<String>,
}

impl Args {
    fn flag(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.flags.get(*n).map(String::as_str))
    }

    fn has(&self, names: &[&str]) -> bool {
        self.flag(names)
            .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "0"))
    }
}

/// Parses like gnuflag: flags anywhere, `--f=v` or `--f v` for flags that
/// take a value, `--` ends flags, a lone `-` is a positional.
fn parse(argv: &[String], takes_value: &[&str]) -> Result<Args, String> {
    let mut args = Args::default();
    let mut iter = argv.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            args.positional.extend(iter.by_ref().cloned());
            break;
        }
        if arg == "-" || !arg.starts_with('-') {
            args.positional.push(arg.clone());
            continue;
        }
        let name = arg.trim_start_matches('-');
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (name, None),
        };
        let value = match inline {
            Some(v) => v,
            None if takes_value.contains(&name) => iter
                .next()
                .cloned()
                .ok_or_else(|| format!("flag needs an argument: {arg}"))?,
            None => "true".to_string(),
        };
        args.flags.insert(name.to_string(), value);
    }
    Ok(args)
}

fn format_of(args: &Args) -> &str {
    args.flag(&["format"]).unwrap_or("smart")
}

/// Renders a value as `--format` asks: json, yaml, or Juju's "smart" default.
fn render(value: &Value, format: &str) -> String {
    match format {
        "json" => format!("{}\n", serde_json::to_string(value).unwrap_or_default()),
        "yaml" => serde_yaml::to_string(value).unwrap_or_default(),
        _ => match value {
            Value::Null => String::new(),
            Value::String(s) => format!("{s}\n"),
            Value::Bool(b) => format!("{}\n", if *b { "True" } else { "False" }),
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => format!("{s}\n"),
                    other => format!("{other}\n"),
                })
                .collect(),
            other => serde_yaml::to_string(other).unwrap_or_default(),
        },
    }
}

fn hook_err(e: HookError) -> Outcome {
    let status = if e.kind == HookErrorKind::Usage { 2 } else { 1 };
    Outcome::Err(e.message, status)
}

fn usage(message: impl Into<String>) -> Outcome {
    Outcome::Err(message.into(), 2)
}

fn read_stdin_map(stdin: &mut dyn Read) -> Result<BTreeMap<String, String>, String> {
    let mut text = String::new();
    stdin.read_to_string(&mut text).map_err(|e| e.to_string())?;
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("cannot parse settings: {e}"))?;
    let serde_yaml::Value::Mapping(map) = value else {
        return Err("expected a YAML or JSON map of settings".to_string());
    };
    map.into_iter()
        .map(|(k, v)| {
            let key = match k {
                serde_yaml::Value::String(s) => s,
                other => serde_yaml::to_string(&other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            let value = match v {
                serde_yaml::Value::String(s) => s,
                serde_yaml::Value::Null => String::new(),
                other => serde_yaml::to_string(&other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            Ok((key, value))
        })
        .collect()
}

/// `k=v` and `k#file=path` arguments.
fn key_values(items: &[String]) -> Result<BTreeMap<String, String>, String> {
    items
        .iter()
        .map(|item| {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {item:?}"))?;
            match key.strip_suffix("#file") {
                Some(key) => fs::read_to_string(value)
                    .map(|v| (key.to_string(), v))
                    .map_err(|e| format!("cannot read {value}: {e}")),
                None => Ok((key.to_string(), value.to_string())),
            }
        })
        .collect()
}

fn relation_arg(juju: &FakeJuju, ctx: &HookContext, args: &Args) -> Result<RelationRef, Outcome> {
    let raw = match args.flag(&["r", "relation"]) {
        Some(raw) => raw.to_string(),
        None => match &ctx.relation {
            Some(r) => r.to_string(),
            None => return Err(usage("no relation id specified")),
        },
    };
    let not_found = || {
        Outcome::Err(
            format!("invalid value {raw:?} for option -r: relation not found"),
            2,
        )
    };
    let id: u32 = raw
        .rsplit(':')
        .next()
        .and_then(|i| i.parse().ok())
        .ok_or_else(not_found)?;
    let app = super::app_of(&ctx.unit);
    let endpoint = juju
        .relations
        .get(&id)
        .and_then(|r| r.endpoint_of(app))
        .ok_or_else(not_found)?;
    if let Some((name, _)) = raw.rsplit_once(':')
        && name != endpoint
    {
        return Err(not_found());
    }
    Ok(RelationRef::new(endpoint, id))
}

fn bool_flag(args: &Args, name: &str) -> bool {
    args.has(&[name])
}

fn log_level(raw: Option<&str>) -> LogLevel {
    match raw.unwrap_or("INFO").to_ascii_uppercase().as_str() {
        "DEBUG" | "TRACE" => LogLevel::Debug,
        "WARNING" | "WARN" => LogLevel::Warning,
        "ERROR" | "CRITICAL" => LogLevel::Error,
        _ => LogLevel::Info,
    }
}

/// Runs one tool invocation against the model.
pub fn run_tool(
    juju: &mut FakeJuju,
    ctx: &HookContext,
    tool: &str,
    argv: &[String],
    stdin: &mut dyn Read,
) -> Outcome {
    let takes_value = [
        "format",
        "r",
        "relation",
        "file",
        "log-level",
        "l",
        "label",
        "description",
        "expire",
        "rotate",
        "owner",
        "unit",
        "revision",
        "o",
        "output",
    ];
    let args = match parse(argv, &takes_value) {
        Ok(args) => args,
        Err(e) => return usage(e),
    };
    let format = format_of(&args).to_string();
    let out = |v: Value| Outcome::Ok(render(&v, &format));
    let done = || Outcome::Ok(String::new());
    match tool {
        "relation-ids" => {
            let Some(endpoint) = args
                .positional
                .first()
                .cloned()
                .or_else(|| ctx.relation.as_ref().map(|r| r.name.clone()))
            else {
                return usage("no endpoint name specified");
            };
            match juju.hook_relation_ids(ctx, &endpoint) {
                Ok(ids) => out(json!(
                    ids.iter().map(ToString::to_string).collect::<Vec<_>>()
                )),
                Err(e) => hook_err(e),
            }
        }
        "relation-list" => {
            let relation = match relation_arg(juju, ctx, &args) {
                Ok(r) => r,
                Err(o) => return o,
            };
            if bool_flag(&args, "app") {
                return match juju.hook_relation_remote_app(ctx, &relation) {
                    Ok(app) => out(json!(app)),
                    Err(e) => hook_err(e),
                };
            }
            match juju.hook_relation_list(ctx, &relation) {
                Ok(units) => out(json!(units)),
                Err(e) => hook_err(e),
            }
        }
        "relation-get" => {
            let relation = match relation_arg(juju, ctx, &args) {
                Ok(r) => r,
                Err(o) => return o,
            };
            let key = args
                .positional
                .first()
                .cloned()
                .unwrap_or_else(|| "-".to_string());
            let app = bool_flag(&args, "app");
            let member = match args.positional.get(1) {
                Some(m) => m.clone(),
                None => match if app {
                    ctx.remote_app.clone()
                } else {
                    ctx.remote_unit.clone()
                } {
                    Some(m) => m,
                    None => return usage("no unit id specified"),
                },
            };
            match juju.hook_relation_get(ctx, &relation, &member, app) {
                Ok(bag) if key == "-" => out(json!(bag)),
                Ok(bag) => out(bag.get(&key).map(|v| json!(v)).unwrap_or(Value::Null)),
                Err(e) => hook_err(e),
            }
        }
        "relation-set" => {
            let relation = match relation_arg(juju, ctx, &args) {
                Ok(r) => r,
                Err(o) => return o,
            };
            let mut data = BTreeMap::new();
            if let Some(file) = args.flag(&["file"]) {
                let parsed = if file == "-" {
                    read_stdin_map(stdin)
                } else {
                    fs::File::open(file)
                        .map_err(|e| e.to_string())
                        .and_then(|mut f| read_stdin_map(&mut f))
                };
                match parsed {
                    Ok(map) => data.extend(map),
                    Err(e) => return usage(e),
                }
            }
            match key_values(&args.positional) {
                Ok(map) => data.extend(map),
                Err(e) => return usage(e),
            }
            match juju.hook_relation_set(ctx, &relation, bool_flag(&args, "app"), &data) {
                Ok(()) => done(),
                Err(e) => hook_err(e),
            }
        }
        "is-leader" => out(json!(juju.hook_is_leader(ctx))),
        "config-get" => {
            let config = juju.hook_config_get(ctx);
            match args.positional.first() {
                Some(key) => out(config.get(key).cloned().unwrap_or(Value::Null)),
                None => out(Value::Object(config)),
            }
        }
        "status-set" => {
            let app = bool_flag(&args, "application");
            let Some(name) = args.positional.first() else {
                return usage("invalid args, require <status> [message] [data]");
            };
            let status = match name.parse::<StatusName>() {
                Ok(s) => s,
                Err(_) => {
                    return usage(format!(
                        "invalid status {name:?}, expected one of [maintenance blocked waiting active]"
                    ));
                }
            };
            let message = args.positional.get(1).cloned().unwrap_or_default();
            match juju.hook_status_set(ctx, app, &StatusInfo::new(status, message)) {
                Ok(()) => done(),
                Err(e) => hook_err(e),
            }
        }
        "status-get" => {
            let app = bool_flag(&args, "application");
            match juju.hook_status_get(ctx, app) {
                Ok(s) => {
                    let one =
                        json!({"status": s.name.as_str(), "message": s.message, "status-data": {}});
                    if app {
                        let units: serde_json::Map<String, Value> = juju
                            .apps
                            .get(super::app_of(&ctx.unit))
                            .map(|a| {
                                a.units
                                    .iter()
                                    .filter_map(|u| {
                                        juju.unit_status(u).map(|us| {
                                            (u.clone(), json!({"status": us.name.as_str(), "message": us.message, "status-data": {}}))
                                        })
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        let mut app_status = one;
                        app_status["units"] = Value::Object(units);
                        out(json!({"application-status": app_status}))
                    } else if bool_flag(&args, "include-data") || format == "json" {
                        out(one)
                    } else {
                        out(json!(s.name.as_str()))
                    }
                }
                Err(e) => hook_err(e),
            }
        }
        "juju-log" => {
            let level = log_level(args.flag(&["log-level", "l"]));
            juju.hook_juju_log(ctx, level, &args.positional.join(" "));
            done()
        }
        "state-get" => {
            let state = juju.hook_state_get(ctx);
            match args.positional.first() {
                Some(key) => match state.get(key) {
                    Some(v) => out(json!(v)),
                    None if bool_flag(&args, "strict") => {
                        Outcome::Err(format!("{key:?} not found"), 1)
                    }
                    None => out(Value::Null),
                },
                None => out(json!(state)),
            }
        }
        "state-set" => {
            let mut data = BTreeMap::new();
            if args.flag(&["file"]) == Some("-") {
                match read_stdin_map(stdin) {
                    Ok(map) => data.extend(map),
                    Err(e) => return usage(e),
                }
            }
            match key_values(&args.positional) {
                Ok(map) => data.extend(map),
                Err(e) => return usage(e),
            }
            juju.hook_state_set(ctx, &data);
            done()
        }
        "state-delete" => match args.positional.first() {
            Some(key) => {
                juju.hook_state_delete(ctx, key);
                done()
            }
            None => usage("missing key"),
        },
        "secret-add" => {
            let content = match key_values(&args.positional) {
                Ok(c) => c,
                Err(e) => return usage(e),
            };
            let owner = match args.flag(&["owner"]).unwrap_or("application") {
                "unit" => SecretOwner::Unit,
                _ => SecretOwner::Application,
            };
            let add = SecretAddArgs {
                content,
                label: args.flag(&["label"]).map(str::to_string),
                description: args.flag(&["description"]).map(str::to_string),
                expire: args.flag(&["expire"]).map(str::to_string),
                rotate: args.flag(&["rotate"]).map(str::to_string),
                owner,
            };
            match juju.hook_secret_add(ctx, &add) {
                Ok(id) => Outcome::Ok(format!("{id}\n")),
                Err(e) => hook_err(e),
            }
        }
        "secret-get" => {
            let id = args.positional.first().map(String::as_str);
            match juju.hook_secret_get(
                ctx,
                id,
                args.flag(&["label"]),
                bool_flag(&args, "refresh"),
                bool_flag(&args, "peek"),
            ) {
                Ok(content) => match args.positional.get(1) {
                    Some(key) => out(content.get(key).map(|v| json!(v)).unwrap_or(Value::Null)),
                    None => out(json!(content)),
                },
                Err(e) => hook_err(e),
            }
        }
        "secret-info-get" => {
            let id = args.positional.first().map(String::as_str);
            match juju.hook_secret_info_get(ctx, id, args.flag(&["label"])) {
                Ok(info) => {
                    let short = info.id.trim_start_matches("secret:").to_string();
                    out(json!({ short: {
                        "revision": info.revision, "label": info.label, "owner": info.owner,
                        "rotation": info.rotation, "expiry": info.expiry, "description": info.description,
                    }}))
                }
                Err(e) => hook_err(e),
            }
        }
        "secret-ids" => {
            let app = super::app_of(&ctx.unit).to_string();
            let ids: Vec<String> = juju
                .secrets
                .values()
                .filter(|s| s.owner == ctx.unit || s.owner == app)
                .map(|s| s.id.clone())
                .collect();
            out(json!(ids))
        }
        "secret-set" => {
            let Some((id, rest)) = args.positional.split_first() else {
                return usage("missing secret URI");
            };
            let content = match key_values(rest) {
                Ok(c) => c,
                Err(e) => return usage(e),
            };
            let set = SecretSetArgs {
                content: (!content.is_empty()).then_some(content),
                label: args.flag(&["label"]).map(str::to_string),
                description: args.flag(&["description"]).map(str::to_string),
                expire: args.flag(&["expire"]).map(str::to_string),
                rotate: args.flag(&["rotate"]).map(str::to_string),
            };
            match juju.hook_secret_set(ctx, id, &set) {
                Ok(()) => done(),
                Err(e) => hook_err(e),
            }
        }
        "secret-grant" | "secret-revoke" => {
            let Some(id) = args.positional.first() else {
                return usage("missing secret URI");
            };
            let relation = match relation_arg(juju, ctx, &args) {
                Ok(r) => r,
                Err(o) => return o,
            };
            let unit = args.flag(&["unit"]);
            let result = if tool == "secret-grant" {
                juju.hook_secret_grant(ctx, id, relation.id, unit)
            } else {
                juju.hook_secret_revoke(ctx, id, relation.id, unit)
            };
            match result {
                Ok(()) => done(),
                Err(e) => hook_err(e),
            }
        }
        "secret-remove" => {
            let Some(id) = args.positional.first() else {
                return usage("missing secret URI");
            };
            let revision = args.flag(&["revision"]).and_then(|r| r.parse().ok());
            match juju.hook_secret_remove(ctx, id, revision) {
                Ok(()) => done(),
                Err(e) => hook_err(e),
            }
        }
        "application-version-set" => {
            juju.hook_application_version_set(ctx, &args.positional.join(" "));
            done()
        }
        "open-port" | "close-port" => {
            let Some(raw) = args.positional.first() else {
                return usage("no port or range specified");
            };
            let port = if raw.contains('/') || raw == "icmp" {
                raw.clone()
            } else {
                format!("{raw}/tcp")
            };
            match port.parse::<OpenedPort>() {
                Ok(p) => {
                    if tool == "open-port" {
                        juju.hook_open_port(ctx, &p);
                    } else {
                        juju.hook_close_port(ctx, &p);
                    }
                    done()
                }
                Err(e) => usage(e.to_string()),
            }
        }
        "opened-ports" => out(json!(
            juju.hook_opened_ports(ctx)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        )),
        "network-get" => {
            let binding = args
                .positional
                .first()
                .cloned()
                .unwrap_or_else(|| "juju-info".to_string());
            match juju.hook_network_get(ctx, &binding) {
                Ok(v) => out(v),
                Err(e) => hook_err(e),
            }
        }
        "goal-state" => out(juju.hook_goal_state(ctx)),
        "resource-get" => match args.positional.first() {
            Some(name) => match juju.hook_resource_get(ctx, name) {
                Ok(path) => Outcome::Ok(format!("{path}\n")),
                Err(e) => hook_err(e),
            },
            None => usage("missing required resource name"),
        },
        "action-get" => match juju.hook_action_get(ctx) {
            Ok(params) => match args.positional.first() {
                Some(key) => out(params.get(key).cloned().unwrap_or(Value::Null)),
                None => out(Value::Object(params)),
            },
            Err(e) => hook_err(e),
        },
        "action-set" => match key_values(&args.positional) {
            Ok(results) => match juju.hook_action_set(ctx, &results) {
                Ok(()) => done(),
                Err(e) => hook_err(e),
            },
            Err(e) => usage(e),
        },
        "action-fail" => match juju.hook_action_fail(ctx, &args.positional.join(" ")) {
            Ok(()) => done(),
            Err(e) => hook_err(e),
        },
        "action-log" => match juju.hook_action_log(ctx, &args.positional.join(" ")) {
            Ok(()) => done(),
            Err(e) => hook_err(e),
        },
        "leader-get" => out(json!({})),
        "leader-set" => {
            if juju.hook_is_leader(ctx) {
                done()
            } else {
                Outcome::Err(
                    "cannot write leadership settings: cannot write settings: not the leader"
                        .to_string(),
                    1,
                )
            }
        }
        other => Outcome::Err(format!("unknown hook tool {other:?}"), 2),
    }
}

/// The hook context from the environment Juju sets.
pub fn context_from_env(juju: &FakeJuju) -> Result<HookContext, String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let unit = var("JUJU_UNIT_NAME").ok_or("JUJU_UNIT_NAME is not set")?;
    let relation = var("JUJU_RELATION_ID").and_then(|raw| {
        let id: u32 = raw.rsplit(':').next()?.parse().ok()?;
        let name = juju
            .relations
            .get(&id)?
            .endpoint_of(super::app_of(&unit))?
            .to_string();
        Some(RelationRef::new(name, id))
    });
    Ok(HookContext {
        unit,
        relation,
        remote_unit: var("JUJU_REMOTE_UNIT"),
        remote_app: var("JUJU_REMOTE_APP"),
        departing_unit: var("JUJU_DEPARTING_UNIT"),
    })
}

/// The executable's whole life: returns the exit status.
pub fn main_with(
    tool: &str,
    argv: &[String],
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let Some(state) = std::env::var_os(STATE_VAR) else {
        let _ = writeln!(
            stderr,
            "ERROR {STATE_VAR} is not set: this fake hook tool needs a model state file"
        );
        return 1;
    };
    let state = PathBuf::from(state);
    let result = with_state(&state, |juju| match context_from_env(juju) {
        Ok(ctx) => run_tool(juju, &ctx, tool, argv, stdin),
        Err(e) => Outcome::Err(e, 1),
    });
    match result {
        Ok(Outcome::Ok(text)) => {
            let _ = stdout.write_all(text.as_bytes());
            0
        }
        Ok(Outcome::Err(message, status)) => {
            let _ = writeln!(stderr, "ERROR {message}");
            status
        }
        Err(e) => {
            let _ = writeln!(
                stderr,
                "ERROR cannot use model state {}: {e}",
                state.display()
            );
            1
        }
    }
}

/// Makes sure a state file exists for `juju`.
pub fn create_state(path: &Path, juju: &FakeJuju) -> std::io::Result<()> {
    save_state(path, juju)?;
    File::create(lock_path(path)).map(|_| ())
}
