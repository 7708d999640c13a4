//! Model behaviour over a recording backend: config, status, secrets,
//! actions, networking, resources and containers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::json;

use super::recording::{Hook, StoredSecret, World, model_for};
use super::world;
use crate::backend::{BackendError, PortProtocol, SecretOwner, StatusInfo, StatusName};
use crate::model::{ModelError, Secret, SecretInfoUpdate, SecretOptions, SecretRotate, Status};

fn content(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn config_is_read_once_and_typed() {
    let w = World {
        config: json!({"listen_port": 6432, "pool_mode": "session", "tls": false})
            .as_object()
            .unwrap()
            .clone(),
        ..Default::default()
    };
    let (model, backend) = model_for(w, "app/0", Hook::default());
    assert_eq!(
        model.config().unwrap().get::<i64>("listen_port").unwrap(),
        Some(6432)
    );
    assert_eq!(
        model.config().unwrap().get::<bool>("tls").unwrap(),
        Some(false)
    );
    match model.config().unwrap().get::<i64>("pool_mode") {
        Err(ModelError::ConfigType {
            key,
            expected,
            value,
        }) => assert_eq!(
            (key.as_str(), expected, value.as_str()),
            ("pool_mode", "an integer", "a string")
        ),
        other => panic!("expected ConfigType, got {other:?}"),
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Options {
        listen_port: u16,
        pool_mode: u8,
    }
    assert!(matches!(
        model.config().unwrap().parse::<Options>(),
        Err(ModelError::ConfigParse { key, .. }) if key == "pool_mode"
    ));
    assert_eq!(backend.count("config-get"), 1);
}

#[test]
fn a_follower_is_refused_app_status_without_status_set() {
    let (model, backend) = model_for(world(false), "app/1", Hook::default());
    match model.set_app_status(Status::active("")) {
        Err(err @ ModelError::NotLeader { .. }) => {
            assert_eq!(
                err.to_string(),
                "only the leader may set the application status"
            );
        }
        other => panic!("expected NotLeader, got {other:?}"),
    }
    assert!(matches!(
        model.app_status(),
        Err(ModelError::NotLeader { .. })
    ));
    assert_eq!(backend.count("status-set"), 0);
    assert_eq!(backend.count("status-get"), 0);
    assert_eq!(backend.count("is-leader"), 1);
}

#[test]
fn the_leader_sets_app_status_and_reads_back_what_it_set() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    model.set_app_status(Status::blocked("needs a db")).unwrap();
    assert_eq!(model.app_status().unwrap(), Status::blocked("needs a db"));
    assert_eq!(
        backend.calls_of("status-set"),
        [["true", "blocked", "needs a db"]]
    );
    assert_eq!(backend.count("status-get"), 0);
}

#[test]
fn unit_status_is_read_once_then_kept_with_what_is_set() {
    let w = World {
        unit_status: StatusInfo::new(StatusName::Waiting, "for pebble"),
        ..Default::default()
    };
    let (model, backend) = model_for(w, "app/0", Hook::default());
    assert_eq!(model.unit_status().unwrap(), Status::waiting("for pebble"));
    assert_eq!(model.unit_status().unwrap(), Status::waiting("for pebble"));
    assert_eq!(backend.count("status-get"), 1);
    model.set_unit_status(Status::active("ready")).unwrap();
    assert_eq!(model.unit_status().unwrap(), Status::active("ready"));
    assert_eq!(backend.count("status-get"), 1);
    assert_eq!(
        backend.calls_of("status-set"),
        [["false", "active", "ready"]]
    );
}

#[test]
fn juju_owned_statuses_cannot_be_set() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    for status in [
        Status::unknown(),
        Status::from(StatusInfo::new(StatusName::Error, "x")),
    ] {
        assert!(matches!(
            model.set_unit_status(status.clone()),
            Err(ModelError::InvalidStatus { .. })
        ));
        assert!(matches!(
            model.set_app_status(status),
            Err(ModelError::InvalidStatus { .. })
        ));
    }
    assert_eq!(backend.count("status-set"), 0);
}

#[test]
fn the_workload_version_is_set() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    model.set_workload_version("1.21.0").unwrap();
    assert_eq!(backend.calls_of("application-version-set"), [["1.21.0"]]);
}

#[test]
fn secrets_are_added_read_and_changed() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let secret = model
        .add_secret(
            content(&[("password", "hunter22")]),
            SecretOptions {
                label: Some("admin".into()),
                rotate: Some(SecretRotate::Monthly),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        backend.calls_of("secret-add"),
        [["application", "admin", "monthly", "password"]]
    );
    let id = secret.id().unwrap().to_string();
    assert_eq!(secret.label(), Some("admin"));
    // The creator knows the content: no secret-get.
    assert_eq!(
        secret.get_content(false).unwrap().get("password"),
        Some("hunter22")
    );
    assert_eq!(backend.count("secret-get"), 0);

    // Looked up again (by id without the prefix): read at once, as Python
    // ops does, then kept.
    let bare = id.strip_prefix("secret:").unwrap();
    let found = model.get_secret(Some(bare), None).unwrap();
    assert_eq!(found.id(), Some(id.as_str()));
    assert_eq!(
        backend.count("secret-get"),
        1,
        "looking up reads the content"
    );
    assert_eq!(
        found.get_content(false).unwrap().get("password"),
        Some("hunter22")
    );
    assert_eq!(found.get_content(false).unwrap().len(), 1);
    assert_eq!(backend.count("secret-get"), 1, "then kept");
    found.get_content(true).unwrap();
    found.peek_content().unwrap();
    assert_eq!(
        backend.calls_of("secret-get")[1..],
        [
            vec![id.clone(), String::new(), "true".into(), "false".into()],
            vec![id.clone(), String::new(), "false".into(), "true".into()],
        ]
    );

    secret
        .set_content(content(&[("password", "new-one")]))
        .unwrap();
    assert_eq!(secret.info().unwrap().revision, 2);
    assert_eq!(
        secret.get_content(false).unwrap().get("password"),
        Some("new-one")
    );
    secret
        .set_info(SecretInfoUpdate {
            rotate: Some(SecretRotate::Daily),
            ..Default::default()
        })
        .unwrap();
    secret.set_info(SecretInfoUpdate::default()).unwrap();
    assert_eq!(
        backend.calls_of("secret-set"),
        [
            vec![id.clone(), String::new(), String::new(), "password".into()],
            vec![id.clone(), String::new(), "daily".into(), String::new()],
        ]
    );
}

#[test]
fn a_secret_by_label_learns_its_id_for_owner_operations() {
    let mut w = world(true);
    w.secrets.insert(
        "secret:abc".into(),
        StoredSecret {
            content: content(&[("token", "t0k3n")]),
            label: Some("api".into()),
            revision: 3,
        },
    );
    let (model, backend) = model_for(w, "app/0", Hook::default());
    let secret = model.get_secret(None, Some("api")).unwrap();
    assert_eq!(secret.id(), None);
    // The lookup ran secret-get with the label: where Juju attaches it.
    assert_eq!(
        backend.calls_of("secret-get"),
        [["", "api", "false", "false"]]
    );
    let rel = model.relation("db").unwrap().unwrap();
    secret.grant(&rel, None).unwrap();
    secret.revoke(&rel, Some("postgresql/1")).unwrap();
    secret.remove_revision(2).unwrap();
    secret.remove_all_revisions().unwrap();
    assert_eq!(backend.calls_of("secret-grant"), [["secret:abc", "3", ""]]);
    assert_eq!(
        backend.calls_of("secret-revoke"),
        [["secret:abc", "3", "postgresql/1"]]
    );
    assert_eq!(
        backend.calls_of("secret-remove"),
        [["secret:abc", "2"], ["secret:abc", ""]]
    );
}

#[test]
fn secret_content_never_shows_in_debug_or_errors() {
    let (model, _) = model_for(world(true), "app/0", Hook::default());
    let secret = model
        .add_secret(content(&[("password", "hunter22")]), Default::default())
        .unwrap();
    let fetched = secret.get_content(false).unwrap();
    let shown = format!("{secret:?} {fetched:?} {model:?}");
    assert!(shown.contains("password"), "{shown}");
    assert!(!shown.contains("hunter22"), "{shown}");
    let err = model
        .add_secret(content(&[("pw", "hunter22")]), Default::default())
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter22"));
}

#[test]
fn bad_secret_content_and_non_leaders_are_refused_before_secret_add() {
    let (model, backend) = model_for(world(false), "app/1", Hook::default());
    assert!(matches!(
        model.add_secret(content(&[("pw", "x")]), Default::default()),
        Err(ModelError::InvalidSecretKey { key }) if key == "pw"
    ));
    assert!(matches!(
        model.add_secret(content(&[("password", "")]), Default::default()),
        Err(ModelError::EmptySecretValue { key }) if key == "password"
    ));
    assert!(matches!(
        model.add_secret(BTreeMap::new(), Default::default()),
        Err(ModelError::EmptySecretContent)
    ));
    assert!(matches!(
        model.add_secret(content(&[("password", "x")]), Default::default()),
        Err(ModelError::NotLeader { .. })
    ));
    assert_eq!(backend.count("secret-add"), 0);
    // A follower may own a secret itself.
    let mine = model
        .add_secret(
            content(&[("password", "x")]),
            SecretOptions {
                owner: SecretOwner::Unit,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(mine.id().is_some());
    assert!(matches!(
        mine.set_content(content(&[("Password", "y")])),
        Err(ModelError::InvalidSecretKey { .. })
    ));
    assert_eq!(backend.count("secret-set"), 0);
}

#[test]
fn a_missing_secret_fails_when_looked_up() {
    let (model, _) = model_for(world(true), "app/0", Hook::default());
    assert!(matches!(
        model.get_secret(None, None),
        Err(ModelError::SecretWithoutId)
    ));
    let err = model.get_secret(Some("secret:nope"), None).unwrap_err();
    assert!(
        matches!(
            err.backend_error(),
            Some(BackendError::SecretNotFound { .. })
        ),
        "{err:?}"
    );
    assert!(err.is_secret_not_found());
    let err = model.get_secret(None, Some("no-such-label")).unwrap_err();
    assert!(err.is_secret_not_found(), "{err:?}");
}

/// A leader's world with `secret:abc` (a password, revision 2) in it.
fn world_with_secret_abc() -> World {
    let mut w = world(true);
    w.secrets.insert(
        "secret:abc".into(),
        StoredSecret {
            content: content(&[("password", "s3cr3t")]),
            label: None,
            revision: 2,
        },
    );
    w
}

#[test]
fn a_secret_looked_up_refreshed_is_one_secret_get() {
    let (model, backend) = model_for(world_with_secret_abc(), "app/0", Hook::default());
    let secret = model
        .get_secret_refreshed(Some("secret:abc"), Some("db-user"))
        .unwrap();
    // Looked up with its label, tracking the latest revision, in one call.
    assert_eq!(
        backend.calls_of("secret-get"),
        [["secret:abc", "db-user", "true", "false"]]
    );
    assert_eq!(
        secret.get_content(false).unwrap().get("password"),
        Some("s3cr3t")
    );
    assert_eq!(backend.count("secret-get"), 1, "the content is kept");
    // It fails as get_secret does.
    assert!(matches!(
        model.get_secret_refreshed(None, None),
        Err(ModelError::SecretWithoutId)
    ));
    let err = model
        .get_secret_refreshed(Some("secret:nope"), Some("x"))
        .unwrap_err();
    assert!(err.is_secret_not_found(), "{err:?}");
}

#[test]
fn a_secret_looked_up_again_is_read_again_only_after_a_secret_is_written() {
    let (model, backend) = model_for(world_with_secret_abc(), "app/0", Hook::default());
    let password = |secret: &Secret<'_>| {
        secret
            .get_content(false)
            .unwrap()
            .get("password")
            .map(str::to_string)
    };
    // The same lookup twice: one read, the same content.
    let first = model.get_secret(Some("secret:abc"), None).unwrap();
    let again = model.get_secret(Some("abc"), None).unwrap();
    assert_eq!(password(&again).as_deref(), Some("s3cr3t"));
    assert_eq!(backend.count("secret-get"), 1);
    // A plain read does not stand for a refresh; a refresh stands for both.
    model
        .get_secret_refreshed(Some("secret:abc"), None)
        .unwrap();
    assert_eq!(backend.count("secret-get"), 2);
    model
        .get_secret_refreshed(Some("secret:abc"), None)
        .unwrap();
    model.get_secret(Some("secret:abc"), None).unwrap();
    assert_eq!(backend.count("secret-get"), 2);
    // Another label is another lookup (Juju attaches the label).
    model.get_secret(Some("secret:abc"), Some("db")).unwrap();
    assert_eq!(
        backend.calls_of("secret-get")[2],
        ["secret:abc", "db", "false", "false"]
    );
    // Once this unit writes a secret, a lookup reads again, and sees it.
    first
        .set_content(content(&[("password", "n3w-one")]))
        .unwrap();
    let after = model.get_secret(Some("secret:abc"), None).unwrap();
    assert_eq!(backend.count("secret-get"), 4);
    assert_eq!(password(&after).as_deref(), Some("n3w-one"));
    // So does every other kind of write, a new secret included.
    model.get_secret(Some("secret:abc"), None).unwrap();
    model
        .add_secret(content(&[("token", "t0k3n")]), Default::default())
        .unwrap();
    model.get_secret(Some("secret:abc"), None).unwrap();
    assert_eq!(backend.count("secret-get"), 5);
    let rel = model.relation("db").unwrap().unwrap();
    after.grant(&rel, None).unwrap();
    model.get_secret(Some("secret:abc"), None).unwrap();
    assert_eq!(backend.count("secret-get"), 6);
    // A lookup that failed is not remembered.
    for _ in 0..2 {
        assert!(
            model
                .get_secret(Some("secret:nope"), None)
                .unwrap_err()
                .is_secret_not_found()
        );
    }
    assert_eq!(backend.count("secret-get"), 8);
}

#[test]
fn action_params_are_read_once_and_typed() {
    let w = World {
        action_params: json!({"user": "admin", "count": 3})
            .as_object()
            .unwrap()
            .clone(),
        ..Default::default()
    };
    let (model, backend) = model_for(w, "app/0", Hook::default());
    #[derive(Deserialize)]
    struct Params {
        user: String,
        count: u8,
    }
    let params: Params = model.action_params_as().unwrap();
    assert_eq!((params.user.as_str(), params.count), ("admin", 3));
    assert_eq!(model.action_params().unwrap()["count"], json!(3));
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        count: String,
    }
    assert!(matches!(
        model.action_params_as::<Wrong>(),
        Err(ModelError::ActionParams { key, .. }) if key == "count"
    ));
    assert_eq!(backend.count("action-get"), 1);
}

#[test]
fn action_results_are_flattened_and_bad_keys_refused() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    model.action_log("rotating").unwrap();
    model
        .action_set_results(
            json!({"password": "pw", "db": {"host": "h", "port": 5432}})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    assert_eq!(
        backend.calls_of("action-set"),
        [["db.host=h db.port=5432 password=pw"]]
    );
    assert!(matches!(
        model.action_set_results(json!({"Bad_Key": 1}).as_object().unwrap().clone()),
        Err(ModelError::InvalidActionResultKey { key, .. }) if key == "Bad_Key"
    ));
    assert!(matches!(
        model.action_set_results(json!({"stdout": "x"}).as_object().unwrap().clone()),
        Err(ModelError::InvalidActionResultKey { .. })
    ));
    assert_eq!(backend.count("action-set"), 1);
    model.action_fail("no database").unwrap();
    assert_eq!(backend.calls_of("action-fail"), [["no database"]]);
    assert_eq!(backend.calls_of("action-log"), [["rotating"]]);
}

#[test]
fn ports_are_checked_then_opened_and_closed() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    model.open_port(PortProtocol::Tcp, Some(6432)).unwrap();
    model.open_port(PortProtocol::Icmp, None).unwrap();
    assert!(matches!(
        model.open_port(PortProtocol::Udp, None),
        Err(ModelError::InvalidPort { .. })
    ));
    assert!(matches!(
        model.close_port(PortProtocol::Icmp, Some(8)),
        Err(ModelError::InvalidPort { .. })
    ));
    model.close_port(PortProtocol::Icmp, None).unwrap();
    assert_eq!(
        backend.calls_of("open-port"),
        [["6432/tcp", ""], ["icmp", ""]]
    );
    assert_eq!(backend.calls_of("close-port"), [["icmp", ""]]);
    let opened = model.opened_ports().unwrap();
    assert_eq!(
        opened.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["6432/tcp"]
    );
}

#[test]
fn port_ranges_and_endpoints_are_kept() {
    use crate::backend::OpenedPort;
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let range = OpenedPort::range(PortProtocol::Udp, 8000, 8010);
    model.open_ports(&range, &["db", "peers"]).unwrap();
    assert_eq!(
        backend.calls_of("open-port"),
        [["8000-8010/udp", "db,peers"]]
    );
    let opened = model.opened_ports().unwrap();
    assert_eq!(opened, [range]);
    assert_eq!(opened[0].to_string(), "8000-8010/udp");
    assert!(matches!(
        model.open_ports(&OpenedPort::range(PortProtocol::Tcp, 90, 80), &[]),
        Err(ModelError::InvalidPort { .. })
    ));
    assert!(matches!(
        model.open_ports(&OpenedPort::tcp(80), &["nope"]),
        Err(ModelError::UnknownEndpoint { .. })
    ));
    model.close_ports(&range, &["db"]).unwrap();
    assert_eq!(backend.calls_of("close-port"), [["8000-8010/udp", "db"]]);
    // What opened-ports prints keeps the range.
    let parsed: OpenedPort = "8000-8010/tcp".parse().unwrap();
    assert_eq!(parsed.last_port(), Some(8010));
    assert!("8010-8000/tcp".parse::<OpenedPort>().is_err());
}

#[test]
fn set_ports_closes_what_is_not_wanted_and_opens_only_what_is_missing() {
    use crate::backend::OpenedPort;
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    model.open_port(PortProtocol::Tcp, Some(80)).unwrap();
    model.open_port(PortProtocol::Tcp, Some(6432)).unwrap();
    model
        .set_ports(&[OpenedPort::tcp(6432), OpenedPort::udp(53)])
        .unwrap();
    assert_eq!(backend.calls_of("close-port"), [["80/tcp", ""]]);
    assert_eq!(
        backend.calls_of("open-port"),
        [["80/tcp", ""], ["6432/tcp", ""], ["53/udp", ""]]
    );
    let mut open = model.opened_ports().unwrap();
    open.sort();
    let mut wanted = vec![OpenedPort::tcp(6432), OpenedPort::udp(53)];
    wanted.sort();
    assert_eq!(open, wanted);
    // Already so: no tool but opened-ports runs.
    model
        .set_ports(&[OpenedPort::udp(53), OpenedPort::tcp(6432)])
        .unwrap();
    assert_eq!(backend.calls_of("open-port").len(), 3);
    assert_eq!(backend.calls_of("close-port").len(), 1);
    // A bad port changes nothing.
    assert!(matches!(
        model.set_ports(&[OpenedPort::range(PortProtocol::Tcp, 90, 80)]),
        Err(ModelError::InvalidPort { .. })
    ));
    assert_eq!(backend.calls_of("close-port").len(), 1);
}

#[test]
fn add_metrics_sends_checked_metrics_and_labels_in_order() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    model
        .add_metrics(
            &[("clients", 12.0), ("wait-ratio", 0.25)],
            &[("pool", "main")],
        )
        .unwrap();
    assert_eq!(
        backend.calls_of("add-metric"),
        [["clients=12,wait-ratio=0.25", "pool=main"]]
    );
    type Metrics<'a> = &'a [(&'a str, f64)];
    type Labels<'a> = &'a [(&'a str, &'a str)];
    let refused: [(Metrics, Labels); 7] = [
        (&[("1clients", 1.0)], &[]),
        (&[("clients-", 1.0)], &[]),
        (&[("cli ents", 1.0)], &[]),
        (&[("clients", -1.0)], &[]),
        (&[("clients", f64::NAN)], &[]),
        (&[("clients", 1.0)], &[("pool", "a,b")]),
        (&[("clients", 1.0)], &[("pool", "")]),
    ];
    for (metrics, labels) in refused {
        let err = model.add_metrics(metrics, labels).unwrap_err();
        assert!(matches!(err, ModelError::InvalidMetric { .. }), "{err}");
    }
    assert_eq!(backend.calls_of("add-metric").len(), 1, "nothing more sent");
}

#[test]
fn the_model_knows_its_uuid_juju_version_and_charm_dir() {
    let (model, _) = model_for(world(true), "app/0", Hook::default());
    assert_eq!(
        model.juju_version().unwrap(),
        crate::JujuVersion::new(3, 6, 0)
    );
    assert_eq!(
        model.charm_dir(),
        std::path::Path::new("/var/lib/juju/agents/unit-app-0/charm")
    );
    assert_eq!(model.uuid(), "");
}

#[test]
fn network_get_is_typed_and_kept_per_binding() {
    let w = World {
        network: json!({
            "bind-addresses": [{"interface-name": "eth0", "addresses": [{"value": "127.1.2.3", "cidr": "127.1.2.0/24"}]}],
            "ingress-addresses": ["127.1.2.30"],
            "egress-subnets": ["127.1.2.30/32"]
        }),
        ..Default::default()
    };
    let (model, backend) = model_for(w, "app/0", Hook::default());
    let network = model.network_get("db").unwrap();
    assert_eq!(network.bind_address(), Some("127.1.2.3"));
    assert_eq!(network.ingress_address(), Some("127.1.2.30"));
    assert_eq!(network.egress_subnets, ["127.1.2.30/32"]);
    assert_eq!(model.network_get("db").unwrap(), network);
    model.network_get("website").unwrap();
    assert_eq!(
        backend.calls_of("network-get"),
        [["db", "None"], ["website", "None"]]
    );
}

#[test]
fn a_malformed_network_answer_is_a_typed_error() {
    let w = World {
        network: json!({"ingress-addresses": "not a list"}),
        ..Default::default()
    };
    let (model, _) = model_for(w, "app/0", Hook::default());
    let err = model.network_get("db").unwrap_err();
    assert!(
        matches!(err.backend_error(), Some(BackendError::MalformedOutput { command, .. }) if command == "network-get"),
        "{err:?}"
    );
}

#[test]
fn planned_units_leave_out_dying_ones() {
    let w = World {
        goal_state: json!({"units": {
            "app/0": {"status": "active"},
            "app/1": {"status": "waiting"},
            "app/2": {"status": "dying"}
        }, "relations": {}}),
        ..Default::default()
    };
    let (model, _) = model_for(w, "app/0", Hook::default());
    assert_eq!(model.planned_units().unwrap(), 2);
}

#[test]
fn resources_are_declared_and_fetched_once() {
    let mut w = World::default();
    w.resources
        .insert("image".into(), PathBuf::from("/var/lib/juju/image.json"));
    let (model, backend) = model_for(w, "app/0", Hook::default());
    for _ in 0..2 {
        assert_eq!(
            model.resource_get("image").unwrap(),
            Path::new("/var/lib/juju/image.json")
        );
    }
    assert!(matches!(
        model.resource_get("nope"),
        Err(ModelError::UnknownResource { name }) if name == "nope"
    ));
    assert_eq!(backend.calls_of("resource-get"), [["image"]]);
}

/// Answers `GET /v1/system-info` for one container, in process.
#[derive(Debug)]
struct InProcessPebble;

impl crate::pebble::Transport for InProcessPebble {
    fn round_trip(
        &self,
        request: &crate::pebble::TransportRequest<'_>,
        _timeout: std::time::Duration,
    ) -> Result<crate::pebble::TransportResponse, crate::pebble::PebbleError> {
        assert_eq!(request.path, "/v1/system-info");
        Ok(crate::pebble::TransportResponse {
            status: 200,
            reason: "OK".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: br#"{"type":"sync","result":{"version":"9.9","boot-id":"b"}}"#.to_vec(),
        })
    }

    fn socket(&self) -> &Path {
        Path::new("/in-process/pebble.socket")
    }
}

#[test]
fn a_container_with_a_transport_reaches_its_pebble_through_it() {
    let (model, _) = model_for(world(true), "app/0", Hook::default());
    let transport: std::sync::Arc<dyn crate::pebble::Transport> =
        std::sync::Arc::new(InProcessPebble);
    let model = model.with_pebble_transports(BTreeMap::from([("workload".to_string(), transport)]));
    let workload = model.container("workload").unwrap();
    assert_eq!(workload.system_info().unwrap().version, "9.9");
    // Every container the metadata declares; the transported one uses it.
    let all = model.containers();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["sidecar", "workload"]);
    assert_eq!(all["workload"].system_info().unwrap().version, "9.9");
    assert_eq!(
        all["sidecar"].client().socket(),
        Path::new("/charm/containers/sidecar/pebble.socket")
    );
    assert_eq!(
        workload.client().socket(),
        Path::new("/in-process/pebble.socket")
    );
    // Where Juju would mount its socket is still what the container says.
    assert_eq!(
        workload.socket_path(),
        Path::new("/charm/containers/workload/pebble.socket")
    );
}

#[test]
fn containers_are_declared_and_reach_their_pebble_socket() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let workload = model.container("workload").unwrap();
    assert_eq!(workload.name(), "workload");
    let socket = Path::new("/charm/containers/workload/pebble.socket");
    assert_eq!(workload.socket_path(), socket);
    assert_eq!(workload.client().socket(), socket);
    assert_eq!(
        workload.socket(),
        socket,
        "Pebble's methods are on the container"
    );
    match model.container("nope") {
        Err(err @ ModelError::UnknownContainer { .. }) => {
            assert!(err.to_string().contains("\"nope\""), "{err}");
        }
        other => panic!("expected UnknownContainer, got {other:?}"),
    }
    assert!(backend.calls().is_empty());
}

#[test]
fn leadership_is_asked_once_per_dispatch() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let rel = model.relation("db").unwrap().unwrap();
    assert!(model.is_leader().unwrap());
    model.local_app_data(&rel).set("a", "1").unwrap();
    model.local_app_data(&rel).get("a").unwrap();
    model.set_app_status(Status::active("")).unwrap();
    assert_eq!(backend.count("is-leader"), 1);
    assert_eq!(model.unit().name(), "app/0");
    assert_eq!(model.unit().number(), Some(0));
    assert_eq!(model.app().name(), "app");
    assert_eq!(model.name(), "test-model");
    assert_eq!(model.meta().name, "app");
    assert!(model.hook_relation().is_none());
}

#[test]
fn free_text_reaching_argv_is_capped_and_loses_control_characters() {
    use crate::redact::MAX_TEXT;
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let huge = format!("bad\u{0}\u{1b}{}", "x".repeat(200_000));
    model
        .set_unit_status(Status::blocked(huge.clone()))
        .unwrap();
    model.set_app_status(Status::waiting(huge.clone())).unwrap();
    model.set_workload_version(&huge).unwrap();
    model.action_fail(&huge).unwrap();
    model.action_log(&huge).unwrap();
    model
        .action_set_results(json!({ "out": huge }).as_object().unwrap().clone())
        .unwrap();
    let mut seen = Vec::new();
    for tool in [
        "status-set",
        "application-version-set",
        "action-fail",
        "action-log",
        "action-set",
    ] {
        for call in backend.calls_of(tool) {
            seen.push(tool);
            for arg in call {
                assert!(
                    arg.len() <= MAX_TEXT + "out=".len(),
                    "{tool}: {}",
                    arg.len()
                );
                assert!(!arg.contains(['\u{0}', '\u{1b}']), "{tool}");
            }
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    // What the model remembers is what Juju was given.
    assert!(model.unit_status().unwrap().message.starts_with("badxxx"));
    assert!(model.unit_status().unwrap().message.len() <= MAX_TEXT);
}

#[test]
fn network_get_can_ask_from_a_relation() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    let db = model.relation("db").unwrap().unwrap();
    model.network_get("db").unwrap();
    model.network_get_for("db", Some(&db)).unwrap();
    model.network_get_for("db", Some(&db)).unwrap();
    assert_eq!(
        backend.calls_of("network-get"),
        [["db", "None"], ["db", "Some(3)"]],
        "one call each, kept per binding and relation"
    );
}

#[test]
fn leadership_is_asked_again_once_the_lease_period_is_over() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    assert!(model.is_leader().unwrap());
    assert!(model.is_leader().unwrap());
    assert_eq!(backend.count("is-leader"), 1, "within the lease: kept");
    // A lease period that is always over: every check asks Juju again.
    model.set_lease_period(std::time::Duration::ZERO);
    assert!(model.is_leader().unwrap());
    assert!(model.is_leader().unwrap());
    assert_eq!(backend.count("is-leader"), 3);
}

#[test]
fn credentials_secret_ids_reboot_and_relation_model() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    assert_eq!(model.cloud_spec().unwrap().type_, "test");
    assert!(model.secret_ids().unwrap().is_empty());
    model.request_reboot(false).unwrap();
    let db = model.relation("db").unwrap().unwrap();
    assert_eq!(model.relation_model_uuid(&db).unwrap(), "test-model-uuid");
    assert_eq!(
        backend.tools(),
        [
            "credential-get",
            "secret-ids",
            "juju-reboot",
            "relation-ids",
            "relation-list",
            "relation-model-get"
        ]
    );
}

#[test]
fn storage_is_listed_located_and_added_for_declared_storage_only() {
    let (model, backend) = model_for(world(true), "app/0", Hook::default());
    assert_eq!(model.storage_ids("data").unwrap(), ["data/0"]);
    assert_eq!(
        model.storage_location("data/0").unwrap(),
        Path::new("/srv/data/0")
    );
    model.add_storage("data", 2).unwrap();
    assert!(matches!(
        model.add_storage("nope", 1),
        Err(ModelError::UnknownStorage { name }) if name == "nope"
    ));
    assert!(matches!(
        model.storage_ids("nope"),
        Err(ModelError::UnknownStorage { .. })
    ));
    assert_eq!(
        backend.tools(),
        ["storage-list", "storage-get", "storage-add"]
    );
    assert_eq!(backend.calls_of("storage-add"), [["data", "2"]]);
}
