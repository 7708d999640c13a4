//! The fake Juju's tool table under `ops`' [`HookTools`]: the in-process
//! test faces (Harness, Context) run the charm's hook-tool calls through
//! the argv building and output parsing that run under Juju, answered by
//! the same command lines as the `juju-hook-tool` executable the simulator
//! puts on `PATH`, without a process.

use std::sync::{Arc, Mutex};

use ops::backend::{HookTools, ToolOutput, ToolRunner};

use super::cli::run_tool;
use super::restricted::refusal;
use super::{FakeJuju, HookContext};

/// The hook tools of one unit in one dispatch, run in process.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ops::backend::Backend;
/// use ops_testing::fake_juju::{FakeJuju, FakeTools, HookContext};
///
/// let juju = Arc::new(Mutex::new(FakeJuju::new("m")));
/// let meta = ops::CharmMeta::from_charmcraft_yaml("name: a\n").unwrap();
/// juju.lock().unwrap().deploy("a", &meta, 1);
/// let tools = FakeTools::in_dispatch(juju.clone(), HookContext::unit("a/0"), "hooks/install");
/// let backend = tools.clone().hook_tools();
/// backend.status_set(false, &ops::backend::StatusInfo::new(ops::backend::StatusName::Active, "up"))
///     .unwrap();
/// assert_eq!(tools.calls(), ["status-set"]);
/// // In a restricted hook, refused with Juju's words.
/// let metrics = FakeTools::in_dispatch(juju, HookContext::unit("a/0"), "hooks/collect-metrics");
/// assert!(metrics.hook_tools().is_leader().unwrap_err().to_string().contains("restricted context"));
/// ```
#[derive(Debug, Clone)]
pub struct FakeTools {
    juju: Arc<Mutex<FakeJuju>>,
    ctx: HookContext,
    /// The hook's name (empty in an action): decides the restricted tools.
    hook: String,
    calls: Arc<Mutex<Vec<String>>>,
}

impl FakeTools {
    /// The tools of `ctx.unit` in an ordinary hook (none refused but
    /// `add-metric`, which only `collect-metrics` takes).
    pub fn new(juju: Arc<Mutex<FakeJuju>>, ctx: HookContext) -> Self {
        Self::in_dispatch(juju, ctx, "")
    }

    /// The tools of `ctx.unit` in the dispatch of `dispatch_path`
    /// (`hooks/<hook>` or `actions/<action>`), refused in Juju's
    /// restricted hooks as `juju-hook-tool` refuses them.
    pub fn in_dispatch(juju: Arc<Mutex<FakeJuju>>, ctx: HookContext, dispatch_path: &str) -> Self {
        Self {
            juju,
            ctx,
            hook: dispatch_path
                .strip_prefix("hooks/")
                .unwrap_or_default()
                .to_string(),
            calls: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// `ops`' hook tools, running these.
    pub fn hook_tools(self) -> HookTools {
        HookTools::with_runner(Arc::new(self))
    }

    /// The tools called so far, by name, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many times `tool` was called.
    pub fn count(&self, tool: &str) -> usize {
        self.calls().iter().filter(|c| *c == tool).count()
    }
}

impl ToolRunner for FakeTools {
    fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> std::io::Result<ToolOutput> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tool.to_string());
        if let Some(message) = refusal(&self.hook, tool) {
            return Ok(ToolOutput {
                status: 1,
                stdout: Vec::new(),
                stderr: format!("ERROR {message}\n").into_bytes(),
            });
        }
        let mut juju = self.juju.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = run_tool(&mut juju, &self.ctx, tool, args, stdin.unwrap_or_default());
        Ok(ToolOutput {
            status: outcome.status,
            stdout: outcome.stdout.into_bytes(),
            stderr: outcome.stderr.into_bytes(),
        })
    }
}
