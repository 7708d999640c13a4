//! Everything that can go wrong talking to Pebble.

use std::io;
use std::path::PathBuf;

/// Why a Pebble call failed.
///
/// The variants follow where the failure happened: reaching the socket
/// ([`SocketMissing`](Self::SocketMissing), [`Connection`](Self::Connection)),
/// moving bytes ([`Io`](Self::Io)), Pebble refusing the request
/// ([`Api`](Self::Api), [`Path`](Self::Path)), a change that ran and failed
/// ([`Change`](Self::Change)), or Pebble answering something this client
/// cannot understand ([`Malformed`](Self::Malformed)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PebbleError {
    /// There is no socket file: Pebble is not (yet) running, or the
    /// container restarted.
    #[error("cannot connect to Pebble: socket not found at {} (container restarted?)", socket.display())]
    SocketMissing {
        /// The socket path that was tried.
        socket: PathBuf,
    },
    /// The socket exists but connecting to it failed (for example refused).
    #[error("cannot connect to Pebble at {}: {source}", socket.display())]
    Connection {
        /// The socket path that was tried.
        socket: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Sending the request or reading the response failed midway (including
    /// a read or write timeout).
    #[error("I/O error talking to Pebble at {} ({what}): {source}", socket.display())]
    Io {
        /// The socket path.
        socket: PathBuf,
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Pebble answered with an error response
    /// (`{"type": "error", "status-code": ..., "result": {"message", "kind"}}`).
    #[error("Pebble API error {status_code} {status}: {message}{}", kind.as_deref().map(|k| format!(" (kind {k})")).unwrap_or_default())]
    Api {
        /// The HTTP status code (`status-code`), such as 400 or 404.
        status_code: u16,
        /// The HTTP status text (`status`), such as `Bad Request`.
        status: String,
        /// Pebble's `result.message`.
        message: String,
        /// Pebble's `result.kind`, such as `not-found`, if it gave one.
        kind: Option<String>,
    },
    /// A file operation failed for one path; Pebble reports these inside an
    /// otherwise successful response (`result[i].error`).
    #[error("Pebble file error on {path}: {kind} - {message}")]
    Path {
        /// The path in the container.
        path: String,
        /// `not-found`, `permission-denied` or `generic-file-error`.
        kind: String,
        /// Pebble's message, such as `stat /x: no such file or directory`.
        message: String,
    },
    /// A change (start, stop, restart, replan) finished with an error.
    #[error("Pebble change {id} failed: {err}")]
    Change {
        /// The change id.
        id: String,
        /// The change's `err` text, one line per failed task.
        err: String,
    },
    /// A change did not finish in time.
    #[error("timed out after {seconds:.1}s waiting for Pebble change {id}")]
    Timeout {
        /// The change id.
        id: String,
        /// How long this client waited.
        seconds: f64,
    },
    /// A command run by [`Client::exec`](super::Client::exec) exited with a
    /// code other than 0: the code and its output are in the [`ExecError`].
    #[error(transparent)]
    Exec(Box<ExecError>),
    /// Pebble's response is not what its API defines.
    #[error("malformed response from Pebble: {what}")]
    Malformed {
        /// What was wrong with it.
        what: String,
    },
    /// A local file or directory of `push_path`/`pull_path` could not be
    /// read or written.
    #[error("local path {}: {source}", path.display())]
    LocalPath {
        /// The local path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The request could not be built (for example a layer that cannot be
    /// rendered as YAML).
    #[error("invalid Pebble request: {what}")]
    InvalidRequest {
        /// What was wrong with it.
        what: String,
    },
}

impl PebbleError {
    /// Pebble's error kind (`not-found`, `permission-denied`,
    /// `generic-file-error`, ...), for [`Api`](Self::Api) and
    /// [`Path`](Self::Path) errors.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Self::Api { kind, .. } => kind.as_deref(),
            Self::Path { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// Whether Pebble said the thing asked for does not exist: a file that
    /// is not there (kind `not-found`) or an API 404.
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Api {
                status_code, kind, ..
            } => *status_code == 404 || kind.as_deref() == Some("not-found"),
            Self::Path { kind, .. } => kind == "not-found",
            _ => false,
        }
    }

    /// The exit code of a command that exited with a code other than 0
    /// ([`Exec`](Self::Exec)).
    pub fn exit_code(&self) -> Option<i64> {
        match self {
            Self::Exec(e) => Some(e.exit_code),
            _ => None,
        }
    }

    /// Whether Pebble could not be reached at all (no socket, refused).
    pub fn is_connection_error(&self) -> bool {
        matches!(self, Self::SocketMissing { .. } | Self::Connection { .. })
    }

    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        Self::Malformed { what: what.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_covers_api_404_and_path_errors() {
        let api = PebbleError::Api {
            status_code: 404,
            status: "Not Found".into(),
            message: "stat /x: no such file or directory".into(),
            kind: Some("not-found".into()),
        };
        assert!(api.is_not_found());
        assert_eq!(api.kind(), Some("not-found"));
        assert!(api.to_string().contains("(kind not-found)"), "{api}");
        let path = PebbleError::Path {
            path: "/x".into(),
            kind: "not-found".into(),
            message: "stat /x: no such file or directory".into(),
        };
        assert!(path.is_not_found());
        let denied = PebbleError::Path {
            path: "/x".into(),
            kind: "permission-denied".into(),
            message: "open /x: permission denied".into(),
        };
        assert!(!denied.is_not_found());
        let bad = PebbleError::Api {
            status_code: 400,
            status: "Bad Request".into(),
            message: "invalid action".into(),
            kind: None,
        };
        assert!(!bad.is_not_found());
        assert_eq!(bad.kind(), None);
    }

    #[test]
    fn connection_errors_name_the_socket() {
        let e = PebbleError::SocketMissing {
            socket: PathBuf::from("/charm/containers/app/pebble.socket"),
        };
        assert!(e.is_connection_error());
        assert!(
            e.to_string()
                .contains("/charm/containers/app/pebble.socket")
        );
    }
}

/// A command ran and exited with a code other than 0 (Python ops'
/// `ExecError`). It names the executable only, not its arguments, and its
/// `Debug` shows the output's lengths, not its content.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{command:?} returned exit code {exit_code}")]
pub struct ExecError {
    /// The executable (the command's first item).
    pub command: String,
    /// The exit code; -1 if Pebble gave none.
    pub exit_code: i64,
    /// What it wrote to stdout (with stderr, if combined).
    pub stdout: Vec<u8>,
    /// What it wrote to stderr; empty if combined into stdout.
    pub stderr: Vec<u8>,
}

impl std::fmt::Debug for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecError")
            .field("command", &self.command)
            .field("exit_code", &self.exit_code)
            .field("stdout_len", &self.stdout.len())
            .field("stderr_len", &self.stderr.len())
            .finish()
    }
}
