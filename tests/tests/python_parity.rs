//! The fakes are faithful: Python ops (from PyPI) runs its own charm under
//! the simulator with no hook-tool error, and ends with the same databags as
//! the Rust example charm with the same logic.

use std::path::{Path, PathBuf};
use std::process::Command;

use ops_testing::binaries::{cargo_bin, hook_tool, target_dir};
use ops_testing::sim::{Report, Scenario, Simulator};

const STEPS: &str = "
  - deploy: {units: 3}
  - config: {greeting: bonjour}
  - add-unit: {}
  - remove-unit: {unit: hello-peers/0}
  - expire-lease: {}
  - config: {greeting: hola}
  - update-status: {}
";

/// Python ops and its dependencies, each at an exact version.
fn requirements() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python-requirements.txt")
}

/// A venv with the pinned Python ops (shared with `benches/hook-cost`): made
/// anew when the requirements file is not the one it was made from.
fn python_with_ops() -> PathBuf {
    let venv = target_dir().unwrap().join("python-ops-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join(".ops-rs-requirements");
    let wanted = std::fs::read(requirements()).unwrap();
    let up_to_date = std::fs::read(&stamp).is_ok_and(|made_from| made_from == wanted)
        && Command::new(&python)
            .args(["-c", "import ops"])
            .status()
            .is_ok_and(|s| s.success());
    if !up_to_date {
        if venv.exists() {
            std::fs::remove_dir_all(&venv).unwrap();
        }
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(
            made.success(),
            "python3 -m venv failed: .ci/run installs python3-venv"
        );
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg("--requirement")
            .arg(requirements())
            .status()
            .expect("pip runs");
        assert!(
            pip.success(),
            "pip install of tests/python-requirements.txt failed"
        );
        std::fs::write(&stamp, &wanted).unwrap();
    }
    python
}

fn run(charm_dir: &Path, binary: Option<&Path>) -> Report {
    let work = tempfile::tempdir().unwrap();
    let scenario = Scenario::parse(
        &format!("model: parity\ncharm: {{dir: .}}\nsteps:{STEPS}"),
        Path::new("parity.yaml"),
    )
    .unwrap();
    let mut sim = Simulator::new(
        work.path(),
        "parity",
        charm_dir,
        binary,
        Some("hello-peers"),
        &hook_tool().unwrap(),
    )
    .unwrap();
    for (i, step) in scenario.steps.iter().enumerate() {
        sim.step(i + 1, step).unwrap();
    }
    sim.report().unwrap()
}

#[test]
fn python_ops_and_rust_charms_agree_under_the_simulator() {
    ops_testing::require_live!(
        "Python 3 with venv, and PyPI for Python ops (bash .ci/run installs them)"
    );
    let python = python_with_ops();
    // The charm's dispatch names the interpreter that has ops.
    let charm_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("python-hello-peers");
    let charm = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&charm_src).unwrap() {
        let entry = entry.unwrap();
        let target = charm.path().join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            for inner in std::fs::read_dir(entry.path()).unwrap() {
                let inner = inner.unwrap();
                std::fs::copy(inner.path(), target.join(inner.file_name())).unwrap();
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    let dispatch = charm.path().join("dispatch");
    let script = std::fs::read_to_string(&dispatch)
        .unwrap()
        .replace("${OPS_TEST_PYTHON:-python3}", &python.display().to_string());
    std::fs::write(&dispatch, script).unwrap();
    std::fs::set_permissions(
        &dispatch,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let py = run(charm.path(), None);
    let failures: Vec<_> = py.hooks.iter().filter(|h| h.exit_code != 0).collect();
    assert!(
        failures.is_empty(),
        "Python ops hit a hook-tool error: {failures:#?}"
    );

    let rust_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello-peers");
    let binary = cargo_bin("hello-peers", "hello-peers").unwrap();
    let rs = run(&rust_dir, Some(&binary));
    assert!(rs.hooks.iter().all(|h| h.exit_code == 0), "{:#?}", rs.hooks);

    assert_eq!(py.relations.len(), 1);
    assert_eq!(py.relations[0].databags, rs.relations[0].databags);
    assert_eq!(py.relations[0].databags["hello-peers"]["greeting"], "hola");
    let statuses = |r: &Report| {
        r.units
            .iter()
            .map(|(u, s)| (u.clone(), s.status.clone(), s.leader))
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&py), statuses(&rs));
}

/// The pgbouncer-k8s charm's Python ops port, which only
/// `benches/pgbouncer-vs-python` runs, is at least valid Python: a syntax
/// error there would only show as a bench whose Python hooks all fail.
#[test]
fn the_pgbouncer_python_port_compiles() {
    ops_testing::require_live!(
        "Python 3 with venv, and PyPI for Python ops (bash .ci/run installs them)"
    );
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("python-pgbouncer/src/charm.py");
    // compile() writes no .pyc beside the source, unlike py_compile.
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')",
        ])
        .arg(&source)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
