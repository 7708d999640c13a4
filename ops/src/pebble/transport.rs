//! How a [`Client`](super::Client) reaches Pebble: one request, one
//! response. Production's transport is HTTP/1.1 over the container's unix
//! socket ([`UnixSocketTransport`]); a test kit can answer in process.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::PebbleError;
use super::http::{self, Response, TransportRequest};

/// The exchange under a [`Client`](super::Client): one request in, one
/// whole response out.
///
/// The client does everything else (JSON envelopes, multipart bodies,
/// waiting for changes, errors). `exec`'s WebSockets are the exception:
/// they are always opened on the unix socket [`socket`](Self::socket)
/// names, after [`prepare_upgrade`](Self::prepare_upgrade).
///
/// A transport that answers in process (no socket, no thread):
///
/// ```
/// use std::path::Path;
/// use std::sync::Arc;
/// use std::time::Duration;
/// use ops::pebble::{Client, PebbleError, Transport, TransportRequest, TransportResponse};
///
/// #[derive(Debug)]
/// struct AlwaysUp;
///
/// impl Transport for AlwaysUp {
///     fn round_trip(
///         &self,
///         request: &TransportRequest<'_>,
///         _timeout: Duration,
///     ) -> Result<TransportResponse, PebbleError> {
///         assert_eq!((request.method, request.path), ("GET", "/v1/system-info"));
///         let body = r#"{"type":"sync","status-code":200,"status":"OK",
///                       "result":{"version":"1.0","boot-id":"b"}}"#;
///         Ok(TransportResponse {
///             status: 200,
///             reason: "OK".into(),
///             headers: vec![("Content-Type".into(), "application/json".into())],
///             body: body.as_bytes().to_vec(),
///         })
///     }
///
///     fn socket(&self) -> &Path {
///         Path::new("/nowhere/pebble.socket")
///     }
/// }
///
/// let client = Client::with_transport(Arc::new(AlwaysUp));
/// assert_eq!(client.system_info()?.version, "1.0");
/// # Ok::<(), PebbleError>(())
/// ```
pub trait Transport: fmt::Debug + Send + Sync {
    /// Sends `request` and returns the whole response, whatever its status
    /// (the client turns 4xx and 5xx into errors). `timeout` bounds the
    /// whole exchange. Failing to reach Pebble is
    /// [`PebbleError::SocketMissing`] or [`PebbleError::Connection`].
    fn round_trip(
        &self,
        request: &TransportRequest<'_>,
        timeout: Duration,
    ) -> Result<Response, PebbleError>;

    /// The unix socket this Pebble is (or would be) reached on: named in
    /// errors, and where `exec` opens its WebSockets.
    fn socket(&self) -> &Path;

    /// Called before `exec` opens WebSockets on [`socket`](Self::socket): a
    /// transport that answers in process starts listening there. The
    /// default does nothing.
    fn prepare_upgrade(&self) -> Result<(), PebbleError> {
        Ok(())
    }
}

/// HTTP/1.1 over a unix socket, one connection per request: what
/// [`Client::new`](super::Client::new) and `ops::main` use.
#[derive(Debug, Clone)]
pub struct UnixSocketTransport {
    socket: PathBuf,
}

impl UnixSocketTransport {
    /// A transport to the Pebble listening on `socket`; nothing connects
    /// until the first request.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
        }
    }
}

impl Transport for UnixSocketTransport {
    fn round_trip(
        &self,
        request: &TransportRequest<'_>,
        timeout: Duration,
    ) -> Result<Response, PebbleError> {
        http::round_trip(&self.socket, timeout, request)
    }

    fn socket(&self) -> &Path {
        &self.socket
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::pebble::Client;

    /// Answers every request with one canned response, or fails, and
    /// records what it was asked.
    #[derive(Debug)]
    struct Canned {
        answer: Result<(u16, &'static str), ()>,
        seen: Mutex<Vec<String>>,
    }

    impl Canned {
        fn client(answer: Result<(u16, &'static str), ()>) -> (Client, Arc<Self>) {
            let canned = Arc::new(Self {
                answer,
                seen: Mutex::new(Vec::new()),
            });
            (Client::with_transport(canned.clone()), canned)
        }
    }

    impl Transport for Canned {
        fn round_trip(
            &self,
            request: &TransportRequest<'_>,
            _timeout: Duration,
        ) -> Result<Response, PebbleError> {
            self.seen.lock().unwrap().push(format!(
                "{} {} {:?}",
                request.method,
                request.target(),
                request.body.map(<[u8]>::len)
            ));
            let (status, body) = self.answer.map_err(|()| PebbleError::SocketMissing {
                socket: self.socket().to_path_buf(),
            })?;
            Ok(Response {
                status,
                reason: String::new(),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: body.as_bytes().to_vec(),
            })
        }

        fn socket(&self) -> &Path {
            Path::new("/test/pebble.socket")
        }
    }

    #[test]
    fn a_client_over_a_transport_sends_its_requests_there() {
        let (client, canned) = Canned::client(Ok((
            200,
            r#"{"type":"sync","status-code":200,"result":[{"name":"web","startup":"enabled","current":"active"}]}"#,
        )));
        assert_eq!(client.socket(), Path::new("/test/pebble.socket"));
        let services = client.get_services(&["web", "db"]).unwrap();
        assert!(services[0].is_running());
        client.get_services(&[]).unwrap();
        assert_eq!(
            *canned.seen.lock().unwrap(),
            [
                "GET /v1/services?names=web,db None",
                "GET /v1/services None"
            ]
        );
    }

    #[test]
    fn a_transports_error_answer_and_failure_are_the_clients_errors() {
        let (client, _) = Canned::client(Ok((
            404,
            r#"{"type":"error","status-code":404,"status":"Not Found","result":{"message":"no such plan"}}"#,
        )));
        match client.get_plan() {
            Err(PebbleError::Api {
                status_code: 404,
                message,
                ..
            }) => assert_eq!(message, "no such plan"),
            other => panic!("expected a 404 API error, got {other:?}"),
        }
        let (client, canned) = Canned::client(Err(()));
        assert!(!client.can_connect());
        assert!(matches!(
            client.push("/etc/x", "secret", &Default::default()),
            Err(PebbleError::SocketMissing { .. })
        ));
        let seen = canned.seen.lock().unwrap();
        assert_eq!(seen[0], "GET /v1/system-info None");
        assert!(seen[1].starts_with("POST /v1/files Some("), "{seen:?}");
    }

    #[test]
    fn target_joins_path_and_query() {
        let request = TransportRequest {
            method: "GET",
            path: "/v1/plan",
            query: "format=yaml",
            headers: &[],
            body: None,
        };
        assert_eq!(request.target(), "/v1/plan?format=yaml");
        let bare = TransportRequest {
            query: "",
            ..request
        };
        assert_eq!(bare.target(), "/v1/plan");
    }

    #[test]
    fn debug_shows_no_header_values_or_body() {
        let headers = [("Authorization", "Bearer hunter2".to_string())];
        let request = TransportRequest {
            method: "POST",
            path: "/v1/files",
            query: "",
            headers: &headers,
            body: Some(b"secret-content"),
        };
        let shown = format!("{request:?}");
        assert!(shown.contains("/v1/files") && shown.contains("Authorization"));
        assert!(!shown.contains("hunter2") && !shown.contains("secret-content"));
        assert_eq!(request.header("authorization"), Some("Bearer hunter2"));
    }
}
