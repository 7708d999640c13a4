//! `charmcraft pack` of charms/pgbouncer-k8s with the real charmcraft (from
//! PyPI, through the project's own `scripts/pack`, which builds from a clean
//! copy of the checkout): the `.charm` holds a `dispatch` that is our charm
//! binary and a metadata.yaml that declares pgb-peers, and `charmcraft
//! analyse` finds no error in it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn pgbouncer_k8s_packs_and_its_dispatch_is_the_charm() {
    let root = workspace();
    let out = tempfile::tempdir().unwrap();
    let pack = Command::new("bash")
        .arg(root.join("scripts/pack"))
        .arg("--output")
        .arg(out.path())
        .arg(root.join("charms/pgbouncer-k8s"))
        .output()
        .unwrap();
    assert!(
        pack.status.success(),
        "scripts/pack failed:\n{}\n{}",
        String::from_utf8_lossy(&pack.stdout),
        String::from_utf8_lossy(&pack.stderr)
    );
    let charms: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "charm"))
        .collect();
    assert_eq!(
        charms.len(),
        1,
        "one .charm in --output: {charms:?}\n{}",
        String::from_utf8_lossy(&pack.stderr)
    );
    let charm = &charms[0];
    assert!(
        String::from_utf8_lossy(&pack.stdout).contains(&charm.display().to_string()),
        "scripts/pack names the .charm it made"
    );
    // The build ran in a copy: nothing of it is left in the checkout.
    for leftover in ["parts", "stage", "prime", "overlay"] {
        assert!(
            !root.join("charms/pgbouncer-k8s").join(leftover).exists(),
            "charms/pgbouncer-k8s/{leftover} left in the checkout"
        );
    }

    let unpacked = tempfile::tempdir().unwrap();
    let unzip = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(charm)
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(unzip.success());
    for name in ["dispatch", "manifest.yaml", "metadata.yaml", "config.yaml"] {
        assert!(
            unpacked.path().join(name).exists(),
            "{name} missing from the .charm"
        );
    }
    assert!(
        !unpacked.path().join("charmcraft.yaml").exists(),
        "a packed charm carries no charmcraft.yaml"
    );
    let metadata = std::fs::read_to_string(unpacked.path().join("metadata.yaml")).unwrap();
    let metadata: serde_yaml::Value = serde_yaml::from_str(&metadata).unwrap();
    assert_eq!(
        metadata["peers"]["pgb-peers"]["interface"].as_str(),
        Some("pgb_peers")
    );
    assert_eq!(
        metadata["containers"]["pgbouncer"]["resource"].as_str(),
        Some("pgbouncer-image")
    );

    // The packed dispatch is the ops-rs charm: with OPERATOR_DISPATCH set it
    // exits 0 at once, and without Juju's environment it names what is missing.
    let dispatch = unpacked.path().join("dispatch");
    std::fs::set_permissions(
        &dispatch,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let reentry = Command::new(&dispatch)
        .env_clear()
        .env("OPERATOR_DISPATCH", "1")
        .env("JUJU_DISPATCH_PATH", "hooks/install")
        .env("JUJU_UNIT_NAME", "pgbouncer-k8s/0")
        .env("JUJU_CHARM_DIR", unpacked.path())
        .output()
        .unwrap();
    assert!(reentry.status.success());
    let bare = Command::new(&dispatch).env_clear().output().unwrap();
    assert!(!bare.status.success());
    assert!(String::from_utf8_lossy(&bare.stderr).contains("JUJU_DISPATCH_PATH"));

    let venv = Command::new("bash")
        .arg(root.join("scripts/pack"))
        .arg("--venv")
        .output()
        .unwrap();
    assert!(venv.status.success(), "scripts/pack --venv failed");
    let venv = PathBuf::from(String::from_utf8_lossy(&venv.stdout).trim());
    let analyse = Command::new(venv.join("bin/charmcraft"))
        .args(["analyse", "--format=json"])
        .arg(charm)
        .current_dir(out.path())
        .output()
        .unwrap();
    // analyse exits non-zero on warnings too (the spec's snake_case option
    // names draw one); what must hold is that no check reports an error.
    let report = String::from_utf8_lossy(&analyse.stdout);
    let checks: serde_json::Value = serde_json::from_str(&report).unwrap_or_else(|e| {
        panic!(
            "charmcraft analyse gave no JSON ({e}): {report}\n{}",
            String::from_utf8_lossy(&analyse.stderr)
        )
    });
    let errors: Vec<_> = checks
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            ["errors", "error", "fatal"].contains(&c["result"].as_str().unwrap_or_default())
        })
        .collect();
    assert!(errors.is_empty(), "charmcraft analyse errors: {errors:#?}");
}
