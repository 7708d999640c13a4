//! What goes wrong when talking to Juju.

/// A hook tool failed, could not run, or answered something unexpected.
///
/// Juju's own failures keep the command, its arguments and what it printed on
/// stderr; the common ones a charm may handle get their own variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The executable could not be started (not on `PATH`, not executable).
    #[error("cannot run hook tool `{command}`: {source}")]
    Spawn {
        /// The hook tool, e.g. `relation-get`.
        command: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// The tool exited non-zero with an error this enum has no variant for.
    #[error("`{command} {}` failed with exit status {status}: {stderr}", args.join(" "))]
    ToolFailed {
        /// The hook tool.
        command: String,
        /// Its arguments (never secret values: those travel in files).
        args: Vec<String>,
        /// Its exit status (-1 when killed by a signal).
        status: i32,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },
    /// Juju does not know the relation (`relation not found`).
    #[error("relation {relation} not found (`{command}`: {stderr})")]
    RelationNotFound {
        /// The relation as passed to `-r`.
        relation: String,
        /// The hook tool.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Juju does not know the secret, or this unit may not see it.
    #[error("secret {secret} not found (`{command}`: {stderr})")]
    SecretNotFound {
        /// The secret id or label asked for.
        secret: String,
        /// The hook tool.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Juju refused: not the leader, or no access to that databag.
    #[error("permission denied by `{command} {}`: {stderr}", args.join(" "))]
    PermissionDenied {
        /// The hook tool.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The tool's output was not what its `--format=json` promises.
    #[error("`{command}` printed output that is not the expected JSON ({reason}): {output:?}")]
    MalformedOutput {
        /// The hook tool.
        command: String,
        /// What was wrong with it.
        reason: String,
        /// The output, cut to a few hundred characters.
        output: String,
    },
    /// A relation id that is not of the form `name:id`.
    #[error("malformed relation id {value:?}: expected `<endpoint>:<id>`")]
    MalformedRelationId {
        /// What was given.
        value: String,
    },
    /// A status name Juju does not have.
    #[error("unknown status {value:?}")]
    UnknownStatus {
        /// What was given.
        value: String,
    },
    /// A port that is not `<port>/<tcp|udp>` or `icmp`.
    #[error("malformed port {value:?}: expected `<port>/tcp`, `<port>/udp` or `icmp`")]
    MalformedPort {
        /// What was given.
        value: String,
    },
    /// The tool did not finish by its deadline and was killed.
    #[error("hook tool `{command}` did not finish within {seconds} s and was killed")]
    Timeout {
        /// The hook tool.
        command: String,
        /// The deadline.
        seconds: f64,
    },
    /// Writing a temporary file for a hook tool (secret content) failed.
    #[error("cannot prepare input for `{command}`: {source}")]
    Io {
        /// The hook tool.
        command: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
