//! `ops-new`: a new Rust charm in a repository of its own.
//!
//! ```text
//! ops-new NAME [DIR] [--ops-path PATH]
//! ```
//! Writes the charm `NAME` into `DIR` (default `./NAME`, which must be
//! missing or empty): its crate and Cargo workspace, `charmcraft.yaml`
//! (`source: .`, so `charmcraft pack` builds it in LXD as well as in
//! destructive mode), the charm and a test. `ops` and `ops-testing` come
//! from the ops-rs repository by git, or by path from `--ops-path` (a
//! checkout of ops-rs). Exits 0 on success, 1 when it could not write, 2
//! for a usage error; `--help` prints the usage on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use ops_testing::new_charm::{Dependencies, write};

const USAGE: &str = "usage: ops-new NAME [DIR] [--ops-path PATH]";

const HELP: &str = "\
Writes a new Rust charm NAME, in a repository of its own, into DIR
(default ./NAME; it must be missing or empty).

  --ops-path PATH  take ops and ops-testing from a checkout of ops-rs at
                   PATH (relative to DIR, or absolute) instead of from git
  -h, --help       print this and exit

Then: cd DIR && cargo test, commit Cargo.lock, and charmcraft pack.
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut deps = Dependencies::Git;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}\n\n{HELP}");
                return ExitCode::SUCCESS;
            }
            "--ops-path" => match args.next() {
                Some(path) => deps = Dependencies::Path(path),
                None => return usage_error("--ops-path needs a path"),
            },
            flag if flag.starts_with('-') => return usage_error(&format!("unknown option {flag}")),
            _ => positional.push(arg),
        }
    }
    let (name, dir) = match positional.as_slice() {
        [name] => (name.clone(), PathBuf::from(name)),
        [name, dir] => (name.clone(), PathBuf::from(dir)),
        _ => return usage_error("give the charm's name, and at most a directory"),
    };
    match write(&dir, &name, &deps) {
        Ok(files) => {
            for file in files {
                println!("{}", dir.join(file.path).display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ops-new: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(why: &str) -> ExitCode {
    eprintln!("ops-new: {why}\n{USAGE}");
    ExitCode::from(2)
}
