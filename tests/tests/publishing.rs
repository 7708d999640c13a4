/// The publishable crates package together (`juju-ops-testing` depends on
/// the `juju-ops` being packaged, not on crates.io's), offline, each with
/// its licence, readme and changelog. `--no-verify`: the crates are built
/// and tested by the rest of the suite.
#[test]
fn the_publishable_crates_package_together() {
    let target = tempfile::tempdir().unwrap();
    let names: Vec<String> = publishable_packages()
        .iter()
        .map(|p| name(p).to_string())
        .collect();
    let mut command = cargo();
    command.args([
        "package",
        "--no-verify",
        "--allow-dirty",
        "--offline",
        "--locked",
    ]);
    for name in &names {
        command.args(["-p", name]);
    }
    let output = command
        .arg("--target-dir")
        .arg(target.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo package: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for name in &names {
        let version = env!("CARGO_PKG_VERSION");
        let crate_file = target
            .path()
            .join("package")
            .join(format!("{name}-{version}.crate"));
        assert!(crate_file.exists(), "{} missing", crate_file.display());
        let list = cargo()
            .args([
                "package",
                "--list",
                "--allow-dirty",
                "--offline",
                "-p",
                name,
            ])
            .output()
            .unwrap();
        assert!(list.status.success(), "cargo package --list -p {name}");
        let files = String::from_utf8(list.stdout).unwrap();
        for wanted in ["LICENSE", "README.md", "CHANGELOG.md", "Cargo.toml"] {
            assert!(
                files.lines().any(|f| f == wanted),
                "{name}'s package lacks {wanted}:\n{files}"
            );
        }
    }
}
