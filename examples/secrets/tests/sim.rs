//! secrets as Juju runs it: the compiled charm, two units, under the
//! simulator (`scenarios/share.yaml`). The secret tools are the fake
//! `juju-hook-tool` processes over the shared model file, so what the test
//! reads back is what the charm did through them.

use std::collections::BTreeMap;
use std::path::Path;

use ops_testing::binaries::hook_tool;
use ops_testing::fake_juju::cli::{load_state, with_state};
use ops_testing::sim::{Scenario, Simulator, Step};
use secrets::{SECRET_ID_KEY, label_for};

#[test]
fn the_leader_shares_a_secret_and_both_units_read_a_granted_one() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let scenario = Scenario::load(&base.join("share.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Simulator::for_scenario(
        &scenario,
        &base,
        dir.path(),
        &hook_tool().unwrap(),
        Some(Path::new(env!("CARGO_BIN_EXE_secrets"))),
    )
    .unwrap();
    for (i, step) in scenario.steps[..2].iter().enumerate() {
        sim.step(i + 1, step).unwrap();
    }

    // Owner side: one secret, added by the leader, granted to `user`.
    let report = sim.report().unwrap();
    let shared = report
        .relations
        .iter()
        .find(|r| r.remote_app == "user")
        .unwrap();
    let id = shared.databags["secrets"][SECRET_ID_KEY].clone();
    let juju = load_state(sim.state_path()).unwrap();
    assert_eq!(juju.secrets.len(), 1, "one secret, though two units ran");
    let secret = &juju.secrets[&id];
    assert_eq!(secret.owner, "secrets");
    assert_eq!(secret.label.as_deref(), Some(label_for(shared.id).as_str()));
    assert_eq!(secret.grants.len(), 1);
    assert_eq!(
        (secret.grants[0].relation, secret.grants[0].app.as_str()),
        (shared.id, "user")
    );
    assert_eq!(
        secret.revisions[&1]["username"],
        format!("relation-{}", shared.id)
    );
    let password = secret.revisions[&1]["password"].clone();
    for (unit, state) in &report.units {
        assert_eq!(
            state.status, "active: sharing credentials on 1 relations",
            "{unit}"
        );
    }
    assert!(
        report
            .hooks
            .iter()
            .all(|h| !h.stderr.as_deref().unwrap_or("").contains(&password))
    );
    assert!(juju.logs.iter().all(|l| !l.message.contains(&password)));

    // The other side: `vault` owns a secret and grants it on the upstream
    // relation; its id arrives in vault's databag.
    sim.step(3, &scenario.steps[2]).unwrap();
    let upstream = sim
        .report()
        .unwrap()
        .relations
        .iter()
        .find(|r| r.remote_app == "vault")
        .unwrap()
        .id;
    let vault_secret = with_state(sim.state_path(), |juju| {
        let content = BTreeMap::from([
            ("username".to_string(), "vault-user".to_string()),
            ("password".to_string(), "vault-pw-0001".to_string()),
        ]);
        let id = juju.add_secret("vault", content, None);
        juju.grant_secret(&id, upstream, None);
        id
    })
    .unwrap();
    let set_id = Step::SetRemoteData {
        endpoint: "upstream".into(),
        app: "vault".into(),
        unit: None,
        data: BTreeMap::from([(SECRET_ID_KEY.to_string(), vault_secret.clone())]),
    };
    sim.step(4, &set_id).unwrap();
    let report = sim.report().unwrap();
    for (unit, state) in &report.units {
        assert_eq!(
            state.status, "active: using the credentials of vault-user",
            "{unit}"
        );
    }
    let juju = load_state(sim.state_path()).unwrap();
    let tracked = &juju.secrets[&vault_secret].tracked;
    assert_eq!(tracked.get("secrets/0"), Some(&1), "{tracked:?}");
    assert_eq!(tracked.get("secrets/1"), Some(&1), "{tracked:?}");
    let failed: Vec<_> = report.hooks.iter().filter(|h| h.exit_code != 0).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}
