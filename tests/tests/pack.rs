//! `charmcraft pack` with the real charmcraft (from PyPI, through the
//! project's own `scripts/pack`, which builds from a clean copy of the
//! checkout):
//! - charms/pgbouncer-k8s: the `.charm` holds a `dispatch` that is our charm
//!   binary and a metadata.yaml that declares pgb-peers, and `charmcraft
//!   analyse` finds no error in it;
//! - examples/standalone as a repository of its own, depending on ops-rs by
//!   git (a local repository made from this checkout): it packs with
//!   `source: .` and its dispatch is the charm;
//! - examples/hello, the crate docs/getting-started.md walks through: it
//!   packs with the `charmcraft.yaml` the page gives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// One pack at a time: each is a full release build on a small host, and
/// charmcraft's destructive mode was not made for two at once.
static PACKING: Mutex<()> = Mutex::new(());

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `scripts/pack --output OUT CHARM_DIR`; returns the one `.charm` it
/// left in OUT.
fn pack(charm_dir: &Path, out: &Path) -> PathBuf {
    let _one = PACKING.lock().unwrap_or_else(|e| e.into_inner());
    let pack = Command::new("bash")
        .arg(workspace().join("scripts/pack"))
        .arg("--output")
        .arg(out)
        .arg(charm_dir)
        .output()
        .unwrap();
    assert!(
        pack.status.success(),
        "scripts/pack failed:\n{}",
        text(&pack)
    );
    // What the script says it did (sizes, time, where the .charm is): seen
    // with --nocapture.
    for line in text(&pack)
        .lines()
        .filter(|l| l.starts_with("scripts/pack:"))
    {
        eprintln!("{line}");
    }
    let charms: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "charm"))
        .collect();
    assert_eq!(
        charms.len(),
        1,
        "one .charm in --output: {charms:?}\n{}",
        text(&pack)
    );
    assert!(
        String::from_utf8_lossy(&pack.stdout).contains(&charms[0].display().to_string()),
        "scripts/pack names the .charm it made:\n{}",
        text(&pack)
    );
    charms[0].clone()
}

/// The `.charm`'s files, in a temp dir.
fn unzip(charm: &Path) -> tempfile::TempDir {
    let unpacked = tempfile::tempdir().unwrap();
    let unzip = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(charm)
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(unzip.success());
    unpacked
}

/// The packed dispatch is an ops-rs charm: with OPERATOR_DISPATCH set it
/// exits 0 at once, and without Juju's environment it names what is missing.
/// The program interpreter (`PT_INTERP`, the dynamic loader) a 64-bit
/// little-endian ELF executable names, if any: none for a static binary.
fn elf_interpreter(elf: &[u8]) -> Option<String> {
    assert_eq!(&elf[..5], b"\x7fELF\x02", "not a 64-bit ELF file");
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).map(|i| phoff + i * phentsize).find_map(|ph| {
        const PT_INTERP: u32 = 3;
        let kind = u32::from_le_bytes(elf[ph..ph + 4].try_into().unwrap());
        (kind == PT_INTERP).then(|| {
            let (offset, size) = (u64_at(ph + 8), u64_at(ph + 32));
            String::from_utf8_lossy(&elf[offset..offset + size]).into_owned()
        })
    })
}

#[test]
fn elf_interpreter_tells_a_dynamic_binary_from_a_static_one() {
    // This test binary itself is dynamically linked, as cargo builds it.
    let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let interp = elf_interpreter(&me).expect("a dynamic executable names its loader");
    assert!(interp.contains("ld-linux"), "{interp}");
}

fn assert_dispatch_is_an_ops_charm(unpacked: &Path, unit: &str) {
    let dispatch = unpacked.join("dispatch");
    std::fs::set_permissions(
        &dispatch,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let reentry = Command::new(&dispatch)
        .env_clear()
        // As ops sets it for the processes it starts: the dispatch path.
        .env("OPERATOR_DISPATCH", "hooks/install")
        .env("JUJU_DISPATCH_PATH", "hooks/install")
        .env("JUJU_UNIT_NAME", unit)
        .env("JUJU_CHARM_DIR", unpacked)
        .output()
        .unwrap();
    assert!(reentry.status.success(), "{}", text(&reentry));
    let bare = Command::new(&dispatch).env_clear().output().unwrap();
    assert!(!bare.status.success());
    assert!(
        String::from_utf8_lossy(&bare.stderr).contains("JUJU_DISPATCH_PATH"),
        "{}",
        text(&bare)
    );
}

/// The files git knows under each of `paths` of the checkout (tracked, as
/// they are in the work tree, and untracked ones not ignored), copied to
/// `to` under their names less `strip` (`"."`: as they are), each with its
/// own modification time: `scripts/pack` keeps those in its copy, and
/// cargo judges by them whether the last pack's build of a crate is still
/// good.
fn copy_known_files(paths: &[&str], strip: &str, to: &Path) {
    let root = workspace();
    let files = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
        ])
        .args(paths)
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        files.status.success(),
        "git ls-files failed: {}",
        text(&files)
    );
    for name in files.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let from = root.join(&name);
        if !from.is_file() {
            continue;
        }
        // git names files from the checkout's root.
        let relative = match strip {
            "." => Path::new(&name),
            _ => Path::new(&name).strip_prefix(strip).unwrap(),
        };
        let dest = to.join(relative);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&from, &dest).unwrap();
        same_modified_time(&from, &dest);
    }
}

/// What of this checkout the standalone charm's ops-rs repository holds:
/// the two packages it depends on by git, and the workspace manifest they
/// take their version, edition and dependencies from (with the README
/// their manifests name). What a git dependency is built from, and no
/// more: a change elsewhere (a doc, the charm) makes no new commit, so
/// cargo keeps the ops the last pack built (41 s of the pack otherwise).
const UPSTREAM_PARTS: [&str; 5] = ["Cargo.toml", "README.md", "LICENSE", "ops", "ops-testing"];

/// Gives `to` the modification time of `from`.
fn same_modified_time(from: &Path, to: &Path) {
    let modified = std::fs::metadata(from).unwrap().modified().unwrap();
    std::fs::File::open(to)
        .unwrap()
        .set_modified(modified)
        .unwrap();
}

/// Where the standalone test makes its ops-rs repository, and the lock
/// that keeps it while the test uses it (`None`: a temp dir of the test's).
///
/// When the packs keep their cargo target dir (`OPS_RS_PACK_CARGO_TARGET`),
/// the repository is made at one path beside it, with the same author and
/// date each time (`git`), so that the same files make the same commit:
/// cargo knows a git dependency by its URL and commit, so it then finds
/// the ops the last pack built, and keeps one checkout of it under
/// `~/.cargo/git`. A new temp repository each run made cargo build ops
/// and link the charm again in every run (48 s of `.ci/run`), and left
/// another checkout of the whole repository there each time.
fn upstream_dir(tmp: &Path) -> (PathBuf, Option<std::fs::File>) {
    let Some(kept) = std::env::var_os("OPS_RS_PACK_CARGO_TARGET") else {
        return (tmp.join("ops-rs"), None);
    };
    let base = Path::new(&kept).join("standalone-upstream");
    std::fs::create_dir_all(&base).unwrap();
    // One test run at a time makes and uses it.
    let lock = std::fs::File::create(base.join("lock")).unwrap();
    lock.lock().unwrap();
    let dir = base.join("ops-rs");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    (dir, Some(lock))
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=ops-rs pack test",
            "-c",
            "user.email=pack-test@localhost",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgSign=false",
        ])
        // A commit's id is its tree, author, committer, dates and message:
        // the same files commit to the same id (`upstream_dir`).
        .env("GIT_AUTHOR_DATE", "2000-01-01T00:00:00+0000")
        .env("GIT_COMMITTER_DATE", "2000-01-01T00:00:00+0000")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

#[test]
fn pgbouncer_k8s_packs_and_its_dispatch_is_the_charm() {
    ops_testing::require_live!(
        "charmcraft and the network (bash .ci/run installs charmcraft in a venv)"
    );
    let root = workspace();
    let out = tempfile::tempdir().unwrap();
    let charm = &pack(&root.join("charms/pgbouncer-k8s"), out.path());
    // The build ran in a copy: nothing of it is left in the checkout.
    for leftover in ["parts", "stage", "prime", "overlay"] {
        assert!(
            !root.join("charms/pgbouncer-k8s").join(leftover).exists(),
            "charms/pgbouncer-k8s/{leftover} left in the checkout"
        );
    }

    let unpacked = unzip(charm);
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
    let metadata: serde_norway::Value = serde_norway::from_str(&metadata).unwrap();
    assert_eq!(
        metadata["peers"]["pgb-peers"]["interface"].as_str(),
        Some("pgb_peers")
    );
    assert_eq!(
        metadata["containers"]["pgbouncer"]["resource"].as_str(),
        Some("pgbouncer-image")
    );

    assert_dispatch_is_an_ops_charm(unpacked.path(), "pgbouncer-k8s/0");
    // charmcraft.yaml builds it static: no dynamic loader at every hook.
    let dispatch = std::fs::read(unpacked.path().join("dispatch")).unwrap();
    assert!(
        elf_interpreter(&dispatch).is_none(),
        "the packed dispatch is dynamically linked ({:?})",
        elf_interpreter(&dispatch)
    );

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

#[test]
fn the_getting_started_charm_packs() {
    ops_testing::require_live!(
        "charmcraft and the network (bash .ci/run installs charmcraft in a venv)"
    );
    let root = workspace();
    let out = tempfile::tempdir().unwrap();
    let charm = pack(&root.join("examples/hello"), out.path());
    assert_eq!(
        charm.file_name().unwrap().to_string_lossy(),
        "hello_amd64.charm"
    );
    let unpacked = unzip(&charm);
    let config = std::fs::read_to_string(unpacked.path().join("config.yaml")).unwrap();
    let config: serde_norway::Value = serde_norway::from_str(&config).unwrap();
    assert_eq!(
        config["options"]["greeting"]["default"].as_str(),
        Some("hello")
    );
    assert_dispatch_is_an_ops_charm(unpacked.path(), "hello/0");
}

#[test]
fn standalone_charm_packs_from_a_repository_of_its_own() {
    ops_testing::require_live!(
        "charmcraft and the network (bash .ci/run installs charmcraft in a venv)"
    );
    let tmp = tempfile::tempdir().unwrap();
    // ops-rs as a git repository (what of this checkout a git dependency
    // is built from, committed) ...
    let (upstream, _upstream_lock) = upstream_dir(tmp.path());
    copy_known_files(&UPSTREAM_PARTS, ".", &upstream);
    git(&upstream, &["init", "-q"]);
    git(&upstream, &["add", "-A"]);
    git(&upstream, &["commit", "-q", "-m", "ops-rs"]);
    // ... and examples/standalone as its own repository, depending on it
    // by git as its README says.
    let repo = tmp.path().join("standalone-charm");
    copy_known_files(&["examples/standalone"], "examples/standalone", &repo);
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let url = format!("file://{}", upstream.display());
    let by_git = manifest
        .replace(
            r#"ops = { package = "juju-ops", path = "../../ops" }"#,
            &format!(r#"ops = {{ package = "juju-ops", git = "{url}" }}"#),
        )
        .replace(
            r#"ops-testing = { package = "juju-ops-testing", path = "../../ops-testing" }"#,
            &format!(r#"ops-testing = {{ package = "juju-ops-testing", git = "{url}" }}"#),
        );
    assert_eq!(
        by_git.matches(&url).count(),
        2,
        "both path dependencies switched to git:\n{by_git}"
    );
    std::fs::write(repo.join("Cargo.toml"), by_git).unwrap();
    // The same text from one run to the next (the URL is, with a kept
    // target dir): not a change to build again for.
    same_modified_time(
        &workspace().join("examples/standalone/Cargo.toml"),
        &repo.join("Cargo.toml"),
    );
    // The lock file follows the new source (`cargo fetch` re-resolves only
    // what changed), as it would once in a real repository.
    let fetch = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("fetch")
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(fetch.status.success(), "cargo fetch: {}", text(&fetch));
    let lock = std::fs::read_to_string(repo.join("Cargo.lock")).unwrap();
    assert!(lock.contains(&format!("git+{url}")), "{lock}");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);

    let out = tempfile::tempdir().unwrap();
    let charm = pack(&repo, out.path());
    assert_eq!(
        charm.file_name().unwrap().to_string_lossy(),
        "standalone-charm_amd64.charm"
    );
    let unpacked = unzip(&charm);
    let metadata = std::fs::read_to_string(unpacked.path().join("metadata.yaml")).unwrap();
    let metadata: serde_norway::Value = serde_norway::from_str(&metadata).unwrap();
    assert_eq!(metadata["name"].as_str(), Some("standalone-charm"));
    let config = std::fs::read_to_string(unpacked.path().join("config.yaml")).unwrap();
    let config: serde_norway::Value = serde_norway::from_str(&config).unwrap();
    assert_eq!(config["options"]["motd"]["type"].as_str(), Some("string"));
    assert_dispatch_is_an_ops_charm(unpacked.path(), "standalone-charm/0");
    for leftover in ["parts", "stage", "prime", "overlay"] {
        assert!(
            !repo.join(leftover).exists(),
            "{leftover}/ left in the charm's repository"
        );
    }
}

/// A part whose `source` climbs out of the checkout (`../..` from a charm
/// at the root of its repository) is refused before anything is copied or
/// installed: in the temp copy it would name the temp dir's parent.
#[test]
fn a_part_source_outside_the_checkout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("charm")).unwrap();
    std::fs::write(
        repo.join("charm/charmcraft.yaml"),
        "name: climber\nbase: ubuntu@22.04\nparts:\n  charm:\n    plugin: rust\n    source: ../..\n",
    )
    .unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    let out = Command::new("bash")
        .arg(workspace().join("scripts/pack"))
        .arg(repo.join("charm"))
        // Never reached: the refusal comes first.
        .env("OPS_RS_CHARMCRAFT_VENV", dir.path().join("no-venv"))
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("part source '../..'") && said.contains("outside the checkout"),
        "{said}"
    );
    assert!(!dir.path().join("no-venv").exists(), "{said}");
}
