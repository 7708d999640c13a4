//! `charmcraft pack` of charms/pgbouncer-k8s with the real charmcraft (from
//! PyPI, through ../shared/tools/charmcraft-pack): the `.charm` holds a
//! `dispatch` that is our charm binary and a metadata.yaml that declares
//! pgb-peers, and `charmcraft analyse` finds no error in it.

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
    let tool = root.join("../shared/tools/charmcraft-pack");
    assert!(
        tool.exists(),
        "{} is missing: the pack test needs shared/ beside the checkout",
        tool.display()
    );
    // Pack a clean copy of the workspace: the part's `source: ../..` would
    // otherwise copy `target/` (gigabytes) into the build.
    let copy = tempfile::tempdir().unwrap();
    let files = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(files.status.success(), "git ls-files failed");
    for name in files.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let from = root.join(&name);
        if !from.is_file() {
            continue;
        }
        let to = copy.path().join(&name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    let charm_dir = copy.path().join("charms/pgbouncer-k8s");
    let pack = Command::new("bash")
        .arg(&tool)
        .arg(&charm_dir)
        .output()
        .unwrap();
    assert!(
        pack.status.success(),
        "charmcraft pack failed:\n{}\n{}",
        String::from_utf8_lossy(&pack.stdout),
        String::from_utf8_lossy(&pack.stderr)
    );
    let charm = std::fs::read_dir(&charm_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "charm"))
        .expect("a .charm file");

    let unpacked = tempfile::tempdir().unwrap();
    let unzip = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&charm)
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
        .env("OPERATOR_DISPATCH", "hooks/install")
        .env("JUJU_DISPATCH_PATH", "hooks/install")
        .env("JUJU_UNIT_NAME", "pgbouncer-k8s/0")
        .env("JUJU_CHARM_DIR", unpacked.path())
        .output()
        .unwrap();
    assert!(reentry.status.success());
    let bare = Command::new(&dispatch).env_clear().output().unwrap();
    assert!(!bare.status.success());
    assert!(String::from_utf8_lossy(&bare.stderr).contains("JUJU_DISPATCH_PATH"));

    let venv = std::env::var("CHARMCRAFT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/charmcraft-venv")
        });
    let analyse = Command::new(venv.join("bin/charmcraft"))
        .args(["analyse", "--format=json"])
        .arg(&charm)
        .current_dir(copy.path())
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
