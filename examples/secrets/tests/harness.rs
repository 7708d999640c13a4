//! secrets through the Harness: the owner adds, grants and rotates; the
//! other side reads the secret it was granted, and re-reads on change.

use ops::Status;
use ops_testing::Harness;
use secrets::{CREDENTIALS, SECRET_ID_KEY, Secrets, UPSTREAM, label_for};

fn harness(leader: bool) -> Harness<Secrets> {
    let mut h = Harness::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    h.set_leader(leader).unwrap();
    h.begin_with_initial_hooks().unwrap();
    h
}

fn latest(h: &Harness<Secrets>, id: &str) -> (u64, std::collections::BTreeMap<String, String>) {
    let juju = h.juju();
    let secret = &juju.secrets[id];
    let revision = secret.latest();
    (revision, secret.revisions[&revision].clone())
}

fn is_password(text: &str) -> bool {
    text.len() == 32 && text.chars().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn the_owner_adds_grants_and_shares_the_id() {
    let mut h = harness(true);
    let relation = h.add_relation(CREDENTIALS, "user").unwrap();
    let id = h.get_relation_data(relation, "secrets")[SECRET_ID_KEY].clone();
    let juju = h.juju();
    let secret = &juju.secrets[&id];
    assert_eq!(secret.owner, "secrets");
    assert_eq!(secret.owner_kind, "application");
    assert_eq!(secret.label.as_deref(), Some(label_for(relation).as_str()));
    assert_eq!(secret.rotate.as_deref(), Some("daily"));
    assert_eq!(secret.grants.len(), 1, "{:?}", secret.grants);
    assert_eq!(secret.grants[0].relation, relation);
    assert_eq!(secret.grants[0].app, "user");
    let content = secret.revisions[&1].clone();
    drop(juju);
    assert_eq!(content["username"], format!("relation-{relation}"));
    assert!(is_password(&content["password"]));
    assert_eq!(
        h.unit_status(),
        Status::active("sharing credentials on 1 relations")
    );
    // No secret value reaches the log.
    let password = content["password"].clone();
    assert!(h.logs().iter().all(|l| !l.message.contains(&password)));
}

#[test]
fn a_follower_owner_adds_nothing() {
    let mut h = harness(false);
    let relation = h.add_relation(CREDENTIALS, "user").unwrap();
    assert!(h.juju().secrets.is_empty());
    assert!(h.get_relation_data(relation, "secrets").is_empty());
}

#[test]
fn rotation_is_a_new_password_for_the_same_user() {
    let mut h = harness(true);
    let relation = h.add_relation(CREDENTIALS, "user").unwrap();
    let id = h.get_relation_data(relation, "secrets")[SECRET_ID_KEY].clone();
    let (first_revision, first) = latest(&h, &id);
    h.trigger_secret_rotation(&id).unwrap();
    let (revision, rotated) = latest(&h, &id);
    assert_eq!(revision, first_revision + 1);
    assert_eq!(rotated["username"], first["username"]);
    assert!(is_password(&rotated["password"]));
    assert_ne!(rotated["password"], first["password"]);
}

#[test]
fn the_secret_goes_with_the_relation() {
    let mut h = harness(true);
    let relation = h.add_relation(CREDENTIALS, "user").unwrap();
    let id = h.get_relation_data(relation, "secrets")[SECRET_ID_KEY].clone();
    h.remove_relation(relation).unwrap();
    let juju = h.juju();
    assert!(
        juju.secrets.get(&id).is_none_or(|s| s.revisions.is_empty()),
        "{:?}",
        juju.secrets
            .get(&id)
            .map(|s| s.revisions.keys().collect::<Vec<_>>())
    );
}

#[test]
fn the_other_side_reads_what_it_was_granted_and_rereads_on_change() {
    let mut h = harness(false);
    assert_eq!(
        h.unit_status(),
        Status::active("sharing credentials on 0 relations")
    );
    let relation = h.add_relation(UPSTREAM, "owner").unwrap();
    let id = h.add_secret(
        "owner",
        &[("username", "relation-9"), ("password", "first-pw-0001")],
    );

    // The id arrives before the grant: waiting, and the hook succeeds.
    h.update_relation_data(relation, "owner", &[(SECRET_ID_KEY, id.as_str())])
        .unwrap();
    assert_eq!(
        h.unit_status(),
        Status::waiting("waiting for upstream to grant its secret")
    );
    assert!(h.charm().unwrap().credentials().is_none());

    h.grant_secret(&id, relation, None);
    h.update_relation_data(relation, "owner", &[("ping", "1")])
        .unwrap();
    let read = h.charm().unwrap().credentials().cloned().unwrap();
    assert_eq!(read.get("password").unwrap(), "first-pw-0001");
    assert_eq!(
        h.unit_status(),
        Status::active("using the credentials of relation-9")
    );
    assert!(!h.unit_status().message.contains("first-pw"));

    // The owner rotates: secret-changed, and the latest revision is read.
    h.set_secret_content(
        &id,
        &[("username", "relation-9"), ("password", "second-pw-0002")],
    )
    .unwrap();
    let read = h.charm().unwrap().credentials().cloned().unwrap();
    assert_eq!(read.get("password").unwrap(), "second-pw-0002");
    assert_eq!(h.juju().secrets[&id].tracked["secrets/0"], 2);
}
