//! The `secret-*` tools' command lines, as Juju's `jujuc` defines them.

use serde_json::{Value, json};

use super::Bag;
use super::cmd::{Cmd, Fail, Outcome, check_empty};
use super::flags::{self, Answer, Parsed};
use super::secrets::{check_content, secret_xid};
use crate::formats::{base64_decode, base64_encode};
use ops::backend::{SecretAddArgs, SecretOwner, SecretSetArgs};

/// Runs one of the `secret-*` tools.
pub(crate) fn run(c: &mut Cmd) -> Outcome {
    match c.tool {
        "secret-add" => add(c),
        "secret-set" => set(c),
        "secret-get" => get(c),
        "secret-info-get" => info_get(c),
        "secret-ids" => {
            check_empty(c.rest(0))?;
            let mut ids = c.juju.hook_secret_ids(c.ctx);
            ids.sort();
            c.out(Answer::Lines(ids))
        }
        "secret-grant" => grant(c),
        "secret-revoke" => revoke(c),
        "secret-remove" => remove(c),
        other => Err(Fail::Usage(format!("unknown hook tool {other:?}"))),
    }
}

fn add(c: &mut Cmd) -> Outcome {
    if c.p.positional.is_empty() && c.p.get("file").is_none() {
        return Err(Fail::Usage("missing secret value or filename".to_string()));
    }
    let content = content(&c.p, c.rest(0))?;
    let args = add_args(&c.p, content)?;
    if args.content.is_empty() {
        return Err(Fail::Run("empty secret value not valid".to_string()));
    }
    let id = c.juju.hook_secret_add(c.ctx, &args)?;
    Ok(c.reply(format!("{id}\n")))
}

fn set(c: &mut Cmd) -> Outcome {
    let id = uri(c
        .pos(0)
        .ok_or_else(|| Fail::Usage("missing secret URI".to_string()))?)?;
    let content = content(&c.p, c.rest(1))?;
    let args = set_args(&c.p, content)?;
    c.juju.hook_secret_set(c.ctx, &id, &args)?;
    Ok(c.reply(String::new()))
}

fn get(c: &mut Cmd) -> Outcome {
    let id = c.pos(0).map(uri).transpose()?;
    let label =
        c.p.get("label")
            .filter(|l| !l.is_empty())
            .map(str::to_string);
    if id.is_none() && label.is_none() {
        return Err(Fail::Usage(
            "require either a secret URI or label".to_string(),
        ));
    }
    let (peek, refresh) = (c.p.flag("peek"), c.p.flag("refresh"));
    if peek && refresh {
        return Err(Fail::Usage(
            "specify one of --peek or --refresh but not both".to_string(),
        ));
    }
    let key = c.pos(1).map(str::to_string);
    check_empty(c.rest(2))?;
    let content = c
        .juju
        .hook_secret_get(c.ctx, id.as_deref(), label.as_deref(), refresh, peek)?;
    match key {
        Some(key) => {
            let value = value_of(&content, &key)?;
            c.out(Answer::Value(json!(value)))
        }
        None => c.out(Answer::Value(json!(content))),
    }
}

fn info_get(c: &mut Cmd) -> Outcome {
    let id = c.pos(0).map(uri).transpose()?;
    let label =
        c.p.get("label")
            .filter(|l| !l.is_empty())
            .map(str::to_string);
    check_empty(c.rest(1))?;
    let info = {
        let s = c
            .juju
            .hook_secret_info(c.ctx, id.as_deref(), label.as_deref())?;
        c.juju.secret_info_json(s)
    };
    c.out(Answer::Value(info))
}

fn grant(c: &mut Cmd) -> Outcome {
    let id = uri(c
        .pos(0)
        .ok_or_else(|| Fail::Usage("missing secret URI".to_string()))?)?;
    let relation = c.relation()?;
    check_empty(c.rest(1))?;
    let unit =
        c.p.get("unit")
            .filter(|u| !u.is_empty())
            .map(str::to_string);
    c.juju
        .hook_secret_grant(c.ctx, &id, relation.id, unit.as_deref())?;
    Ok(c.reply(String::new()))
}

fn revoke(c: &mut Cmd) -> Outcome {
    let id = uri(c
        .pos(0)
        .ok_or_else(|| Fail::Usage("missing secret URI".to_string()))?)?;
    let app = c.p.get("app").filter(|a| !a.is_empty()).map(str::to_string);
    let unit =
        c.p.get("unit")
            .filter(|u| !u.is_empty())
            .map(str::to_string);
    if let Some(app) = &app
        && !super::hook::valid_app_name(app)
    {
        return Err(Fail::Usage(format!("application {app:?} not valid")));
    }
    if let Some(unit) = &unit
        && !super::hook::valid_unit_name(unit)
    {
        return Err(Fail::Usage(format!("unit {unit:?} not valid")));
    }
    let relation = match (c.p.get("r"), &c.ctx.relation) {
        (None, None) => None,
        _ => Some(c.relation()?.id),
    };
    check_empty(c.rest(1))?;
    c.juju
        .hook_secret_revoke(c.ctx, &id, relation, app.as_deref(), unit.as_deref())?;
    Ok(c.reply(String::new()))
}

fn remove(c: &mut Cmd) -> Outcome {
    let id = uri(c
        .pos(0)
        .ok_or_else(|| Fail::Usage("missing secret URI".to_string()))?)?;
    check_empty(c.rest(1))?;
    let revision =
        c.p.get("revision")
            .and_then(|r| r.parse::<i64>().ok())
            .and_then(|r| u64::try_from(r).ok());
    c.juju.hook_secret_remove(c.ctx, &id, revision)?;
    Ok(c.reply(String::new()))
}

/// The secret URI argument, checked as Juju's `ParseURI` would.
fn uri(raw: &str) -> Result<String, Fail> {
    secret_xid(raw)
        .map(|xid| format!("secret:{xid}"))
        .ok_or_else(|| Fail::Usage(format!("secret URI {raw:?} not valid")))
}

/// The content of `secret-add` and `secret-set`, as Juju's
/// `CreateSecretData` reads it (`key=value`, `key#base64=<base64>`,
/// `key#file=<path>`), merged with `--file` (a YAML or JSON map).
fn content(p: &Parsed, args: &[String]) -> Result<Bag, Fail> {
    let mut data = Bag::new();
    for arg in args {
        let stripped = arg.trim_end_matches('=');
        let Some(i) = stripped.find('=').filter(|i| *i > 0) else {
            return Err(Fail::Usage(format!("key value {arg:?} not valid")));
        };
        let (key, value) = (&arg[..i], &arg[i + 1..]);
        if let Some(key) = key.strip_suffix("#file") {
            let bytes = std::fs::read(value)
                .map_err(|e| Fail::Usage(format!("reading content for secret key {key:?}: {e}")))?;
            data.insert(
                key.to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
        } else {
            data.insert(key.to_string(), value.to_string());
        }
    }
    let mut data = decode_base64_keys(data)?;
    if let Some(path) = p.get("file").filter(|f| !f.is_empty()) {
        let bytes = std::fs::read(path).map_err(|e| Fail::Usage(format!("open {path}: {e}")))?;
        let from_file = flags::settings_from_yaml(&bytes).map_err(Fail::Usage)?;
        data.extend(decode_base64_keys(from_file)?);
    }
    check_content(&data)?;
    Ok(data)
}

/// Keys ending in `#base64` carry base64 values: decoded, suffix dropped.
fn decode_base64_keys(data: Bag) -> Result<Bag, Fail> {
    data.into_iter()
        .map(|(k, v)| match k.strip_suffix("#base64") {
            Some(key) => base64_decode(&v)
                .map(|bytes| {
                    (
                        key.to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    )
                })
                .ok_or_else(|| Fail::Usage(format!("base64 value for key {key:?} not valid"))),
            None => Ok((k, v)),
        })
        .collect()
}

/// The label, description, expiry and rotation options, as given (empty
/// ones left out).
type SecretOptions = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn options(p: &Parsed) -> SecretOptions {
    let nonempty = |name: &str| p.get(name).filter(|v| !v.is_empty()).map(str::to_string);
    // The expiry and rotation policy are checked where the model takes
    // them (`hook_secret_add`, `hook_secret_set`), once for every caller.
    (
        nonempty("label"),
        nonempty("description"),
        nonempty("expire"),
        nonempty("rotate"),
    )
}

fn add_args(p: &Parsed, content: Bag) -> Result<SecretAddArgs, Fail> {
    let (label, description, expire, rotate) = options(p);
    let owner = match p.get("owner").unwrap_or("application") {
        "application" => SecretOwner::Application,
        "unit" => SecretOwner::Unit,
        other => return Err(Fail::Usage(format!("secret owner {other:?} not valid"))),
    };
    Ok(SecretAddArgs {
        content,
        label,
        description,
        expire,
        rotate,
        owner,
    })
}

fn set_args(p: &Parsed, content: Bag) -> Result<SecretSetArgs, Fail> {
    let (label, description, expire, rotate) = options(p);
    Ok(SecretSetArgs {
        content: (!content.is_empty()).then_some(content),
        label,
        description,
        expire,
        rotate,
    })
}

/// `secret-get <id> <key>`: one value; `<key>#base64` gives it base64-encoded.
fn value_of(content: &Bag, key: &str) -> Result<Value, Fail> {
    let (name, encode) = match key.strip_suffix("#base64") {
        Some(name) => (name, true),
        None => (key, false),
    };
    let value = content
        .get(name)
        .ok_or_else(|| Fail::Run(format!("secret key value {name:?} not found")))?;
    Ok(json!(if encode {
        base64_encode(value.as_bytes())
    } else {
        value.clone()
    }))
}
