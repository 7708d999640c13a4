//! Each hook tool's command line, as Juju's `jujuc` commands define it
//! (flags, `Init` checks, `Run`), over the fake model.

use std::collections::BTreeMap;

use ops::backend::{StatusInfo, StatusName};
use serde_json::{Value, json};

use super::cmd::{Cmd, Fail, Outcome, Reply, check_empty};
use super::flags::{self, Answer, FlagDef, ParseError, boolean, value};
use super::hook::{HookContext, valid_app_name, valid_unit_name};
use super::{FakeJuju, PortRange, app_of};

/// The `--format` choices of a tool that prints through `juju/cmd`'s output.
struct Out {
    formats: &'static [&'static str],
    default: &'static str,
}

const SMART: Out = Out {
    formats: &["smart", "yaml", "json"],
    default: "smart",
};
const YAML: Out = Out {
    formats: &["yaml", "json"],
    default: "yaml",
};

const RELATION: FlagDef = value(&["r", "relation"]);
const DEPRECATED_FORMAT: FlagDef = value(&["format"]);
const SECRET_UPSERT: &[FlagDef] = &[
    value(&["expire"]),
    value(&["rotate"]),
    value(&["description"]),
    value(&["label"]),
    value(&["file"]),
    value(&["owner"]),
];

/// A tool's flags and output, as its `SetFlags` declares them.
fn spec(tool: &str) -> Option<(Vec<FlagDef>, Option<Out>)> {
    Some(match tool {
        "relation-get" => (vec![RELATION, boolean(&["app"])], Some(SMART)),
        "relation-set" => (
            vec![
                RELATION,
                value(&["file"]),
                boolean(&["app"]),
                DEPRECATED_FORMAT,
            ],
            None,
        ),
        "relation-ids" | "is-leader" | "secret-ids" | "leader-get" | "action-get"
        | "credential-get" => (vec![], Some(SMART)),
        "relation-list" => (vec![RELATION, boolean(&["app"])], Some(SMART)),
        "relation-model-get" => (vec![RELATION], Some(SMART)),
        "config-get" => (vec![boolean(&["a", "all"])], Some(SMART)),
        "status-set" => (vec![boolean(&["application"])], None),
        "status-get" => (
            vec![boolean(&["include-data"]), boolean(&["application"])],
            Some(SMART),
        ),
        "juju-log" => (
            vec![
                boolean(&["debug"]),
                value(&["l", "log-level"]),
                DEPRECATED_FORMAT,
            ],
            None,
        ),
        "state-get" => (vec![boolean(&["strict"])], Some(SMART)),
        "state-set" => (vec![value(&["file"])], None),
        "secret-add" | "secret-set" => (SECRET_UPSERT.to_vec(), None),
        "secret-get" => (
            vec![value(&["label"]), boolean(&["peek"]), boolean(&["refresh"])],
            Some(YAML),
        ),
        "secret-info-get" => (vec![value(&["label"])], Some(YAML)),
        "secret-grant" => (vec![value(&["unit"]), RELATION], None),
        "secret-revoke" => (
            vec![value(&["app", "application"]), value(&["unit"]), RELATION],
            None,
        ),
        "secret-remove" => (vec![value(&["revision"])], None),
        "open-port" | "close-port" => (vec![DEPRECATED_FORMAT, value(&["endpoints"])], None),
        "opened-ports" => (vec![boolean(&["endpoints"])], Some(SMART)),
        "network-get" => (
            vec![
                boolean(&["primary-address"]),
                boolean(&["bind-address"]),
                boolean(&["ingress-address"]),
                boolean(&["egress-subnets"]),
                RELATION,
            ],
            Some(SMART),
        ),
        "goal-state" => (vec![], Some(YAML)),
        "juju-reboot" => (vec![boolean(&["now"])], None),
        "storage-list" => (vec![], Some(SMART)),
        "storage-get" => (vec![value(&["s"])], Some(SMART)),
        "storage-add" => (vec![], None),
        "add-metric" => (vec![value(&["l", "labels"])], None),
        "application-version-set"
        | "state-delete"
        | "resource-get"
        | "action-set"
        | "action-fail"
        | "action-log"
        | "leader-set" => (vec![], None),
        _ => return None,
    })
}

/// Runs `tool` with `argv` as `unit` in `ctx`; `stdin` is what the process
/// was given on standard input.
pub(crate) fn run(
    juju: &mut FakeJuju,
    ctx: &HookContext,
    tool: &str,
    argv: &[String],
    stdin: &[u8],
) -> Outcome {
    let Some((defs, out)) = spec(tool) else {
        return Err(Fail::Usage(format!("unknown hook tool {tool:?}")));
    };
    let mut all = defs;
    if out.is_some() {
        all.push(value(&["format"]));
        all.push(value(&["o", "output"]));
    }
    let formats = out.as_ref().map(|o| o.formats).unwrap_or_default();
    let parsed = {
        let model: &FakeJuju = juju;
        flags::parse(&all, argv, &mut |name, v| match name {
            "r" => model.resolve_relation(ctx, v).map(|_| ()),
            "format" if !formats.is_empty() && !formats.contains(&v) => {
                Err(format!("unknown format {v:?}"))
            }
            "revision" => v
                .parse::<i64>()
                .map(|_| ())
                .map_err(|_| format!("strconv.ParseInt: parsing {v:?}: invalid syntax")),
            _ => Ok(()),
        })
    };
    let p = match parsed {
        Ok(p) => p,
        Err(ParseError::Help) => {
            return Ok(Reply {
                stdout: format!("Usage: {tool} [options]\n"),
                stderr: String::new(),
            });
        }
        Err(ParseError::Usage(m)) => return Err(Fail::Usage(m)),
    };
    let format = out
        .map(|o| {
            let chosen = p.get("format").unwrap_or(o.default);
            o.formats
                .iter()
                .copied()
                .find(|f| *f == chosen)
                .unwrap_or(o.default)
        })
        .unwrap_or("smart");
    let mut c = Cmd {
        juju,
        ctx,
        stdin,
        tool,
        p,
        format,
        stderr: String::new(),
    };
    match tool {
        "relation-ids" => relation_ids(&mut c),
        "relation-list" => relation_list(&mut c),
        "relation-get" => relation_get(&mut c),
        "relation-set" => relation_set(&mut c),
        "relation-model-get" => {
            let relation = c.relation()?;
            check_empty(c.rest(0))?;
            let uuid = c.juju.hook_relation_model_get(c.ctx, &relation)?;
            c.out(Answer::Value(json!({ "uuid": uuid })))
        }
        "is-leader" => {
            check_empty(c.rest(0))?;
            let leader = c.juju.hook_is_leader(c.ctx);
            c.out(Answer::Value(json!(leader)))
        }
        "config-get" => config_get(&mut c),
        "status-set" => status_set(&mut c),
        "status-get" => status_get(&mut c),
        "juju-log" => juju_log(&mut c),
        "state-get" => state_get(&mut c),
        "state-set" => {
            let overrides = flags::key_values(c.rest(0)).map_err(Fail::Usage)?;
            let mut data = c.settings_file()?;
            data.extend(overrides);
            c.juju.hook_state_set(c.ctx, &data)?;
            Ok(c.reply(String::new()))
        }
        "state-delete" => {
            check_empty(c.rest(1))?;
            if let Some(key) = c.pos(0).filter(|k| !k.is_empty()).map(str::to_string) {
                c.juju.hook_state_delete(c.ctx, &key);
            }
            Ok(c.reply(String::new()))
        }
        "application-version-set" => {
            let version = c
                .pos(0)
                .ok_or_else(|| Fail::Usage("no version specified".to_string()))?
                .to_string();
            check_empty(c.rest(1))?;
            c.juju.hook_application_version_set(c.ctx, &version);
            Ok(c.reply(String::new()))
        }
        "add-metric" => {
            let pairs = |text: &str, what: &str| -> Result<(String, String), Fail> {
                text.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| Fail::Usage(format!("expected \"key=value\", got {what}")))
            };
            if c.rest(0).is_empty() {
                return Err(Fail::Usage("no metrics specified".to_string()));
            }
            let metrics = c
                .rest(0)
                .iter()
                .map(|m| pairs(m, "a metric without \"=\""))
                .collect::<Result<Vec<_>, _>>()?;
            let labels = match c.p.get("l") {
                Some(raw) => raw
                    .split(',')
                    .map(|l| pairs(l, "a label without \"=\""))
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            };
            for (key, value) in &metrics {
                if value
                    .parse::<f64>()
                    .map_or(true, |v| !v.is_finite() || v < 0.0)
                {
                    return Err(Fail::Run(format!(
                        "invalid value type: metric {key:?} must be a non-negative number"
                    )));
                }
            }
            c.juju.hook_add_metric(c.ctx, &metrics, &labels);
            Ok(c.reply(String::new()))
        }
        "open-port" | "close-port" => port(&mut c),
        "opened-ports" => {
            check_empty(c.rest(0))?;
            let suffix = if c.p.flag("endpoints") { " (*)" } else { "" };
            let ports = c.juju.hook_opened_ports(c.ctx);
            c.out(Answer::Lines(
                ports.iter().map(|p| format!("{p}{suffix}")).collect(),
            ))
        }
        "network-get" => network_get(&mut c),
        "goal-state" => {
            check_empty(c.rest(0))?;
            let goal = c.juju.hook_goal_state(c.ctx);
            c.out(Answer::Value(goal))
        }
        "resource-get" => {
            let name = c
                .pos(0)
                .ok_or_else(|| Fail::Usage("missing required resource name".to_string()))?
                .to_string();
            check_empty(c.rest(1))?;
            let path = c.juju.hook_resource_get(c.ctx, &name)?;
            Ok(c.reply(path))
        }
        "storage-list" => {
            check_empty(c.rest(1))?;
            let name = c.pos(0).map(str::to_string);
            let ids = c.juju.hook_storage_list(c.ctx, name.as_deref());
            c.out(Answer::Value(json!(ids)))
        }
        "storage-get" => {
            check_empty(c.rest(1))?;
            let id =
                c.p.get("s")
                    .map(str::to_string)
                    .ok_or_else(|| Fail::Usage("no storage instance specified".to_string()))?;
            let key = c.pos(0).map(str::to_string);
            let value = c.juju.hook_storage_get(c.ctx, &id, key.as_deref())?;
            c.out(Answer::Value(value))
        }
        "storage-add" => {
            let requests: Vec<String> = c.rest(0).to_vec();
            if requests.is_empty() {
                return Err(Fail::Usage(
                    "storage add requires a storage directive".to_string(),
                ));
            }
            for request in requests {
                let (name, count) = match request.split_once('=') {
                    Some((name, count)) => (
                        name.to_string(),
                        count
                            .parse()
                            .map_err(|_| Fail::Usage(format!("invalid count in {request:?}")))?,
                    ),
                    None => (request.clone(), 1),
                };
                c.juju.hook_storage_add(c.ctx, &name, count)?;
            }
            Ok(c.reply(String::new()))
        }
        "credential-get" => {
            check_empty(c.rest(0))?;
            let spec = c.juju.hook_credential_get(c.ctx)?;
            c.out(Answer::Value(spec))
        }
        "juju-reboot" => {
            check_empty(c.rest(0))?;
            c.juju.hook_reboot(c.ctx);
            Ok(c.reply(String::new()))
        }
        "leader-get" => leader_get(&mut c),
        "leader-set" => {
            let data = flags::key_values(c.rest(0)).map_err(Fail::Usage)?;
            c.juju.hook_leader_set(c.ctx, &data)?;
            Ok(c.reply(String::new()))
        }
        "action-get" => action_get(&mut c),
        "action-set" => action_set(&mut c),
        "action-fail" => {
            let message = c
                .pos(0)
                .unwrap_or("action failed without reason given, check action for errors")
                .to_string();
            check_empty(c.rest(1))?;
            c.juju.hook_action_fail(c.ctx, &message)?;
            Ok(c.reply(String::new()))
        }
        "action-log" => {
            if c.p.positional.is_empty() {
                return Err(Fail::Usage("no message specified".to_string()));
            }
            let message = c.p.positional.join(" ");
            c.juju.hook_action_log(c.ctx, &message)?;
            Ok(c.reply(String::new()))
        }
        _ => super::secret_tools::run(&mut c),
    }
}

fn relation_ids(c: &mut Cmd) -> Outcome {
    let endpoint = match (c.pos(0), &c.ctx.relation) {
        (Some(name), _) => name.to_string(),
        (None, Some(r)) => r.name.clone(),
        (None, None) => return Err(Fail::Usage("no endpoint name specified".to_string())),
    };
    check_empty(c.rest(1))?;
    let ids = c.juju.hook_relation_ids(c.ctx, &endpoint)?;
    c.out(Answer::Lines(ids.iter().map(ToString::to_string).collect()))
}

fn relation_list(c: &mut Cmd) -> Outcome {
    let relation = c.relation()?;
    check_empty(c.rest(0))?;
    if c.p.flag("app") {
        let app = c.juju.hook_relation_remote_app(c.ctx, &relation)?;
        return c.out(Answer::Value(json!(app)));
    }
    let units = c.juju.hook_relation_list(c.ctx, &relation)?;
    c.out(Answer::Lines(units))
}

/// `relation-get [<key> [<member>]]`, choosing the member as Juju does: the
/// one given (a unit, or with `--app` an application or a unit standing for
/// it), else the remote unit, else the remote application.
fn relation_get(c: &mut Cmd) -> Outcome {
    let relation = c.relation()?;
    let key = c.pos(0).filter(|k| *k != "-").unwrap_or("").to_string();
    let mut app = c.p.flag("app");
    let member = match c.pos(1) {
        Some(given) if app => {
            if valid_unit_name(given) {
                app_of(given).to_string()
            } else {
                given.to_string()
            }
        }
        Some(given) => {
            if !valid_unit_name(given) {
                return Err(Fail::Usage(if valid_app_name(given) {
                    format!("expected unit name, got application name {given:?}")
                } else {
                    format!("invalid unit name {given:?}")
                }));
            }
            given.to_string()
        }
        None => {
            let remote = if app {
                c.ctx.remote_app.clone()
            } else if let Some(unit) = &c.ctx.remote_unit {
                Some(unit.clone())
            } else {
                app = c.ctx.remote_app.is_some();
                c.ctx.remote_app.clone()
            };
            remote.ok_or_else(|| Fail::Usage("no unit or application specified".to_string()))?
        }
    };
    check_empty(c.rest(2))?;
    let bag = c.juju.hook_relation_get(c.ctx, &relation, &member, app)?;
    if key.is_empty() {
        return c.out(Answer::Value(json!(bag)));
    }
    let value = bag.get(&key).map_or(Value::Null, |v| json!(v));
    c.out(Answer::Value(value))
}

fn relation_set(c: &mut Cmd) -> Outcome {
    let relation = c.relation()?;
    let overrides = flags::key_values(c.rest(0)).map_err(Fail::Usage)?;
    c.warn_deprecated_format();
    let mut data = c.settings_file()?;
    data.extend(overrides);
    c.juju
        .hook_relation_set(c.ctx, &relation, c.p.flag("app"), &data)?;
    Ok(c.reply(String::new()))
}

fn config_get(c: &mut Cmd) -> Outcome {
    let key = c.pos(0).unwrap_or("").to_string();
    let all = c.p.flag("a");
    if !key.is_empty() && all {
        return Err(Fail::Usage(format!(
            "cannot use argument --all together with key {key:?}"
        )));
    }
    check_empty(c.rest(1))?;
    let answer = if !key.is_empty() {
        c.juju
            .hook_config_get(c.ctx)
            .get(&key)
            .cloned()
            .unwrap_or(Value::Null)
    } else if all {
        Value::Object(c.juju.hook_config_get_all(c.ctx))
    } else {
        Value::Object(c.juju.hook_config_get(c.ctx))
    };
    c.out(Answer::Value(answer))
}

fn status_set(c: &mut Cmd) -> Outcome {
    let Some(name) = c.pos(0).map(str::to_string) else {
        return Err(Fail::Usage(
            "invalid args, require <status> [message]".to_string(),
        ));
    };
    let status = match name.as_str() {
        "maintenance" | "blocked" | "waiting" | "active" => {
            name.parse::<StatusName>().unwrap_or(StatusName::Active)
        }
        _ => {
            return Err(Fail::Usage(format!(
                "invalid status {name:?}, expected one of [maintenance blocked waiting active]"
            )));
        }
    };
    let message = c.pos(1).unwrap_or("").to_string();
    check_empty(c.rest(2))?;
    let app = c.p.flag("application");
    c.juju
        .hook_status_set(c.ctx, app, &StatusInfo::new(status, message))?;
    Ok(c.reply(String::new()))
}

fn status_details(status: &StatusInfo, include_data: bool) -> Value {
    let mut details = json!({ "status": status.name.as_str() });
    if include_data {
        details["message"] = json!(status.message);
        details["status-data"] = json!({});
    }
    details
}

fn status_get(c: &mut Cmd) -> Outcome {
    check_empty(c.rest(0))?;
    let include = c.p.flag("include-data");
    let brief = !include && c.format == "smart";
    if c.p.flag("application") {
        let (status, units) = c.juju.hook_app_status(c.ctx)?;
        if brief {
            return c.out(Answer::Value(json!(status.name.as_str())));
        }
        let mut details = status_details(&status, include);
        details["units"] = units
            .iter()
            .map(|(u, s)| (u.clone(), status_details(s, include)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        return c.out(Answer::Value(json!({ "application-status": details })));
    }
    let status = c.juju.hook_status_get(c.ctx, false)?;
    if brief {
        return c.out(Answer::Value(json!(status.name.as_str())));
    }
    c.out(Answer::Value(status_details(&status, include)))
}

fn juju_log(c: &mut Cmd) -> Outcome {
    if c.p.positional.is_empty() {
        return Err(Fail::Usage("no message specified".to_string()));
    }
    let message = c.p.positional.join(" ");
    c.warn_deprecated_format();
    let requested = c.p.get("l").unwrap_or("INFO").to_ascii_uppercase();
    let level = if c.p.flag("debug") {
        "DEBUG"
    } else {
        match requested.as_str() {
            "TRACE" | "DEBUG" | "INFO" | "ERROR" | "CRITICAL" => requested.as_str(),
            "WARN" | "WARNING" => "WARNING",
            _ => {
                let warning = format!("Specified log level of {requested:?} is not valid");
                c.juju.push_log(c.ctx, "WARNING", &warning);
                "INFO"
            }
        }
    }
    .to_string();
    c.juju.push_log(c.ctx, &level, &message);
    Ok(c.reply(String::new()))
}

fn state_get(c: &mut Cmd) -> Outcome {
    let key = c.pos(0).filter(|k| *k != "-").unwrap_or("").to_string();
    check_empty(c.rest(1))?;
    let state = c.juju.hook_state_get(c.ctx);
    if key.is_empty() {
        return c.out(Answer::Value(json!(state)));
    }
    match state.get(&key) {
        Some(v) => c.out(Answer::Value(json!(v))),
        None if c.p.flag("strict") => Err(Fail::Run(format!("{key:?} not found"))),
        None => c.out(Answer::Value(json!(""))),
    }
}

fn port(c: &mut Cmd) -> Outcome {
    let raw = c
        .pos(0)
        .ok_or_else(|| Fail::Usage("no port or range specified".to_string()))?;
    let range: PortRange = raw.parse().map_err(Fail::Usage)?;
    check_empty(c.rest(1))?;
    c.warn_deprecated_format();
    if c.tool == "open-port" {
        c.juju.hook_open_port(c.ctx, &range);
    } else {
        c.juju.hook_close_port(c.ctx, &range);
    }
    Ok(c.reply(String::new()))
}

fn network_get(c: &mut Cmd) -> Outcome {
    let binding = c
        .pos(0)
        .ok_or_else(|| Fail::Usage("no arguments specified".to_string()))?
        .to_string();
    if binding.is_empty() {
        return Err(Fail::Usage("no binding name specified".to_string()));
    }
    check_empty(c.rest(1))?;
    if c.p.get("r").is_some() {
        c.relation()?;
    }
    let mut info = c.juju.hook_network_get(c.ctx, &binding)?;
    let address = info["bind-addresses"][0]["addresses"][0]["value"].clone();
    let keys: Vec<&str> = ["egress-subnets", "ingress-address", "bind-address"]
        .into_iter()
        .filter(|k| c.p.flag(k))
        .collect();
    if c.p.flag("primary-address") {
        if !keys.is_empty() {
            return Err(Fail::Run(
                "--primary-address must be the only flag specified".to_string(),
            ));
        }
        return c.out(Answer::Value(address));
    }
    if keys.is_empty() {
        if c.format != "json" {
            // Juju's YAML form repeats some fields under older names.
            for bind in info["bind-addresses"].as_array_mut().into_iter().flatten() {
                bind["macaddress"] = bind["mac-address"].clone();
                bind["interfacename"] = bind["interface-name"].clone();
                for a in bind["addresses"].as_array_mut().into_iter().flatten() {
                    a["address"] = a["value"].clone();
                }
            }
        }
        return c.out(Answer::Value(info));
    }
    let egress: Vec<String> = info["egress-subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let ingress = info["ingress-addresses"][0].clone();
    if let [only] = keys.as_slice() {
        return match *only {
            "egress-subnets" => c.out(Answer::Lines(egress)),
            "ingress-address" => c.out(Answer::Value(ingress)),
            _ => c.out(Answer::Value(address)),
        };
    }
    let mut map = serde_json::Map::new();
    for key in keys {
        let v = match key {
            "egress-subnets" => json!(egress),
            "ingress-address" => ingress.clone(),
            _ => address.clone(),
        };
        map.insert(key.to_string(), v);
    }
    c.out(Answer::Value(Value::Object(map)))
}

fn leader_get(c: &mut Cmd) -> Outcome {
    let key = c.pos(0).filter(|k| *k != "-").unwrap_or("").to_string();
    if key.contains('=') {
        return Err(Fail::Usage(format!("invalid key {key:?}")));
    }
    check_empty(c.rest(1))?;
    let settings = c.juju.hook_leader_get(c.ctx);
    if key.is_empty() {
        return c.out(Answer::Value(json!(settings)));
    }
    let value = settings.get(&key).map_or(Value::Null, |v| json!(v));
    c.out(Answer::Value(value))
}

fn action_get(c: &mut Cmd) -> Outcome {
    check_empty(c.rest(1))?;
    let keys: Vec<String> = c
        .pos(0)
        .map(|k| k.split('.').map(str::to_string).collect())
        .unwrap_or_default();
    let params = c.juju.hook_action_get(c.ctx)?;
    let mut answer = Value::Object(params);
    for key in &keys {
        answer = answer.get(key).cloned().unwrap_or(Value::Null);
    }
    c.out(Answer::Value(answer))
}

fn action_set(c: &mut Cmd) -> Outcome {
    let mut results = BTreeMap::new();
    for arg in &c.p.positional {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(Fail::Usage(format!(
                "argument {arg:?} must be of the form key...=value"
            )));
        };
        results.insert(key.to_string(), value.to_string());
    }
    c.juju.hook_action_set(c.ctx, &results)?;
    Ok(c.reply(String::new()))
}
