//! One hook tool invocation being run (its parsed command line, the model
//! and hook it runs in) and what it gives back: shared by every tool's
//! implementation.

use ops::backend::RelationRef;

use super::flags::{self, Answer, Parsed};
use super::hook::{HookContext, HookError, HookErrorKind};
use super::{Bag, FakeJuju};

/// What a successful tool run prints.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub stdout: String,
    pub stderr: String,
}

/// A failed tool run: a usage error (exit status 2, as for flag and argument
/// errors) or a failure while running (exit status 1). The message is what
/// follows `ERROR `.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    Usage(String),
    Run(String),
}

impl From<HookError> for Fail {
    fn from(e: HookError) -> Self {
        if e.kind == HookErrorKind::Usage {
            Fail::Usage(e.message)
        } else {
            Fail::Run(e.message)
        }
    }
}

pub(crate) type Outcome = Result<Reply, Fail>;

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

pub(crate) fn check_empty(args: &[String]) -> Result<(), Fail> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(Fail::Usage(format!(
            "unrecognized args: {}",
            go_quote_list(args)
        )))
    }
}

/// One tool invocation being run.
pub(crate) struct Cmd<'a> {
    pub juju: &'a mut FakeJuju,
    pub ctx: &'a HookContext,
    pub stdin: &'a [u8],
    pub tool: &'a str,
    pub p: Parsed,
    pub format: &'static str,
    pub stderr: String,
}

impl Cmd<'_> {
    pub(crate) fn pos(&self, i: usize) -> Option<&str> {
        self.p.positional.get(i).map(String::as_str)
    }

    pub(crate) fn rest(&self, from: usize) -> &[String] {
        self.p.positional.get(from..).unwrap_or_default()
    }

    /// `-r`, or the hook's relation.
    pub(crate) fn relation(&self) -> Result<RelationRef, Fail> {
        match self.p.get("r") {
            Some(raw) => self
                .juju
                .resolve_relation(self.ctx, raw)
                .map_err(|e| Fail::Usage(format!("invalid value {raw:?} for option -r: {e}"))),
            None => self
                .ctx
                .relation
                .clone()
                .ok_or_else(|| Fail::Usage("no relation id specified".to_string())),
        }
    }

    /// Prints `answer` as `--format` says, to `-o <file>` if given.
    pub(crate) fn out(&mut self, answer: Answer) -> Outcome {
        let text = flags::render(&answer, self.format);
        match self.p.get("o") {
            Some(path) => {
                std::fs::write(path, text).map_err(|e| Fail::Run(format!("{path}: {e}")))?;
                Ok(self.reply(String::new()))
            }
            None => Ok(self.reply(text)),
        }
    }

    pub(crate) fn reply(&mut self, stdout: String) -> Reply {
        Reply {
            stdout,
            stderr: std::mem::take(&mut self.stderr),
        }
    }

    pub(crate) fn warn_deprecated_format(&mut self) {
        if self.p.get("format").is_some() {
            self.stderr.push_str(&format!(
                "--format flag deprecated for command {:?}",
                self.tool
            ));
        }
    }

    /// `--file <path>` (`-` for stdin): a YAML or JSON map of settings.
    pub(crate) fn settings_file(&self) -> Result<Bag, Fail> {
        let Some(path) = self.p.get("file") else {
            return Ok(Bag::new());
        };
        let bytes = if path == "-" {
            self.stdin.to_vec()
        } else {
            std::fs::read(path).map_err(|e| Fail::Run(format!("open {path}: {e}")))?
        };
        flags::settings_from_yaml(&bytes).map_err(Fail::Run)
    }
}
