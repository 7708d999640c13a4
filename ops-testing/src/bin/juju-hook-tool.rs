//! Every Juju hook tool in one executable: it acts as the tool its name says
//! (`relation-get`, `is-leader`, ...) over the fake model in the JSON file
//! `$OPS_FAKE_JUJU_STATE`, as the unit `$JUJU_UNIT_NAME`. Install the names
//! with `ops_testing::fake_juju::install_hook_tools`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let tool = Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let argv: Vec<String> = args.collect();
    let status = ops_testing::fake_juju::cli::main_with(
        &tool,
        &argv,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}
