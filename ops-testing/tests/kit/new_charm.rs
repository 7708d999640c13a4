//! `ops-new` writes the layout `examples/standalone` has: that example is
//! built, tested, linted and packed by CI, so the template is too.

use std::path::Path;
use std::process::Command;

use ops_testing::new_charm::{Dependencies, files};

#[test]
fn examples_standalone_is_what_ops_new_writes() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/standalone");
    let made = files("standalone-charm", &Dependencies::Path("../..".into())).unwrap();
    assert!(!made.is_empty());
    for file in made {
        let there = std::fs::read_to_string(example.join(file.path)).unwrap();
        assert_eq!(
            there, file.text,
            "examples/standalone/{} differs from the template: run `ops-new standalone-charm DIR --ops-path ../..` and copy it over",
            file.path
        );
    }
}

#[test]
fn the_command_writes_a_charm_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("my-charm");
    let new = || Command::new(env!("CARGO_BIN_EXE_ops-new"));
    let out = new().arg("my-charm").arg(&target).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(target.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(r#"git = "https://github.com/ops-rs/ops-rs""#));
    let main = std::fs::read_to_string(target.join("src/main.rs")).unwrap();
    assert!(main.contains("ops::main::<MyCharm>()"));

    let again = new().arg("my-charm").arg(&target).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));

    let bad = new()
        .arg("My_Charm")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a charm name"));
    assert!(!dir.path().join("My_Charm").exists());

    let usage = new().output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let help = new().arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: ops-new NAME"));
}
