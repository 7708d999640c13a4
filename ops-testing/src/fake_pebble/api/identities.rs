//! `/v1/identities`, as Pebble's `internals/daemon/api_identities.go`
//! serves it: reads hide secrets, writes are checked whole before
//! anything changes.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::fake_pebble::Shared;
use crate::fake_pebble::http::{HttpRequest, Reply};
use crate::fake_pebble::identities::{Identity, check_cert_pem};

/// `GET /v1/identities`: every identity by name.
pub(crate) fn list(shared: &Shared) -> Reply {
    let state = shared.lock();
    let identities: serde_json::Map<String, Value> = state
        .identities
        .all()
        .iter()
        .map(|(name, identity)| (name.clone(), identity.json()))
        .collect();
    Reply::sync(Value::Object(identities))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload {
    action: String,
    identities: BTreeMap<String, Option<ApiIdentity>>,
}

/// An identity as a request gives it (Pebble's `apiIdentity`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiIdentity {
    access: String,
    local: Option<ApiLocal>,
    basic: Option<ApiBasic>,
    cert: Option<ApiCert>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct ApiLocal {
    /// Optional here so that a missing one (not 0) is an error, as Pebble.
    user_id: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiBasic {
    password: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiCert {
    pem: String,
}

/// Pebble's `identityFromAPI`: the identity, checked, or what is wrong.
fn from_api(api: ApiIdentity, name: &str) -> Result<Identity, String> {
    let local_user_id = match api.local {
        Some(ApiLocal { user_id: None }) => {
            return Err("local identity must specify user-id".into());
        }
        Some(ApiLocal { user_id }) => user_id,
        None => None,
    };
    if let Some(cert) = &api.cert {
        check_cert_pem(&cert.pem)?;
    }
    let identity = Identity {
        access: api.access,
        local_user_id,
        basic_password: api.basic.map(|b| b.password),
        cert_pem: api.cert.map(|c| c.pem),
    };
    identity.validate(name)?;
    Ok(identity)
}

/// `POST /v1/identities` with action `add`, `update`, `replace` or `remove`.
pub(crate) fn post(shared: &Shared, request: &HttpRequest) -> Reply {
    let payload: Payload = match request.decode_json("request body") {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    // Every identity is checked before the action is looked at, as Pebble.
    let mut identities: BTreeMap<String, Option<Identity>> = BTreeMap::new();
    for (name, api) in payload.identities {
        let identity = match api.map(|api| from_api(api, &name)).transpose() {
            Ok(identity) => identity,
            Err(e) => return Reply::bad_request(format!("invalid identity for {name:?}: {e}")),
        };
        identities.insert(name, identity);
    }
    let action = payload.action.as_str();
    let non_null = |identities: BTreeMap<String, Option<Identity>>| {
        let mut present = BTreeMap::new();
        for (name, identity) in identities {
            match identity {
                Some(identity) => present.insert(name, identity),
                None => {
                    return Err(Reply::bad_request(format!(
                        "identity value for {name:?} must not be null for {action} operation"
                    )));
                }
            };
        }
        Ok(present)
    };
    let mut state = shared.lock();
    let outcome = match action {
        "add" => match non_null(identities) {
            Ok(present) => state.identities.add(present),
            Err(reply) => return reply,
        },
        "update" => match non_null(identities) {
            Ok(present) => state.identities.update(present),
            Err(reply) => return reply,
        },
        "replace" => state.identities.replace(identities),
        "remove" => {
            if let Some((name, _)) = identities.iter().find(|(_, i)| i.is_some()) {
                return Reply::bad_request(format!(
                    "identity value for {name:?} must be null for remove operation"
                ));
            }
            let names: Vec<String> = identities.into_keys().collect();
            state.identities.remove(&names)
        }
        other => {
            return Reply::bad_request(format!(
                "invalid action {other:?}, must be \"add\", \"update\", \"replace\", or \"remove\""
            ));
        }
    };
    match outcome {
        Ok(()) => Reply::sync(Value::Null),
        Err(message) => Reply::bad_request(message),
    }
}
