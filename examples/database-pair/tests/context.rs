//! Both halves as state transitions, each alone and then wired together:
//! what one side wrote (databags and secrets) is what the other reads.

use std::path::Path;

use database_pair::ENDPOINT;
use database_pair::provider::{Provider, user_for};
use database_pair::requirer::Requirer;
use ops::Status;
use ops_testing::context::{Context, Relation, Secret, State};

fn provider() -> Context<Provider> {
    Context::from_charm_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("provider")).unwrap()
}

fn requirer() -> Context<Requirer> {
    Context::from_charm_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("requirer")).unwrap()
}

const REQUESTED: &str = r#"["username", "password", "tls", "tls-ca", "uris", "read-only-uris", "entity-name", "entity-password"]"#;

#[test]
fn the_client_asks_and_the_provider_answers_in_a_secret_the_client_reads() {
    // The client's leader asks.
    let mut client = requirer();
    let to_provider = Relation::new(ENDPOINT).with_remote_app("database-pair-provider");
    let state = State::default()
        .with_leader(true)
        .with_relation(to_provider.clone());
    let asked = client
        .run(client.on.relation_created(&to_provider), &state)
        .unwrap();
    let request = asked
        .relation(to_provider.id)
        .unwrap()
        .local_app_data
        .clone();
    assert_eq!(request["database"], "app");
    assert_eq!(request["requested-secrets"], REQUESTED);
    assert_eq!(
        asked.unit_status,
        Status::waiting("waiting for the database")
    );

    // The provider's leader answers: the credentials in a secret.
    let mut server = provider();
    let to_client = Relation::new(ENDPOINT)
        .with_remote_app("database-pair-requirer")
        .with_remote_app_data(request.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let state = State::default()
        .with_leader(true)
        .with_relation(to_client.clone());
    let answered = server
        .run(server.on.relation_changed(&to_client), &state)
        .unwrap();
    let answer = answered
        .relation(to_client.id)
        .unwrap()
        .local_app_data
        .clone();
    assert_eq!(answer["endpoints"], "127.0.0.1:5432");
    for secret_field in ["username", "password", "uris", "tls"] {
        assert!(!answer.contains_key(secret_field), "{secret_field} plainly");
    }
    let tls = answered.secret(&answer["secret-tls"]).unwrap();
    assert_eq!(tls.latest_content().unwrap()["tls"], "False");
    let secret = answered.secret(&answer["secret-user"]).unwrap();
    let content = secret.latest_content().unwrap().clone();
    assert_eq!(content["username"], user_for(to_client.id));
    let password = content["password"].clone();
    assert_eq!(password.len(), 32);
    assert_eq!(answered.unit_status, Status::active("answering 1 clients"));

    // The client reads it: the secret, granted over the relation.
    let granted = Secret::new(content.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .with_id(&secret.id)
        .observed_from(&to_provider);
    let to_provider = asked
        .relation(to_provider.id)
        .unwrap()
        .clone()
        .with_remote_app_data(answer.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let tls = Secret::new(
        tls.latest_content()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .with_id(&tls.id)
    .observed_from(&to_provider);
    let mut state = asked.clone().with_secret(granted).with_secret(tls);
    state.relations = vec![to_provider.clone()];
    let out = client
        .run(client.on.relation_changed(&to_provider), &state)
        .unwrap();
    let expected = format!(
        "using app at 127.0.0.1:5432 as {} (no TLS)",
        user_for(to_client.id)
    );
    assert_eq!(out.unit_status, Status::active(expected));
    assert!(!out.unit_status.message.contains(&password));
    assert!(
        client
            .juju_log()
            .iter()
            .all(|l| !l.message.contains(&password))
    );
}

#[test]
fn a_client_without_secrets_is_answered_plainly_and_only_once() {
    let mut server = provider();
    let to_client = Relation::new(ENDPOINT)
        .with_remote_app("python-client")
        .with_remote_app_data([("database", "legacy")]);
    let state = State::default()
        .with_leader(true)
        .with_relation(to_client.clone())
        .with_config([("tls-ca", "-----BEGIN CERTIFICATE-----".into())]);
    let out = server
        .run(server.on.relation_changed(&to_client), &state)
        .unwrap();
    let answer = out.relation(to_client.id).unwrap().local_app_data.clone();
    assert_eq!(answer["username"], user_for(to_client.id));
    assert_eq!(answer["tls"], "True");
    assert!(out.secrets.is_empty());
    // Answered again: the password handed out stays.
    let to_client = out.relation(to_client.id).unwrap().clone();
    let again = server
        .run(server.on.relation_changed(&to_client), &out)
        .unwrap();
    let bag = &again.relation(to_client.id).unwrap().local_app_data;
    assert_eq!(bag["password"], answer["password"]);
}

#[test]
fn bad_input_blocks_with_the_field_never_the_value() {
    // A request with a hostile database name: refused, not answered.
    let mut server = provider();
    let hostile = "app\n[databases]";
    let to_client = Relation::new(ENDPOINT)
        .with_remote_app("client")
        .with_remote_app_data([("database", hostile)]);
    let state = State::default()
        .with_leader(true)
        .with_relation(to_client.clone());
    let out = server
        .run(server.on.relation_changed(&to_client), &state)
        .unwrap();
    assert!(
        out.relation(to_client.id)
            .unwrap()
            .local_app_data
            .is_empty()
    );
    assert_eq!(
        out.unit_status,
        Status::blocked(format!(
            "refusing the request of relation {}: database (15 bytes) holds a control character",
            to_client.id
        ))
    );

    // An answer with a hostile endpoint: refused by the client.
    let mut client = requirer();
    let to_provider = Relation::new(ENDPOINT)
        .with_remote_app("provider")
        .with_remote_app_data([
            ("endpoints", "127.0.0.1:5432 host=evil"),
            ("username", "u"),
            ("password", "pw-not-shown"),
        ]);
    let state = State::default().with_relation(to_provider.clone());
    let out = client
        .run(client.on.relation_changed(&to_provider), &state)
        .unwrap();
    assert_eq!(
        out.unit_status,
        Status::blocked(format!(
            "refusing the answer on relation {}: endpoints (24 bytes) is not a comma-separated list of host:port",
            to_provider.id
        ))
    );
}
