//! What a user outside this repository sees of the crates: a licence in each
//! package, names free on crates.io with the short library names kept,
//! docs.rs metadata, no archived YAML crate, and the publishable crates
//! packaging together. Also what the workspace's own checks rely on: the
//! Python dependencies pinned, and the binaries the simulator tests ask
//! for built by `cargo test --workspace`.
//!
//! The manifests are read through `cargo metadata --no-deps` (no TOML parser
//! here, no network).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Package names on crates.io that belong to other projects: `cargo add ops`
/// installs an unrelated crate, and so would `cargo add prometheus-scrape`
/// (looked up in crates.io's index on 2026-12-05).
const TAKEN_ON_CRATES_IO: &[&str] = &["ops", "ops-rs", "prometheus-scrape", "grafana-dashboard"];

/// Every publishable package and the library name a charm `use`s.
const PUBLISHED: &[(&str, &str)] = &[
    ("juju-ops", "ops"),
    ("juju-ops-testing", "ops_testing"),
    ("juju-topology", "juju_topology"),
    ("juju-prometheus-scrape", "prometheus_scrape"),
    ("juju-grafana-dashboard", "grafana_dashboard"),
    ("juju-loki-push-api", "loki_push_api"),
    ("juju-postgresql-client", "postgresql_client"),
    ("juju-tls-certificates", "tls_certificates"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

/// The workspace's packages, as `cargo metadata` describes them.
fn packages() -> Vec<Value> {
    let output = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"].as_array().unwrap().clone()
}

/// `publish` is null when the package may go to any registry, `[]` when
/// `publish = false`.
fn publishable(package: &Value) -> bool {
    match &package["publish"] {
        Value::Null => true,
        Value::Array(registries) => !registries.is_empty(),
        other => panic!("unexpected publish field {other}"),
    }
}

fn publishable_packages() -> Vec<Value> {
    packages().into_iter().filter(publishable).collect()
}

fn name(package: &Value) -> &str {
    package["name"].as_str().unwrap()
}

fn package_dir(package: &Value) -> PathBuf {
    Path::new(package["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf()
}

fn lib_name(package: &Value) -> Option<String> {
    package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|target| {
            target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kind| kind == "lib")
        })
        .map(|target| target["name"].as_str().unwrap().to_string())
}

#[test]
fn the_framework_and_interface_crates_are_publishable() {
    let names: Vec<String> = publishable_packages()
        .iter()
        .map(|p| name(p).to_string())
        .collect();
    for (expected, _) in PUBLISHED {
        assert!(
            names.iter().any(|n| n == *expected),
            "{expected} is not publishable: {names:?}"
        );
    }
    // Charms, examples, benches and these tests are not.
    for package in packages() {
        let dir = package_dir(&package);
        let rel = dir.strip_prefix(root()).unwrap();
        if rel.starts_with("charms")
            || rel.starts_with("examples")
            || rel.starts_with("benches")
            || rel.starts_with("tests")
        {
            assert!(
                !publishable(&package),
                "{} ({}) must be publish = false",
                name(&package),
                rel.display()
            );
        }
    }
}

#[test]
fn the_root_licence_is_the_apache_2_0_text() {
    let licence = std::fs::read_to_string(root().join("LICENSE")).unwrap();
    for line in [
        "Apache License",
        "Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "END OF TERMS AND CONDITIONS",
    ] {
        assert!(licence.contains(line), "LICENSE lacks {line:?}");
    }
}

#[test]
fn every_publishable_package_ships_the_licence() {
    let licence = std::fs::read(root().join("LICENSE")).unwrap();
    for package in publishable_packages() {
        assert_eq!(
            package["license"].as_str(),
            Some("Apache-2.0"),
            "{}: license",
            name(&package)
        );
        let copy = package_dir(&package).join("LICENSE");
        let text = std::fs::read(&copy)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", name(&package), copy.display()));
        assert!(
            text == licence,
            "{}: LICENSE differs from the root's",
            name(&package)
        );
    }
}

#[test]
fn publishable_names_are_free_and_libraries_keep_their_names() {
    for package in publishable_packages() {
        assert!(
            !TAKEN_ON_CRATES_IO.contains(&name(&package)),
            "{} is another project's name on crates.io",
            name(&package)
        );
    }
    let packages = packages();
    let lib = |wanted: &str| {
        let package = packages
            .iter()
            .find(|p| name(p) == wanted)
            .unwrap_or_else(|| panic!("no package {wanted}"));
        lib_name(package)
    };
    for (package, library) in PUBLISHED {
        assert_eq!(
            lib(package).as_deref(),
            Some(*library),
            "{package}'s library"
        );
    }
}

#[test]
fn every_publishable_package_documents_all_features_on_docs_rs() {
    for package in publishable_packages() {
        assert_eq!(
            package["metadata"]["docs"]["rs"]["all-features"],
            Value::Bool(true),
            "{}: [package.metadata.docs.rs] all-features = true",
            name(&package)
        );
    }
}

/// `serde_yaml` is archived upstream: neither lock file may hold it.
#[test]
fn no_archived_yaml_crate_is_locked() {
    for lock in ["Cargo.lock", "examples/standalone/Cargo.lock"] {
        let text = std::fs::read_to_string(root().join(lock)).unwrap();
        assert!(
            !text.lines().any(|line| line == r#"name = "serde_yaml""#),
            "{lock} still locks serde_yaml"
        );
    }
}

/// Every public error enum of ops and ops-testing is `#[non_exhaustive]`, so
/// that a new failure (Juju's, Pebble's, ours) is not a breaking change.
/// Read from the sources: an enum whose name ends in `Error`.
#[test]
fn every_public_error_enum_is_non_exhaustive() {
    let mut checked = 0;
    let mut missing = Vec::new();
    for dir in ["ops/src", "ops-testing/src"] {
        for file in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let Some(rest) = line.trim_start().strip_prefix("pub enum ") else {
                    continue;
                };
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.ends_with("Error") {
                    continue;
                }
                checked += 1;
                // The attributes and doc comments right above it.
                let attributes = lines[..i]
                    .iter()
                    .rev()
                    .take_while(|l| {
                        let l = l.trim_start();
                        l.starts_with("#[") || l.starts_with("//")
                    })
                    .any(|l| l.trim() == "#[non_exhaustive]");
                if !attributes {
                    let rel = file.strip_prefix(root()).unwrap().display().to_string();
                    missing.push(format!("{rel}:{}: {name}", i + 1));
                }
            }
        }
    }
    assert!(checked >= 15, "only {checked} error enums found");
    assert!(missing.is_empty(), "not #[non_exhaustive]: {missing:#?}");
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// What the Python parity test and the benches install from PyPI is pinned:
/// each requirements file names exact versions (or includes another), and
/// every place that runs `pip install` installs from one of them.
#[test]
fn python_dependencies_are_pinned() {
    for file in [
        "tests/python-requirements.txt",
        "benches/support/python-requirements.txt",
    ] {
        let path = root().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut pins = 0;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(included) = line.strip_prefix("-r ") {
                let included = path.parent().unwrap().join(included.trim());
                assert!(included.exists(), "{file}: {line}: no such file");
                continue;
            }
            let (name, version) = line
                .split_once("==")
                .unwrap_or_else(|| panic!("{file}: {line:?} is not name==version"));
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{file}: {line:?}: bad name"
            );
            assert!(
                version.starts_with(|c: char| c.is_ascii_digit())
                    && version
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.'),
                "{file}: {line:?}: not one exact version"
            );
            pins += 1;
        }
        assert!(pins > 0, "{file} pins nothing");
    }
    // The shell scripts: every `pip install` takes a requirements file.
    for script in ["benches/hook-cost", "benches/pgbouncer-vs-python"] {
        let text = std::fs::read_to_string(root().join(script)).unwrap();
        let installs: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("pip\" install") || l.contains("pip install"))
            .collect();
        assert!(!installs.is_empty(), "{script}: no pip install found");
        for line in installs {
            assert!(
                line.contains(" -r \"$requirements\""),
                "{script}: installs without the requirements file: {line}"
            );
        }
    }
    let parity = std::fs::read_to_string(root().join("tests/tests/python_parity.rs")).unwrap();
    assert!(parity.contains(r#".arg("--requirement")"#));
    assert!(
        !parity.contains(r#""ops"])"#),
        "python_parity.rs installs ops unpinned"
    );
}

/// The publishable crates package together (`juju-ops-testing` depends on
/// the `juju-ops` being packaged, not on crates.io's), offline, each with
/// its licence, readme and changelog. `--no-verify`: the crates are built
/// and tested by the rest of the suite.
#[test]
fn the_publishable_crates_package_together() {
    let target = tempfile::tempdir().unwrap();
    let packages: Vec<(String, String)> = publishable_packages()
        .iter()
        .map(|p| {
            let version = p["version"].as_str().unwrap().to_string();
            (name(p).to_string(), version)
        })
        .collect();
    let mut command = cargo();
    command.args([
        "package",
        "--no-verify",
        "--allow-dirty",
        "--offline",
        "--locked",
    ]);
    for (name, _) in &packages {
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
    for (name, version) in &packages {
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

/// `.ci/run` has the simulator tests take their binaries from what `cargo
/// test --workspace` built (`OPS_RS_BIN_DIR`, read by
/// `ops_testing::binaries::cargo_bin`). cargo builds a package's binaries
/// for a test run only when the package has integration tests: a binary
/// of any other package could be an old one. So every package an
/// integration test asks `cargo_bin` for (and `juju-ops-testing`, whose
/// hook tool `hook_tool()` gives) has integration tests.
#[test]
fn every_binary_the_tests_ask_for_is_built_by_cargo_test() {
    let mut asked = std::collections::BTreeSet::new();
    let call = "cargo_bin(\"";
    let top_dirs = std::fs::read_dir(root())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .filter(|path| !path.ends_with("target") && !path.ends_with(".git"));
    for file in top_dirs.flat_map(|dir| rust_files(&dir)) {
        let in_tests = file
            .strip_prefix(root())
            .unwrap()
            .components()
            .any(|c| c.as_os_str() == "tests");
        if !in_tests {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices(call) {
            let package = text[at + call.len()..].split('"').next().unwrap();
            asked.insert(package.to_string());
        }
        if text.contains("hook_tool()") {
            asked.insert("juju-ops-testing".to_string());
        }
    }
    for expected in ["pgbouncer-k8s", "juju-ops-testing", "hello-peers"] {
        assert!(
            asked.contains(expected),
            "no test asks for {expected}: {asked:?}"
        );
    }
    let packages = packages();
    for package in &asked {
        let found = packages
            .iter()
            .find(|p| name(p) == package)
            .unwrap_or_else(|| panic!("a test asks cargo_bin for {package}, not in the workspace"));
        let has_integration_tests = found["targets"].as_array().unwrap().iter().any(|target| {
            target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kind| kind == "test")
        });
        assert!(
            has_integration_tests,
            "{package} has no integration tests: cargo test does not build its binaries"
        );
    }
}
