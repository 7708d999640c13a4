//! PgBouncer's files and services in the `pgbouncer` container.

use std::collections::BTreeMap;

use ops::model::Container;
use ops::pebble::{Layer, MakeDirOptions, PebbleError, PushOptions, Service};

use crate::auth::AuthFile;
use crate::pgb_config::{self, PgbConfig};

/// The workload container's name.
pub const CONTAINER: &str = "pgbouncer";
/// The Pebble layer's label.
pub const LAYER_LABEL: &str = "pgbouncer";
/// The user PgBouncer runs as and owns its files.
pub const WORKLOAD_USER: &str = "postgres";

/// Why the workload could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// Pebble refused or could not be reached.
    #[error("pebble in container {CONTAINER}: {0}")]
    Pebble(#[from] PebbleError),
    /// A file in the container is not what PgBouncer would accept.
    #[error("{path} in container {CONTAINER} is invalid: {reason}")]
    InvalidFile {
        /// The file.
        path: String,
        /// What is wrong (never the auth file's content).
        reason: String,
    },
}

/// The PgBouncer processes of one unit: `instances` of them, each with its own
/// per-instance config, sharing the main config and the auth file.
pub struct Workload<'a> {
    container: &'a Container,
    instances: usize,
}

impl<'a> Workload<'a> {
    /// The workload in `container`, with `instances` PgBouncer processes.
    pub fn new(container: &'a Container, instances: usize) -> Self {
        Self {
            container,
            instances,
        }
    }

    /// The Pebble service names, `pgbouncer_0` .. `pgbouncer_<n-1>`.
    pub fn service_names(&self) -> Vec<String> {
        (0..self.instances)
            .map(|n| format!("pgbouncer_{n}"))
            .collect()
    }

    fn read_text(&self, path: &str) -> Result<Option<String>, WorkloadError> {
        match self.container.pull(path) {
            Ok(bytes) => {
                String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|_| WorkloadError::InvalidFile {
                        path: path.to_string(),
                        reason: "not UTF-8".to_string(),
                    })
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `content` at `path` unless it is already there; true if written.
    fn write_if_changed(
        &self,
        path: &str,
        content: &str,
        mode: u32,
    ) -> Result<bool, WorkloadError> {
        if self.read_text(path)?.as_deref() == Some(content) {
            return Ok(false);
        }
        let options = PushOptions {
            permissions: Some(mode),
            user: Some(WORKLOAD_USER.to_string()),
            group: Some(WORKLOAD_USER.to_string()),
            make_dirs: true,
            ..Default::default()
        };
        self.container.push(path, content.as_bytes(), &options)?;
        Ok(true)
    }

    /// The main `pgbouncer.ini`, if there is one.
    pub fn read_config(&self) -> Result<Option<PgbConfig>, WorkloadError> {
        let Some(text) = self.read_text(pgb_config::INI_PATH)? else {
            return Ok(None);
        };
        let config = PgbConfig::parse(&text).map_err(|e| WorkloadError::InvalidFile {
            path: pgb_config::INI_PATH.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some(config))
    }

    /// The main config, when Pebble answers and the config has been rendered;
    /// `None` otherwise (callers defer until both hold).
    pub fn current_config(&self) -> Result<Option<PgbConfig>, WorkloadError> {
        if !self.container.can_connect() {
            return Ok(None);
        }
        self.read_config()
    }

    /// Writes the main config and every instance's config; true if any file changed.
    pub fn write_config(&self, config: &PgbConfig) -> Result<bool, WorkloadError> {
        let mut changed = self.write_if_changed(pgb_config::INI_PATH, &config.render(), 0o644)?;
        for n in 0..self.instances {
            let path = pgb_config::instance_ini_path(n);
            changed |= self.write_if_changed(&path, &config.render_instance(n), 0o644)?;
            // PgBouncer does not create its log directory, and will not start without it.
            let log_dir = MakeDirOptions {
                make_parents: true,
                user: Some(WORKLOAD_USER.to_string()),
                group: Some(WORKLOAD_USER.to_string()),
                ..Default::default()
            };
            self.container
                .make_dir(&pgb_config::instance_log_dir(n), &log_dir)?;
        }
        Ok(changed)
    }

    /// The auth file, if there is one.
    pub fn read_auth_file(&self) -> Result<Option<AuthFile>, WorkloadError> {
        let Some(text) = self.read_text(pgb_config::AUTH_FILE_PATH)? else {
            return Ok(None);
        };
        let auth = AuthFile::parse(&text).map_err(|e| WorkloadError::InvalidFile {
            path: pgb_config::AUTH_FILE_PATH.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some(auth))
    }

    /// Writes the auth file, readable by its owner only; true if it changed.
    pub fn write_auth_file(&self, auth: &AuthFile) -> Result<bool, WorkloadError> {
        self.write_if_changed(pgb_config::AUTH_FILE_PATH, &auth.render(), 0o400)
    }

    /// The Pebble layer: one service per instance.
    pub fn layer(&self) -> Layer {
        let services = (0..self.instances)
            .map(|n| {
                let service = Service {
                    override_: Some("replace".to_string()),
                    summary: Some(format!("pgbouncer instance {n}")),
                    command: Some(format!("pgbouncer {}", pgb_config::instance_ini_path(n))),
                    startup: Some("enabled".to_string()),
                    user: Some(WORKLOAD_USER.to_string()),
                    group: Some(WORKLOAD_USER.to_string()),
                    ..Default::default()
                };
                (format!("pgbouncer_{n}"), service)
            })
            .collect::<BTreeMap<_, _>>();
        Layer {
            summary: Some("pgbouncer layer".to_string()),
            services,
            ..Default::default()
        }
    }

    /// Makes Pebble run every instance: adds the layer, restarts the running
    /// instances if their files changed (PgBouncer reads them only at start),
    /// and starts the ones not running.
    pub fn apply(&self, files_changed: bool) -> Result<(), WorkloadError> {
        self.container.add_layer(LAYER_LABEL, &self.layer(), true)?;
        let names = self.service_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let running: Vec<String> = self
            .container
            .get_services(&names)?
            .into_iter()
            .filter(|s| s.is_running())
            .map(|s| s.name)
            .collect();
        if files_changed && !running.is_empty() {
            let running: Vec<&str> = running.iter().map(String::as_str).collect();
            self.container.restart_services(&running)?;
        }
        if running.len() < names.len() {
            self.container.replan_services()?;
        }
        Ok(())
    }
}
