//! `ops-sim`: run a compiled charm through a scenario, as Juju would.
//!
//! ```text
//! ops-sim SCENARIO.yaml [--charm-binary PATH] [--workdir DIR]
//!         [--format account|yaml|json|mermaid|markdown] [--hooks] [--containers-var]
//! ```
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

use ops_testing::sim::{PebbleAccess, Scenario, Simulator, account, mermaid};

const FORMATS: [&str; 5] = ["account", "yaml", "json", "mermaid", "markdown"];

const USAGE: &str = "usage: ops-sim SCENARIO.yaml [--charm-binary PATH] [--workdir DIR] [--format account|yaml|json|mermaid|markdown] [--hooks] [--containers-var]";

struct Options {
    scenario: PathBuf,
    binary: Option<PathBuf>,
    workdir: Option<PathBuf>,
    format: String,
    hooks: bool,
    containers_var: bool,
}

fn parse_args() -> Result<Options, String> {
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
            "-h" | "--help" => return Err(String::new()),
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
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ops-sim: {e}");
            }
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
    let mut report = match run {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ops-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let failures: Vec<_> = report
        .hooks
        .iter()
        .filter(|h| h.exit_code != 0)
        .cloned()
        .collect();
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
        format => {
            if !options.hooks {
                report.hooks.clear();
            }
            if format == "json" {
                serde_json::to_string_pretty(&report)
                    .map(|t| t + "\n")
                    .map_err(|e| e.to_string())
            } else {
                serde_yaml::to_string(&report).map_err(|e| e.to_string())
            }
        }
    };
    match text {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("ops-sim: cannot print the report: {e}");
            return ExitCode::FAILURE;
        }
    }
    // The account and the report show failures themselves.
    if ["yaml", "json"].contains(&options.format.as_str()) {
        for failure in &failures {
            eprintln!(
                "ops-sim: {} {} exited {}: {}",
                failure.unit,
                failure.hook,
                failure.exit_code,
                failure.stderr.as_deref().unwrap_or("")
            );
        }
    }
    ExitCode::SUCCESS
}
