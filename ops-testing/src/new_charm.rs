//! A new charm in a repository of its own: what `ops-new` writes.
//!
//! The layout is the one `charmcraft pack` builds in its default (LXD)
//! mode as well as in destructive mode: the repository root is the charm's
//! crate and its own Cargo workspace, and the charm part builds it from
//! `source: .` (nothing outside the directory charmcraft is given). The
//! release profile is tuned for a binary Juju starts at every hook: small,
//! one unit of optimization, no symbols (`docs/performance.md` of ops-rs
//! says why each line is there).
//!
//! ```
//! use ops_testing::new_charm::{Dependencies, files};
//!
//! let files = files("my-charm", &Dependencies::Git).unwrap();
//! let manifest = &files.iter().find(|f| f.path == "Cargo.toml").unwrap().text;
//! assert!(manifest.contains("name = \"my-charm\""));
//! assert!(files.iter().any(|f| f.path == "charmcraft.yaml"));
//! ```
//!
//! `examples/standalone` in the ops-rs repository is exactly what
//! `ops-new --ops-path ../.. standalone-charm` writes (a test keeps them
//! the same), so the template is built, tested and packed there.

use std::path::{Path, PathBuf};

/// Where the new charm takes `ops` and `ops-testing` from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dependencies {
    /// From the ops-rs repository on GitHub (the lock file pins the commit).
    Git,
    /// From a checkout of ops-rs at this path, relative to the new charm's
    /// directory or absolute (for a charm inside that checkout, or to try
    /// a local change of ops).
    Path(String),
}

/// One file of the new charm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewFile {
    /// Its path in the charm's directory (`src/main.rs`).
    pub path: &'static str,
    /// Its content.
    pub text: String,
}

/// Why a charm could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NewCharmError {
    /// Juju's rule for charm names, which is also a valid Cargo package.
    #[error(
        "{name:?} is not a charm name: lowercase letters and digits in words joined by '-', starting with a letter"
    )]
    BadName {
        /// The name given.
        name: String,
    },
    /// The directory is there and not empty: nothing is overwritten.
    #[error("{} exists and is not empty", dir.display())]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

const REPOSITORY: &str = "https://github.com/ops-rs/ops-rs";

/// Whether `name` is a charm name Juju takes (`my-charm`, `pgbouncer-k8s`).
pub fn valid_name(name: &str) -> bool {
    name.len() <= 50
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('-').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// `my-charm` -> `MyCharm`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `my-charm` -> `My Charm`.
fn title(name: &str) -> String {
    name.split('-').map(type_name).collect::<Vec<_>>().join(" ")
}

fn dependency_lines(deps: &Dependencies) -> (String, String, &'static str) {
    match deps {
        Dependencies::Git => (
            format!("ops = {{ package = \"juju-ops\", git = \"{REPOSITORY}\" }}"),
            format!("ops-testing = {{ package = \"juju-ops-testing\", git = \"{REPOSITORY}\" }}"),
            "# ops and ops-testing from the ops-rs repository; Cargo.lock pins the\n\
             # commit (`cargo update -p juju-ops -p juju-ops-testing` moves it).\n\
             # Once released: ops = { package = \"juju-ops\", version = \"0.1\" }.",
        ),
        Dependencies::Path(root) => {
            let root = root.trim_end_matches('/');
            (
                format!("ops = {{ package = \"juju-ops\", path = \"{root}/ops\" }}"),
                format!(
                    "ops-testing = {{ package = \"juju-ops-testing\", path = \"{root}/ops-testing\" }}"
                ),
                "# ops and ops-testing from a checkout of ops-rs, by path. From GitHub\n\
                 # instead (then `cargo fetch`, and commit Cargo.lock):\n\
                 #   ops = { package = \"juju-ops\", git = \"https://github.com/ops-rs/ops-rs\" }\n\
                 #   ops-testing = { package = \"juju-ops-testing\", git = \"https://github.com/ops-rs/ops-rs\" }",
            )
        }
    }
}

/// The files of a new charm called `name`.
pub fn files(name: &str, deps: &Dependencies) -> Result<Vec<NewFile>, NewCharmError> {
    if !valid_name(name) {
        return Err(NewCharmError::BadName {
            name: name.to_string(),
        });
    }
    let (ops, ops_testing, note) = dependency_lines(deps);
    let fill = |template: &str| {
        template
            .replace("__NAME__", name)
            .replace("__TYPE__", &type_name(name))
            .replace("__TITLE__", &title(name))
            .replace("__OPS_NOTE__", note)
            .replace("__OPS_TESTING__", &ops_testing)
            .replace("__OPS__", &ops)
    };
    Ok([
        ("Cargo.toml", CARGO_TOML),
        (".gitignore", GITIGNORE),
        ("charmcraft.yaml", CHARMCRAFT_YAML),
        ("src/main.rs", MAIN_RS),
        ("README.md", README_MD),
    ]
    .into_iter()
    .map(|(path, template)| NewFile {
        path,
        text: fill(template),
    })
    .collect())
}

/// Writes a new charm called `name` into `dir` (made if missing; refused
/// if it has anything in it).
pub fn write(dir: &Path, name: &str, deps: &Dependencies) -> Result<Vec<NewFile>, NewCharmError> {
    let files = files(name, deps)?;
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(NewCharmError::NotEmpty {
            dir: dir.to_path_buf(),
        });
    }
    for file in &files {
        let path = dir.join(file.path);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, &file.text));
        written.map_err(|source| NewCharmError::Write { path, source })?;
    }
    Ok(files)
}

const CARGO_TOML: &str = r#"# A charm in a repository of its own: this directory is its own Cargo
# workspace, with its own Cargo.lock (commit it: charmcraft's rust plugin
# runs `cargo install --locked`) and its own charmcraft.yaml (`source: .`).
[package]
name = "__NAME__"
description = "A Juju charm written with ops-rs."
version = "0.1.0"
edition = "2024"
rust-version = "1.95"
license = "Apache-2.0"
publish = false

[dependencies]
__OPS_NOTE__
__OPS__

[dev-dependencies]
__OPS_TESTING__
serde_json = "1.0.154"

# Juju starts the binary at every hook: what counts is its size (it is in
# every .charm and every pod) and its start-up, not peak throughput.
[profile.release]
lto = "fat"
codegen-units = 1
opt-level = "s"
strip = "symbols"

[workspace]
"#;

const GITIGNORE: &str = "# What cargo and charmcraft leave in a charm's repository.
/target
*.charm
/parts/
/prime/
/stage/
/overlay/
";

const CHARMCRAFT_YAML: &str = "name: __NAME__
type: charm
title: __TITLE__
summary: A Juju charm written with ops-rs.
description: |
  Shows the `motd` config option as its unit status, and asks for it
  (blocked) when it is empty. Its crate is the repository's root, so the
  charm part builds from `source: .`.
base: ubuntu@22.04
platforms:
  amd64:

parts:
  charm:
    plugin: rust
    source: .
    organize:
      bin/__NAME__: dispatch

config:
  options:
    motd:
      type: string
      default: \"\"
      description: The message of the day, shown as the unit's status.
";

const MAIN_RS: &str = r#"//! `__NAME__`, a charm written with ops-rs.
//!
//! It shows its `motd` config option as the unit status, and is blocked
//! while it is empty. The binary is what Juju runs as `dispatch`.

use ops::events::CollectUnitStatus;
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Status};

/// The charm: no state, one status.
pub struct __TYPE__;

impl Charm for __TYPE__ {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe(Self::on_collect_status)?;
        Ok(Self)
    }
}

impl __TYPE__ {
    fn on_collect_status(&mut self, _: &CollectUnitStatus, ctx: &mut Ctx) -> HandlerResult<Status> {
        let config = ctx.model().config()?;
        let motd = config.get::<String>("motd")?;
        Ok(match motd.as_deref().map(str::trim) {
            None | Some("") => Status::blocked("set the motd config option"),
            Some(motd) => Status::active(motd),
        })
    }
}

fn main() -> std::process::ExitCode {
    ops::main::<__TYPE__>()
}

#[cfg(test)]
mod tests {
    use super::__TYPE__;
    use ops::Status;
    use ops_testing::Harness;
    use serde_json::json;

    #[test]
    fn blocked_until_the_motd_is_set_then_shows_it() {
        let charm_dir = env!("CARGO_MANIFEST_DIR");
        let mut h = Harness::<__TYPE__>::from_charm_dir(charm_dir).unwrap();
        h.begin_with_initial_hooks().unwrap();
        assert_eq!(
            h.unit_status(),
            Status::blocked("set the motd config option")
        );
        h.update_config([("motd", json!("hello from a repo of its own"))])
            .unwrap();
        assert_eq!(
            h.unit_status(),
            Status::active("hello from a repo of its own")
        );
        h.update_config([("motd", json!("  "))]).unwrap();
        assert_eq!(
            h.unit_status(),
            Status::blocked("set the motd config option")
        );
    }
}
"#;

const README_MD: &str = r#"# __NAME__

A Juju charm written in Rust with [ops-rs](https://github.com/ops-rs/ops-rs),
made by `ops-new`:

- `Cargo.toml`: the charm's crate and its own Cargo workspace, with a
  release profile tuned for a binary Juju starts at every hook;
- `charmcraft.yaml`: the charm part builds this directory (`source: .`)
  with charmcraft's rust plugin, and `organize` makes the binary `dispatch`;
- `src/main.rs`: the charm (its status is the `motd` config option) and a
  Harness test.

```sh
cargo test                 # makes Cargo.lock: commit it
charmcraft pack            # in LXD; or --destructive-mode on an Ubuntu host
```

charmcraft's rust plugin runs `cargo install --locked`, so `Cargo.lock`
must be committed. The simulator (`ops-sim`, which runs the compiled charm
through a scenario as Juju would) and the fake hook tools come with
ops-testing's binaries:

```sh
cargo install --locked --git https://github.com/ops-rs/ops-rs juju-ops-testing
```
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_jujus_rule() {
        for good in ["a", "my-charm", "pgbouncer-k8s", "x2"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "", "My-charm", "2x", "a--b", "a-", "-a", "a_b", "a b", "../x",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(matches!(
            files("Bad", &Dependencies::Git),
            Err(NewCharmError::BadName { .. })
        ));
    }

    #[test]
    fn the_type_is_the_name_in_camel_case() {
        assert_eq!(type_name("pgbouncer-k8s"), "PgbouncerK8s");
        assert_eq!(title("pgbouncer-k8s"), "Pgbouncer K8s");
        let main = &files("my-charm", &Dependencies::Git).unwrap()[3];
        assert_eq!(main.path, "src/main.rs");
        assert!(main.text.contains("pub struct MyCharm;"));
        assert!(!main.text.contains("__"));
    }

    #[test]
    fn git_or_path_dependencies() {
        let git = &files("c", &Dependencies::Git).unwrap()[0].text;
        assert!(git.contains(
            r#"ops = { package = "juju-ops", git = "https://github.com/ops-rs/ops-rs" }"#
        ));
        let path = &files("c", &Dependencies::Path("../ops-rs/".into())).unwrap()[0].text;
        assert!(path.contains(r#"ops = { package = "juju-ops", path = "../ops-rs/ops" }"#));
        assert!(path.contains(
            r#"ops-testing = { package = "juju-ops-testing", path = "../ops-rs/ops-testing" }"#
        ));
    }

    #[test]
    fn nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep"), "mine").unwrap();
        assert!(matches!(
            write(dir.path(), "c", &Dependencies::Git),
            Err(NewCharmError::NotEmpty { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep")).unwrap(),
            "mine"
        );
        let fresh = dir.path().join("fresh");
        write(&fresh, "c", &Dependencies::Git).unwrap();
        assert!(fresh.join("src/main.rs").is_file());
    }
}
