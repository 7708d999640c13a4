//! The fake Pebble answering in process: an `ops::pebble::Transport` that
//! hands each request straight to the request handler (`api::handle`), as
//! the socket server does after decoding the bytes, and hands the reply
//! back without encoding it.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ops::pebble::{PebbleError, Transport, TransportRequest, TransportResponse};

use super::http::{self, HttpRequest};
use super::{Shared, api, listen};

/// A client's way in to one fake Pebble, without a socket.
#[derive(Debug)]
pub(crate) struct InProcess {
    shared: Weak<Shared>,
    socket: PathBuf,
}

impl InProcess {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        Self {
            shared: Arc::downgrade(shared),
            socket: shared.socket.clone(),
        }
    }

    /// The fake, if it is still there and answering: otherwise what a
    /// client of a removed socket gets.
    fn online(&self) -> Result<Arc<Shared>, PebbleError> {
        self.shared
            .upgrade()
            .filter(|shared| shared.online.load(Ordering::SeqCst))
            .ok_or_else(|| PebbleError::SocketMissing {
                socket: self.socket.clone(),
            })
    }
}

/// The request as the socket server would have decoded it.
fn decode(request: &TransportRequest<'_>) -> HttpRequest {
    HttpRequest {
        method: request.method.to_string(),
        path: http::percent_decode(request.path, false),
        query: http::parse_query(request.query),
        headers: request
            .headers
            .iter()
            .map(|(name, value)| ((*name).to_string(), value.clone()))
            .collect(),
        body: request.body.map(<[u8]>::to_vec).unwrap_or_default(),
        close: true,
    }
}

impl Transport for InProcess {
    /// Answers on the calling thread. `timeout` is not needed: the handler
    /// only waits where Pebble does (a change's or a notice's wait, bounded
    /// by the request's own `timeout` parameter).
    fn round_trip(
        &self,
        request: &TransportRequest<'_>,
        _timeout: Duration,
    ) -> Result<TransportResponse, PebbleError> {
        let shared = self.online()?;
        let request = decode(request);
        if super::exec::websocket_route(&request).is_some() {
            // A WebSocket needs the socket: `prepare_upgrade` serves it.
            return Ok(reply(http::Reply::bad_request(
                "WebSockets are served on the socket only",
            )));
        }
        shared
            .lock()
            .requests
            .push(format!("{} {}", request.method, request.path));
        let answer = api::handle(&shared, &request);
        shared.changed.notify();
        Ok(reply(answer))
    }

    fn socket(&self) -> &Path {
        &self.socket
    }

    /// Starts serving the socket (for exec's WebSockets) if it is not yet.
    fn prepare_upgrade(&self) -> Result<(), PebbleError> {
        let shared = self.online()?;
        let mut listener = shared.lock_listener();
        if listener.is_none() {
            *listener = Some(listen(&shared).map_err(|source| PebbleError::Connection {
                socket: self.socket.clone(),
                source,
            })?);
        }
        Ok(())
    }
}

fn reply(answer: http::Reply) -> TransportResponse {
    TransportResponse {
        status: answer.status,
        reason: http::status_text(answer.status).to_string(),
        headers: vec![
            ("Content-Type".to_string(), answer.content_type),
            ("Content-Length".to_string(), answer.body.len().to_string()),
        ],
        body: answer.body,
    }
}
