//! Every fenced code block in `docs/*.md` is compiled, parsed or checked:
//!
//! - every block names its language; pseudo-code is `text`;
//! - a block whose first line is a file's path as a comment
//!   (`// examples/hello/src/lib.rs`, `# examples/hello/charmcraft.yaml`)
//!   is that file, exactly; with ` (excerpt)` after the path, its lines are
//!   a run of the file's lines. Such a block may be `rust,ignore`: the file
//!   itself is built and tested with its crate;
//! - any other `rust` block is a doctest: not `ignore`, on a page that
//!   `tests/lib.rs` includes with `include_str!`;
//! - `yaml` is parsed, and must be a scenario (`ops_testing::sim::Scenario`),
//!   a `charmcraft.yaml` (`ops::CharmMeta`), a Pebble layer
//!   (`ops::pebble::Layer`) or an excerpt of a file;
//! - `toml` must be a copy of a file (there is no TOML parser here);
//! - `json` is parsed;
//! - `sh`: every path of the checkout a command names exists (a `.charm`'s
//!   directory, for a charm to be packed), every `target/<profile>/<bin>`
//!   is a binary of the workspace, every `cargo -p <package>` a package of
//!   it, and every command is a file of the checkout, a shell builtin, or a
//!   program on `PATH` (or one of the few tools the docs name that a test
//!   host does not have: `juju`, `charmcraft`).
//!
//! Any other language is refused: add a rule here first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// One fenced block of a page.
#[derive(Debug)]
struct Block {
    page: String,
    line: usize,
    info: String,
    body: Vec<String>,
}

impl Block {
    fn at(&self) -> String {
        format!("{}:{}", self.page, self.line)
    }

    fn language(&self) -> &str {
        self.info
            .split([',', ' '])
            .next()
            .unwrap_or_default()
            .trim()
    }

    fn attributes(&self) -> Vec<&str> {
        self.info.split([',', ' ']).skip(1).map(str::trim).collect()
    }
}

/// The fenced blocks of a Markdown page (CommonMark fences: three or more
/// backticks or tildes; the closing fence is at least as long, with no info).
fn blocks(page: &str, text: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut open: Option<(char, usize, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let fence_len = fence_char.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        match &mut open {
            None if fence_len >= 3 => {
                let c = fence_char.unwrap_or('`');
                open = Some((
                    c,
                    fence_len,
                    Block {
                        page: page.to_string(),
                        line: i + 1,
                        info: trimmed[fence_len..].trim().to_string(),
                        body: Vec::new(),
                    },
                ));
            }
            None => {}
            Some((c, len, block)) => {
                let closes = fence_char == Some(*c)
                    && fence_len >= *len
                    && trimmed[fence_len..].trim().is_empty();
                if !closes {
                    block.body.push(line.to_string());
                } else if let Some((_, _, block)) = open.take() {
                    out.push(block);
                }
            }
        }
    }
    match open {
        Some((_, _, block)) => Err(format!("{}: the block is never closed", block.at())),
        None => Ok(out),
    }
}

/// The top-level directories of the checkout that docs name paths in.
const CHECKOUT_DIRS: &[&str] = &[
    "benches/",
    "charms/",
    "docs/",
    "examples/",
    "ops/",
    "ops-testing/",
    "scripts/",
    "tests/",
    ".ci/",
];

fn is_checkout_path(token: &str) -> bool {
    CHECKOUT_DIRS.iter().any(|d| token.starts_with(d))
}

/// `// path` or `# path`, optionally ` (excerpt)`: (path, excerpt).
fn mirror_marker(block: &Block) -> Option<(String, bool)> {
    let first = block.body.first()?.trim();
    let rest = first
        .strip_prefix("// ")
        .or_else(|| first.strip_prefix("# "))?;
    let (path, excerpt) = match rest.strip_suffix(" (excerpt)") {
        Some(path) => (path, true),
        None => (rest, false),
    };
    (is_checkout_path(path) && !path.contains(char::is_whitespace))
        .then(|| (path.to_string(), excerpt))
}

/// Checks a copy of a file (or an excerpt of one).
fn check_mirror(block: &Block, path: &str, excerpt: bool) -> Result<(), String> {
    let file = root().join(path);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("{}: names {path}, which cannot be read: {e}", block.at()))?;
    let copy = &block.body[1..];
    let lines: Vec<&str> = text.lines().collect();
    let same = if excerpt {
        !copy.is_empty()
            && lines
                .windows(copy.len())
                .any(|w| w.iter().zip(copy).all(|(a, b)| *a == b))
    } else {
        lines.len() == copy.len() && lines.iter().zip(copy).all(|(a, b)| *a == b)
    };
    if same {
        return Ok(());
    }
    let first_difference = if excerpt {
        "its lines are not a run of the file's lines".to_string()
    } else {
        match lines.iter().zip(copy).position(|(a, b)| *a != b) {
            Some(i) => format!("line {} of the file differs: {:?}", i + 1, lines[i]),
            None => format!(
                "the file has {} lines, the block {}",
                lines.len(),
                copy.len()
            ),
        }
    };
    Err(format!(
        "{}: the block is not {path}{}: {first_difference}",
        block.at(),
        if excerpt { " (excerpt)" } else { "" }
    ))
}

/// The pages `tests/lib.rs` hands to rustdoc.
fn doctest_pages() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(root().join("tests/lib.rs")).unwrap();
    lib.match_indices("include_str!(\"../docs/")
        .filter_map(|(at, found)| {
            let rest = &lib[at + found.len()..];
            rest.split('"').next().map(|name| format!("docs/{name}"))
        })
        .collect()
}

fn check_yaml(block: &Block, mirrored: Option<(String, bool)>) -> Result<(), String> {
    let text = block.body.join("\n");
    let value: serde_norway::Value =
        serde_norway::from_str(&text).map_err(|e| format!("{}: not YAML: {e}", block.at()))?;
    let has = |key: &str| value.get(key).is_some();
    if has("steps") {
        ops_testing::sim::Scenario::parse(&text, Path::new(&block.at()))
            .map(|_| ())
            .map_err(|e| format!("{}: not a scenario: {e}", block.at()))
    } else if has("name") && (has("type") || has("parts") || has("summary")) {
        ops::CharmMeta::from_charmcraft_yaml(&text)
            .map(|_| ())
            .map_err(|e| format!("{}: not a charmcraft.yaml: {e}", block.at()))
    } else if has("services") || has("checks") || has("log-targets") {
        ops::pebble::Layer::from_yaml(&text)
            .map(|_| ())
            .map_err(|e| format!("{}: not a Pebble layer: {e}", block.at()))
    } else if mirrored.is_some_and(|(_, excerpt)| excerpt) {
        Ok(()) // parsed above, and the same as the file
    } else {
        Err(format!(
            "{}: a YAML block must be a scenario, a charmcraft.yaml, a Pebble layer or an excerpt of a file",
            block.at()
        ))
    }
}

/// The workspace's packages and binaries, from their manifests and sources.
struct Workspace {
    packages: BTreeSet<String>,
    binaries: BTreeSet<String>,
}

fn workspace() -> Workspace {
    let root = root();
    let mut dirs = vec![
        root.join("ops"),
        root.join("ops-testing"),
        root.join("tests"),
    ];
    for group in ["charms", "examples"] {
        for entry in std::fs::read_dir(root.join(group)).unwrap().flatten() {
            dirs.push(entry.path());
        }
    }
    let mut packages = BTreeSet::new();
    let mut binaries = BTreeSet::new();
    for dir in dirs {
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let mut section = String::new();
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.to_string();
            } else if let Some(value) = line.strip_prefix("name = \"") {
                let name = value.trim_end_matches('"').to_string();
                match section.as_str() {
                    "[package]" => {
                        if dir.join("src/main.rs").exists() {
                            binaries.insert(name.clone());
                        }
                        packages.insert(name);
                    }
                    "[[bin]]" => {
                        binaries.insert(name);
                    }
                    _ => {}
                }
            }
        }
        if let Ok(bins) = std::fs::read_dir(dir.join("src/bin")) {
            for bin in bins.flatten() {
                let path = bin.path();
                if path.extension().is_some_and(|e| e == "rs") {
                    binaries.insert(path.file_stem().unwrap().to_string_lossy().into_owned());
                }
            }
        }
    }
    Workspace { packages, binaries }
}

const BUILTINS: &[&str] = &["cd", "export", "source", ".", "set", "echo", "true"];
/// Tools the docs name that a test host may not have.
const EXTERNAL_TOOLS: &[&str] = &["juju", "charmcraft"];

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The commands of a shell block: comments dropped, continuations joined,
/// split at `&&`, `||`, `;` and `|`.
fn commands(block: &Block) -> Vec<Vec<String>> {
    let mut joined = String::new();
    for line in &block.body {
        let line = match line.find(" #") {
            Some(at) => &line[..at],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        match line.trim_end().strip_suffix('\\') {
            Some(rest) => {
                joined.push_str(rest);
                joined.push(' ');
            }
            None => {
                joined.push_str(line);
                joined.push('\n');
            }
        }
    }
    joined
        .split(['\n', ';'])
        .flat_map(|l| l.split("&&"))
        .flat_map(|l| l.split("||"))
        .flat_map(|l| l.split('|'))
        .map(|c| {
            c.split_whitespace()
                .map(|t| t.trim_matches(['"', '\'']).to_string())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect()
}

fn check_shell(block: &Block, ws: &Workspace) -> Result<(), String> {
    let root = root();
    let mut problems = Vec::new();
    for command in commands(block) {
        // Leading VAR=value assignments are not the command.
        let words: Vec<&str> = command
            .iter()
            .map(String::as_str)
            .skip_while(|w| w.contains('=') && !w.starts_with('-'))
            .collect();
        let Some(program) = words.first() else {
            continue;
        };
        let local = program.trim_start_matches("./");
        let program_ok = BUILTINS.contains(program)
            || EXTERNAL_TOOLS.contains(program)
            || (local.contains('/')
                && (local.starts_with("target/") || root.join(local).is_file()))
            || on_path(program);
        if !program_ok {
            problems.push(format!(
                "command {program:?} is not a file, a builtin or on PATH"
            ));
        }
        for (i, word) in words.iter().enumerate() {
            let token = word.trim_start_matches("./").trim_end_matches('/');
            if let Some(rest) = token.strip_prefix("target/") {
                let bin = rest.rsplit('/').next().unwrap_or_default();
                if !ws.binaries.contains(bin) {
                    problems.push(format!("{token}: {bin:?} is not a binary of the workspace"));
                }
            } else if is_checkout_path(token) {
                let path = root.join(token);
                let exists = if token.ends_with(".charm") {
                    path.parent().is_some_and(Path::is_dir)
                } else {
                    path.exists()
                };
                if !exists {
                    problems.push(format!("{token} does not exist in the checkout"));
                }
            }
            if *program == "cargo" && matches!(*word, "-p" | "--package") {
                match words.get(i + 1) {
                    Some(package) if ws.packages.contains(*package) => {}
                    other => problems.push(format!(
                        "cargo {word} {}: not a package of the workspace",
                        other.unwrap_or(&"")
                    )),
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", block.at(), problems.join("; ")))
    }
}

/// Checks one block; the error says where it is and what is wrong.
fn check(block: &Block, doctests: &BTreeSet<String>, ws: &Workspace) -> Result<(), String> {
    let language = block.language();
    if language.is_empty() {
        return Err(format!(
            "{}: the block names no language (mark pseudo-code `text`)",
            block.at()
        ));
    }
    let mirrored = mirror_marker(block);
    if let Some((path, excerpt)) = &mirrored {
        check_mirror(block, path, *excerpt)?;
    }
    match language {
        "text" => Ok(()),
        "rust" => {
            if mirrored.is_some() {
                return Ok(());
            }
            if block.attributes().contains(&"ignore") {
                return Err(format!(
                    "{}: a `rust,ignore` block is neither compiled nor a copy of a file",
                    block.at()
                ));
            }
            if !doctests.contains(&block.page) {
                return Err(format!(
                    "{}: rustdoc does not compile this page: include it in tests/lib.rs",
                    block.at()
                ));
            }
            Ok(())
        }
        "yaml" => check_yaml(block, mirrored),
        "toml" if mirrored.is_some() => Ok(()),
        "toml" => Err(format!(
            "{}: a TOML block must be a copy of a file (start it with `# <path>`)",
            block.at()
        )),
        "json" => serde_json::from_str::<serde_json::Value>(&block.body.join("\n"))
            .map(|_| ())
            .map_err(|e| format!("{}: not JSON: {e}", block.at())),
        "sh" | "bash" | "shell" => check_shell(block, ws),
        other => Err(format!(
            "{}: no test covers `{other}` blocks: use text, rust, yaml, toml, json or sh",
            block.at()
        )),
    }
}

fn pages() -> Vec<(String, String)> {
    let mut pages: Vec<(String, String)> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| {
            let name = format!("docs/{}", p.file_name().unwrap().to_string_lossy());
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    pages.sort();
    pages
}

#[test]
fn every_block_in_docs_is_covered() {
    let doctests = doctest_pages();
    let ws = workspace();
    let mut checked = 0;
    let mut problems = Vec::new();
    for (page, text) in pages() {
        match blocks(&page, &text) {
            Ok(blocks) => {
                for block in blocks {
                    checked += 1;
                    if let Err(problem) = check(&block, &doctests, &ws) {
                        problems.push(problem);
                    }
                }
            }
            Err(problem) => problems.push(problem),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 10, "only {checked} blocks found in docs/");
}

#[test]
fn the_pages_rustdoc_compiles_exist() {
    let doctests = doctest_pages();
    assert!(!doctests.is_empty());
    for page in doctests {
        assert!(root().join(&page).is_file(), "tests/lib.rs includes {page}");
    }
}

#[test]
fn getting_started_is_the_hello_crate_file_by_file() {
    let text = std::fs::read_to_string(root().join("docs/getting-started.md")).unwrap();
    let copies: BTreeSet<String> = blocks("docs/getting-started.md", &text)
        .unwrap()
        .iter()
        .filter_map(mirror_marker)
        .filter(|(_, excerpt)| !excerpt)
        .map(|(path, _)| path)
        .collect();
    for file in [
        "examples/hello/Cargo.toml",
        "examples/hello/charmcraft.yaml",
        "examples/hello/src/lib.rs",
        "examples/hello/src/main.rs",
        "examples/hello/tests/harness.rs",
    ] {
        assert!(
            copies.contains(file),
            "the page does not give {file}: {copies:?}"
        );
    }
}

/// The checker itself: each rule refuses what it should.
mod rules {
    use super::*;

    fn one(page: &str, markdown: &str) -> Result<(), String> {
        let blocks = blocks(page, markdown)?;
        assert_eq!(blocks.len(), 1, "{blocks:?}");
        check(
            &blocks[0],
            &BTreeSet::from(["docs/doc.md".to_string()]),
            &workspace(),
        )
    }

    #[test]
    fn a_block_without_a_language_is_refused() {
        let err = one("docs/x.md", "text\n```\nflow -> chart\n```\n").unwrap_err();
        assert!(
            err.contains("docs/x.md:2") && err.contains("no language"),
            "{err}"
        );
        one("docs/x.md", "```text\nflow -> chart\n```\n").unwrap();
    }

    #[test]
    fn a_copy_must_be_the_file() {
        let main = std::fs::read_to_string(root().join("examples/hello/src/main.rs")).unwrap();
        one(
            "docs/x.md",
            &format!("```rust,ignore\n// examples/hello/src/main.rs\n{main}```\n"),
        )
        .unwrap();
        let changed = main.replace("Hello", "Goodbye");
        let err = one(
            "docs/x.md",
            &format!("```rust,ignore\n// examples/hello/src/main.rs\n{changed}```\n"),
        )
        .unwrap_err();
        assert!(err.contains("is not examples/hello/src/main.rs"), "{err}");
        let err = one(
            "docs/x.md",
            "```rust,ignore\n// examples/hello/src/main.rs (excerpt)\nfn elsewhere() {}\n```\n",
        )
        .unwrap_err();
        assert!(err.contains("not a run of the file's lines"), "{err}");
        one(
            "docs/x.md",
            "```rust,ignore\n// examples/hello/src/main.rs (excerpt)\nfn main() -> std::process::ExitCode {\n```\n",
        )
        .unwrap();
    }

    #[test]
    fn rust_must_be_a_doctest_or_a_copy() {
        let err = one("docs/x.md", "```rust,ignore\nfn f() {}\n```\n").unwrap_err();
        assert!(err.contains("neither compiled nor a copy"), "{err}");
        let err = one("docs/x.md", "```rust\nfn f() {}\n```\n").unwrap_err();
        assert!(err.contains("include it in tests/lib.rs"), "{err}");
        one("docs/doc.md", "```rust,no_run\nfn f() {}\n```\n").unwrap();
    }

    #[test]
    fn yaml_is_parsed_as_what_it_is() {
        one(
            "docs/x.md",
            "```yaml\ncharm: {dir: .}\nsteps:\n  - deploy: {units: 1}\n```\n",
        )
        .unwrap();
        let err = one(
            "docs/x.md",
            "```yaml\ncharm: {dir: .}\nsteps:\n  - deploy: {unit: 1}\n```\n",
        )
        .unwrap_err();
        assert!(err.contains("not a scenario"), "{err}");
        one("docs/x.md", "```yaml\nname: c\ntype: charm\n```\n").unwrap();
        let err = one(
            "docs/x.md",
            "```yaml\nname: c\ntype: charm\npeers: [oops]\n```\n",
        )
        .unwrap_err();
        assert!(err.contains("not a charmcraft.yaml"), "{err}");
        one(
            "docs/x.md",
            "```yaml\nservices:\n  web: {override: replace, command: run}\n```\n",
        )
        .unwrap();
        let err = one("docs/x.md", "```yaml\nsome: thing\n```\n").unwrap_err();
        assert!(err.contains("must be a scenario"), "{err}");
    }

    #[test]
    fn shell_paths_commands_and_packages_must_exist() {
        one(
            "docs/x.md",
            "```sh\nscripts/pack examples/hello   # leaves examples/hello/hello_amd64.charm\ncargo test -p hello\n```\n",
        )
        .unwrap();
        let err = one("docs/x.md", "```sh\nscripts/pack examples/nope\n```\n").unwrap_err();
        assert!(err.contains("examples/nope does not exist"), "{err}");
        let err = one("docs/x.md", "```sh\nscripts/unpack examples/hello\n```\n").unwrap_err();
        assert!(err.contains("scripts/unpack"), "{err}");
        let err = one("docs/x.md", "```sh\ncargo test -p no-such-crate\n```\n").unwrap_err();
        assert!(err.contains("not a package"), "{err}");
        let err = one(
            "docs/x.md",
            "```sh\ntarget/debug/no-such-bin --hooks\n```\n",
        )
        .unwrap_err();
        assert!(err.contains("not a binary"), "{err}");
        let err = one("docs/x.md", "```sh\nno-such-program-anywhere x\n```\n").unwrap_err();
        assert!(err.contains("not a file, a builtin or on PATH"), "{err}");
    }

    #[test]
    fn other_languages_are_refused_and_unclosed_blocks_too() {
        let err = one("docs/x.md", "```python\nprint(1)\n```\n").unwrap_err();
        assert!(err.contains("no test covers `python`"), "{err}");
        let err = blocks("docs/x.md", "```sh\nls\n").unwrap_err();
        assert!(err.contains("never closed"), "{err}");
    }
}
