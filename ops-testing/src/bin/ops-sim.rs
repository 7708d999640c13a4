//! `ops-sim`: run a compiled charm through a scenario, as Juju would.
//!
//! ```text
//! ops-sim SCENARIO.yaml [--charm-binary PATH] [--workdir DIR]
//!         [--format account|yaml|json|mermaid|markdown] [--hooks] [--containers-var]
//! ```
//! It exits 0 when every hook succeeded, 1 when a hook (or an action)
//! failed or the scenario could not run, 2 for a usage error; `--help`
//! prints the usage on stdout.
//!
//! By default it prints an account of the run: per step, the hooks each
//! unit ran (failures with their stderr's last lines), the databag keys each
//! hook changed (values shortened, secrets never shown), the services
//! started, restarted or signalled, and the statuses at the end.
//! `--format mermaid` prints the run as a Mermaid sequence diagram,
//! `--format markdown` a report with both. `--format yaml` or `json` prints
//! the final model in full (databags, statuses, each unit's container
//! files, service events and per-service starts, restarts and signals)
//! and, with `--hooks`, every hook run with its exit code and duration.
//!
//! Hooks find their Pebble at `/charm/containers/<name>/pebble.socket`, as
//! under Juju (a mount namespace per hook); `--containers-var` gives it
//! through `OPS_CONTAINERS_DIR` instead (ops-rs charms only), which is also
//! the fallback, with a warning, where namespaces are unavailable.

use std::path::PathBuf;
use std::process::ExitCode;

use ops_testing::sim::{
    ModelFormat, PebbleAccess, Scenario, Simulator, account, mermaid, model_text,
};

const FORMATS: [&str; 5] = ["account", "yaml", "json", "mermaid", "markdown"];

const USAGE: &str = "usage: ops-sim SCENARIO.yaml [--charm-binary PATH] [--workdir DIR] [--format account|yaml|json|mermaid|markdown] [--hooks] [--containers-var]";

/// What `--help` prints, on stdout.
const HELP: &str = "\
Runs a compiled charm through a scenario, as Juju would, and prints the run.

  --charm-binary PATH  run PATH as the charm's dispatch (default: the scenario's)
  --workdir DIR        keep the units' directories and model.json in DIR
  --format FORMAT      account (default), yaml, json, mermaid or markdown
  --hooks              with yaml or json: every hook run too
  --containers-var     give hooks their Pebble through OPS_CONTAINERS_DIR
  -h, --help           print this and exit

Secrets (passwords, Juju secrets' content, auth files) are never printed.
Exit status: 0 when every hook succeeded, 1 when a hook (or an action)
failed or the scenario could not run, 2 for a usage error.
";

struct Options {
    scenario: PathBuf,
    binary: Option<PathBuf>,
    workdir: Option<PathBuf>,
    format: String,
    hooks: bool,
    containers_var: bool,
}

/// The options, or `None` for `--help`.
fn parse_args() -> Result<Option<Options>, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        scenario: PathBuf::new(),
        binary: None,
        workdir: None,
        format: "account".to_string(),
        hooks: false,
        containers_var: false,
    };
    let mut scenario = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--charm-binary" => options.binary = Some(PathBuf::from(value("--charm-binary")?)),
            "--workdir" => options.workdir = Some(PathBuf::from(value("--workdir")?)),
            "--format" => options.format = value("--format")?,
            "--hooks" => options.hooks = true,
            "--containers-var" => options.containers_var = true,
            "-h" | "--help" => return Ok(None),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => scenario = Some(PathBuf::from(other)),
        }
    }
    options.scenario = scenario.ok_or("no scenario file given")?;
    if !FORMATS.contains(&options.format.as_str()) {
        return Err(format!(
            "--format must be one of {}, not {}",
            FORMATS.join(", "),
            options.format
        ));
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}\n\n{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ops-sim: {e}");
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let hook_tool = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name("juju-hook-tool"),
        Err(e) => {
            eprintln!("ops-sim: cannot find myself: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scenario = match Scenario::load(&options.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ops-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let temp;
    let workdir = match &options.workdir {
        Some(dir) => dir.clone(),
        None => match tempfile::tempdir() {
            Ok(dir) => {
                temp = dir;
                temp.path().to_path_buf()
            }
            Err(e) => {
                eprintln!("ops-sim: cannot make a work directory: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let base = options
        .scenario
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let run = Simulator::for_scenario(
        &scenario,
        &base,
        &workdir,
        &hook_tool,
        options.binary.as_deref(),
    )
    .and_then(|mut sim| {
        if options.containers_var {
            sim.set_pebble_access(PebbleAccess::ContainersDirVar)?;
        } else if let Some(why) = sim.pebble_fallback() {
            eprintln!("ops-sim: warning: {why}");
        }
        sim.run_steps(&scenario)
    });
    let report = match run {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ops-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = match options.format.as_str() {
        "account" => Ok(account::account(&scenario, &report)),
        "mermaid" => Ok(mermaid::sequence(&scenario, &report)),
        "markdown" => {
            let name = options
                .scenario
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(mermaid::markdown(
                &format!("ops-sim: {name} (model {})", report.model),
                &scenario,
                &report,
            ))
        }
        "json" => model_text(&scenario, &report, options.hooks, ModelFormat::Json),
        _ => model_text(&scenario, &report, options.hooks, ModelFormat::Yaml),
    };
    match text {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("ops-sim: {e}");
            return ExitCode::FAILURE;
        }
    }
    let failures: Vec<_> = report.hooks.iter().filter(|h| h.exit_code != 0).collect();
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    // The account and the report show each failure; the YAML and JSON
    // only with --hooks: name them here, secrets hidden.
    let redactor = account::Redactor::for_run(&scenario, &report);
    for failure in &failures {
        let last = account::stderr_tail(failure).last().copied().unwrap_or("");
        eprintln!(
            "ops-sim: {} {} (step {}) exited {}: {}",
            failure.unit,
            failure.hook,
            failure.step,
            failure.exit_code,
            redactor.scrub(last)
        );
    }
    eprintln!(
        "ops-sim: {} of {} hooks failed",
        failures.len(),
        report.hooks.len()
    );
    ExitCode::FAILURE
}
