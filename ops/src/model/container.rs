//! Workload containers, reached through Pebble.

use std::ops::Deref;
use std::path::Path;

use crate::pebble::{Client, socket_path};

/// A workload container: its name and a Pebble client on its socket
/// (`<containers dir>/<name>/pebble.socket`). Every Pebble operation is
/// available on it directly (`container.push(...)`, `container.can_connect()`).
#[derive(Debug, Clone)]
pub struct Container {
    name: String,
    client: Client,
}

impl Container {
    pub(crate) fn new(name: &str, containers_dir: &Path) -> Self {
        Self {
            name: name.to_string(),
            client: Client::new(socket_path(containers_dir, name)),
        }
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Pebble client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Deref for Container {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}
