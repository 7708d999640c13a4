//! What the compiler says when a charm misuses ops' API: the wording ops
//! gives it (`#[diagnostic::on_unimplemented]`) is part of the API, so it
//! is pinned here against the toolchain in use, not only "does not compile".
//!
//! Each case is a crate of one file in `tests/compile_errors/`, checked
//! (`cargo check`, offline, locked to this workspace's versions) in a
//! directory of this test's own; a case must fail with the expected lines.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `cargo check` of the case `name`, whose stderr is returned: it must fail.
fn check_fails(name: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("compile_errors")
        .join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let ops = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"case-{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nops = {{ package = \"juju-ops\", path = {ops:?} }}\n\n[workspace]\n",
            name = name.replace('_', "-"),
            ops = ops.display().to_string(),
        ),
    )
    .unwrap();
    // The workspace's lock file: the same dependency versions, nothing to
    // fetch (cargo drops what this case does not use).
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/compile_errors")
            .join(format!("{name}.rs")),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), source).unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["check", "--offline", "--quiet", "--message-format=short"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "case {name} compiled:\n{stderr}");
    stderr
}

#[test]
fn deferring_an_event_juju_never_defers_is_refused_in_ops_words() {
    let stderr = check_fails("defer_stop");
    assert!(
        stderr.contains(
            "src/lib.rs:10:12: error[E0277]: `Stop` cannot be deferred, and is not a custom event"
        ),
        "{stderr}"
    );
    // Not the bare trait bound rustc would name without ops' message.
    assert!(
        !stderr.contains("the trait bound `Stop: CustomEvent` is not satisfied"),
        "{stderr}"
    );
}
