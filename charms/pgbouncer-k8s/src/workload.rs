//! PgBouncer's files and services in the `pgbouncer` container.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use ops::model::Container;
use ops::pebble::{
    ExecOptions, Layer, Override, PebbleError, PushOptions, Service, ServiceStartup,
};
use serde::{Deserialize, Serialize};

use crate::auth::AuthFile;
use crate::pgb_config::{self, PgbConfig};

/// The workload container's name ([`meta::containers::PGBOUNCER`](crate::meta::containers::PGBOUNCER)).
pub const CONTAINER: &str = crate::meta::containers::PGBOUNCER.name();
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

/// This unit's TLS files for clients, PEM each. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The private key.
    pub key: String,
    /// The certificate, then any intermediates.
    pub certificate: String,
    /// The CA (or the chain above the certificate).
    pub ca: String,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("key", &"<redacted>")
            .field("certificate", &self.certificate)
            .field("ca", &self.ca)
            .finish()
    }
}

/// The PgBouncer processes of one unit: `instances` of them, each with its own
/// per-instance config, sharing the main config and the auth file.
pub struct Workload<'a> {
    container: &'a Container,
    instances: usize,
    seen: SeenContainer,
}

/// What this dispatch already read from or did to the container, shared by
/// its handlers ([`Workload::new`]): each file read or written, by
/// path (`None`: no such file), so that a file is pulled from Pebble at
/// most once however many steps and handlers look at it (only the charm
/// writes these files, and it records what it writes); each layer put
/// in the plan, by label, so that the same layer is not added again; and
/// whether it made every instance run, so that the next handler and the
/// status do not ask Pebble again.
/// `Debug` shows paths and labels only (the auth file and the exporter's
/// layer hold secrets).
#[derive(Clone, Default)]
pub struct SeenContainer(Rc<RefCell<Seen>>);

#[derive(Default)]
struct Seen {
    files: BTreeMap<String, Option<String>>,
    layers: BTreeMap<String, Layer>,
    /// Every PgBouncer instance ran when this dispatch last made them run
    /// ([`Workload::apply`] succeeded: Pebble started the ones that were
    /// not running, and a restart or a reload leaves one running).
    all_running: bool,
}

impl SeenContainer {
    /// What this dispatch knows of the file at `path`: `None` if it has not
    /// read or written it, `Some(None)` if there is no such file.
    fn file(&self, path: &str) -> Option<Option<String>> {
        self.0.borrow().files.get(path).cloned()
    }

    /// Whether this dispatch has read or written the file at `path`.
    fn knows(&self, path: &str) -> bool {
        self.0.borrow().files.contains_key(path)
    }

    /// Records what the file at `path` now holds (`None`: it is gone).
    fn record_file(&self, path: &str, text: Option<String>) {
        self.0.borrow_mut().files.insert(path.to_string(), text);
    }

    /// Whether this dispatch made every instance run ([`Workload::apply`]).
    fn all_running(&self) -> bool {
        self.0.borrow().all_running
    }

    /// Records that every instance runs now (a successful [`Workload::apply`]).
    fn record_all_running(&self) {
        self.0.borrow_mut().all_running = true;
    }

    /// Whether this dispatch already put `layer` in the plan as `label`.
    pub fn has_layer(&self, label: &str, layer: &Layer) -> bool {
        self.0.borrow().layers.get(label) == Some(layer)
    }

    /// Records that this dispatch put `layer` in the plan as `label`.
    pub fn record_layer(&self, label: &str, layer: &Layer) {
        self.0
            .borrow_mut()
            .layers
            .insert(label.to_string(), layer.clone());
    }
}

impl std::fmt::Debug for SeenContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seen = self.0.borrow();
        f.debug_struct("SeenContainer")
            .field("files", &seen.files.keys().collect::<Vec<_>>())
            .field("layers", &seen.layers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A pulled file as the charm reads its files: its text, or `None` if
/// there is no such file.
fn as_text(
    path: &str,
    pulled: Result<Vec<u8>, PebbleError>,
) -> Result<Option<String>, WorkloadError> {
    match pulled {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| WorkloadError::InvalidFile {
                path: path.to_string(),
                reason: "not UTF-8".to_string(),
            }),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl<'a> Workload<'a> {
    /// The workload in `container`, with `instances` PgBouncer processes,
    /// knowing what `seen` knows of the container (and telling it what
    /// this one reads and writes): one dispatch's handlers share one.
    pub fn new(container: &'a Container, instances: usize, seen: SeenContainer) -> Self {
        Self {
            container,
            instances,
            seen,
        }
    }

    /// The Pebble service names, `pgbouncer_0` .. `pgbouncer_<n-1>`.
    pub fn service_names(&self) -> Vec<String> {
        (0..self.instances)
            .map(|n| format!("pgbouncer_{n}"))
            .collect()
    }

    /// The files the charm keeps in the container: the config, each
    /// instance's, the auth file and the TLS files.
    fn own_files(&self) -> Vec<String> {
        let mut paths: Vec<String> = [
            pgb_config::INI_PATH,
            pgb_config::AUTH_FILE_PATH,
            pgb_config::TLS_CERT_PATH,
            pgb_config::TLS_KEY_PATH,
            pgb_config::TLS_CA_PATH,
        ]
        .map(str::to_string)
        .into();
        paths.extend((0..self.instances).map(pgb_config::instance_ini_path));
        paths
    }

    /// The file at `path` (`None`: there is none), pulled at most once a
    /// dispatch. The first file a dispatch reads brings the charm's other
    /// files not yet seen with it, in the same request (Pebble reads
    /// several paths at once): most dispatches read several of them, and
    /// each request is a round trip to Pebble. Only `path`'s own error
    /// is returned; another file that could not be read, or is not UTF-8,
    /// is left to be pulled (and its error seen) when it is asked for.
    fn read_text(&self, path: &str) -> Result<Option<String>, WorkloadError> {
        if let Some(known) = self.seen.file(path) {
            return Ok(known);
        }
        let mut paths = vec![path.to_string()];
        paths.extend(
            self.own_files()
                .into_iter()
                .filter(|p| p != path && !self.seen.knows(p)),
        );
        let asked: Vec<&str> = paths.iter().map(String::as_str).collect();
        let results = self.container.pull_many(&asked)?;
        for (file, result) in paths.iter().zip(results) {
            match as_text(file, result) {
                Ok(text) => self.seen.record_file(file, text),
                // Only the asked file's problem is this read's; another's
                // is seen by the step that asks for that file.
                Err(e) if file == path => return Err(e),
                Err(_) => {}
            }
        }
        self.seen
            .file(path)
            .ok_or_else(|| WorkloadError::InvalidFile {
                path: path.to_string(),
                reason: "Pebble gave no result for it".to_string(),
            })
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
        self.push_text(path, content, mode)?;
        Ok(true)
    }

    fn push_text(&self, path: &str, content: &str, mode: u32) -> Result<(), WorkloadError> {
        let options = PushOptions::new()
            .with_permissions(mode)
            .with_user(WORKLOAD_USER.to_string())
            .with_group(WORKLOAD_USER.to_string())
            .with_make_dirs(true);
        self.container.push(path, content.as_bytes(), &options)?;
        self.seen.record_file(path, Some(content.to_string()));
        Ok(())
    }

    /// The main config's text as the workload has it, unparsed (`None`
    /// when there is none).
    pub fn config_text(&self) -> Result<Option<String>, WorkloadError> {
        self.read_text(pgb_config::INI_PATH)
    }

    /// The main `pgbouncer.ini`, if there is one.
    pub fn read_config(&self) -> Result<Option<PgbConfig>, WorkloadError> {
        self.config_as(PgbConfig::parse_cached)
    }

    /// The main `pgbouncer.ini`, if there is one, checked as a config
    /// PgBouncer can be given ([`PgbConfig::validate`]): one that reads but
    /// does not validate is an [`WorkloadError::InvalidFile`] too.
    pub fn read_valid_config(&self) -> Result<Option<PgbConfig>, WorkloadError> {
        self.config_as(PgbConfig::parse_valid_cached)
    }

    fn config_as(
        &self,
        parse: fn(&str) -> Result<PgbConfig, pgb_config::PgbConfigError>,
    ) -> Result<Option<PgbConfig>, WorkloadError> {
        let Some(text) = self.config_text()? else {
            return Ok(None);
        };
        let config = parse(&text).map_err(|e| WorkloadError::InvalidFile {
            path: pgb_config::INI_PATH.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some(config))
    }

    /// Writes the main config and every instance's config, if the config
    /// validates (nothing is written otherwise); says what PgBouncer must do
    /// to take the new files.
    ///
    /// A restart that is owed is recorded in the workload before any config
    /// changes: each instance's file carries [`RESTART_MARKER`] until that
    /// instance restarted ([`apply`](Self::apply)), and the instance files
    /// are written before the main one. So a hook killed, or a write that
    /// fails, half-way still ends in the restart: the next try finds the
    /// marker even though the main config is already the new one.
    pub fn write_config(&self, config: &PgbConfig) -> Result<Pending, WorkloadError> {
        let rendered = config
            .render_validated()
            .map_err(|e| WorkloadError::InvalidFile {
                path: pgb_config::INI_PATH.to_string(),
                reason: e.to_string(),
            })?;
        let previous = self.read_text(pgb_config::INI_PATH)?;
        let changed = previous.as_deref() != Some(rendered.as_str());
        let restart = changed
            && !matches!(
                previous.as_deref().map(PgbConfig::parse_cached),
                Some(Ok(old)) if !needs_restart(&old, config)
            );
        let mut pending = if changed {
            Pending::Reload
        } else {
            Pending::None
        };
        // Client TLS is this unit's: on while its certificate is in the
        // container ([`write_tls`](Self::write_tls)), in the instances'
        // files only (the main one is the leader's, shared as it is).
        let tls = self.read_text(pgb_config::TLS_CERT_PATH)?.is_some();
        for n in 0..self.instances {
            let path = pgb_config::instance_ini_path(n);
            let owed = restart || self.restart_owed(n)?;
            let mut text = if tls {
                config.with_client_tls().render_instance(n)
            } else {
                config.render_instance(n)
            };
            if owed {
                text.push_str(RESTART_MARKER);
                pending = Pending::Restart;
            }
            if self.write_if_changed(&path, &text, 0o644)? {
                pending = pending.max(Pending::Reload);
            }
        }
        if changed {
            self.push_text(pgb_config::INI_PATH, &rendered, 0o644)?;
        }
        Ok(pending)
    }

    /// Whether instance `n`'s file says it still owes a restart.
    fn restart_owed(&self, n: usize) -> Result<bool, WorkloadError> {
        Ok(self
            .read_text(&pgb_config::instance_ini_path(n))?
            .is_some_and(|text| text.ends_with(RESTART_MARKER)))
    }

    /// Takes the restart marker out of instance `n`'s file (it restarted,
    /// or started, on the file as it is).
    fn clear_restart_marker(&self, n: usize) -> Result<(), WorkloadError> {
        let path = pgb_config::instance_ini_path(n);
        if let Some(text) = self.read_text(&path)?
            && let Some(taken) = text.strip_suffix(RESTART_MARKER)
        {
            self.push_text(&path, taken, 0o644)?;
        }
        Ok(())
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

    /// Writes the auth file, readable by its owner only; a changed auth file
    /// is taken on reload.
    pub fn write_auth_file(&self, auth: &AuthFile) -> Result<Pending, WorkloadError> {
        let changed = self.write_if_changed(pgb_config::AUTH_FILE_PATH, &auth.render(), 0o400)?;
        Ok(if changed {
            Pending::Reload
        } else {
            Pending::None
        })
    }

    /// Writes this unit's TLS key, certificate and CA for clients, each
    /// readable by PgBouncer's user only; PgBouncer takes new ones on
    /// reload. The key is written before the certificate, which turns TLS
    /// on ([`write_config`](Self::write_config)).
    pub fn write_tls(&self, files: &TlsFiles) -> Result<Pending, WorkloadError> {
        let mut changed = self.write_if_changed(pgb_config::TLS_KEY_PATH, &files.key, 0o600)?;
        changed |= self.write_if_changed(pgb_config::TLS_CA_PATH, &files.ca, 0o600)?;
        changed |= self.write_if_changed(pgb_config::TLS_CERT_PATH, &files.certificate, 0o600)?;
        Ok(if changed {
            Pending::Reload
        } else {
            Pending::None
        })
    }

    /// Removes this unit's TLS files (the certificate first: TLS is off
    /// from then on); a reload is owed if there were any.
    pub fn remove_tls(&self) -> Result<Pending, WorkloadError> {
        let mut removed = false;
        for path in [
            pgb_config::TLS_CERT_PATH,
            pgb_config::TLS_KEY_PATH,
            pgb_config::TLS_CA_PATH,
        ] {
            if self.read_text(path)?.is_none() {
                continue;
            }
            match self.container.remove_path(path, false) {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
            self.seen.record_file(path, None);
            removed = true;
        }
        Ok(if removed {
            Pending::Reload
        } else {
            Pending::None
        })
    }

    /// The Pebble layer: one service per instance.
    pub fn layer(&self) -> Layer {
        let services = (0..self.instances)
            .map(|n| {
                let service = Service {
                    override_: Some(Override::Replace),
                    summary: Some(format!("pgbouncer instance {n}")),
                    command: Some(format!("pgbouncer {}", pgb_config::instance_ini_path(n))),
                    startup: Some(ServiceStartup::Enabled),
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

    /// Makes Pebble run every instance and take the files written: adds the
    /// layer, then, for the instances already running, sends `SIGHUP` when a
    /// reload is pending (PgBouncer re-reads its files and keeps its clients)
    /// or restarts them one at a time when a restart is (the others keep
    /// serving on the shared port, `so_reuseport`); starts the ones not running.
    ///
    /// The layer is added only when the plan may lack it: Pebble keeps a
    /// plan until its container restarts, which empties it, so a layer
    /// this unit put there (`planned`: its digest, kept in unit state) whose
    /// services Pebble still lists is there as it was.
    pub fn apply(
        &self,
        pending: Pending,
        planned: &mut Option<String>,
    ) -> Result<(), WorkloadError> {
        let layer = self.layer();
        let names = self.service_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        // A second handler of the dispatch need not ask what the first
        // made so.
        let listed = if self.seen.all_running() {
            None
        } else {
            Some(self.container.get_services(&names)?)
        };
        if !self.seen.has_layer(LAYER_LABEL, &layer) {
            let digest = layer_digest(&layer);
            let in_plan = listed.as_ref().is_some_and(|listed| {
                names
                    .iter()
                    .all(|name| listed.iter().any(|s| s.name == *name))
            });
            if !in_plan || digest.is_none() || *planned != digest {
                self.container.add_layer(LAYER_LABEL, &layer, true)?;
                *planned = digest;
            }
            self.seen.record_layer(LAYER_LABEL, &layer);
        }
        // Adding a layer starts and stops nothing: what Pebble listed
        // before it still holds.
        let running: Vec<String> = match listed {
            None => names.iter().map(ToString::to_string).collect(),
            Some(listed) => listed
                .into_iter()
                .filter(|s| s.is_running())
                .map(|s| s.name)
                .collect(),
        };
        let running: Vec<&str> = running.iter().map(String::as_str).collect();
        // What each instance owes: a restart recorded in its file counts
        // even when this hook wrote nothing (an earlier one died half-way).
        let mut owed = Vec::with_capacity(self.instances);
        for n in 0..self.instances {
            owed.push(pending == Pending::Restart || self.restart_owed(n)?);
        }
        if pending == Pending::Reload {
            let reload: Vec<&str> = running
                .iter()
                .copied()
                .filter(|name| !owed.get(instance_of(name)).copied().unwrap_or(false))
                .collect();
            if !reload.is_empty() {
                self.container.send_signal("SIGHUP", &reload)?;
            }
        }
        for name in &running {
            let n = instance_of(name);
            if owed.get(n).copied().unwrap_or(false) {
                self.container.restart_services(&[name])?;
                self.clear_restart_marker(n)?;
            }
        }
        if running.len() < names.len() {
            self.container.replan_services()?;
            for (n, name) in names.iter().enumerate() {
                if owed[n] && !running.contains(name) {
                    self.clear_restart_marker(n)?;
                }
            }
        }
        self.seen.record_all_running();
        Ok(())
    }

    /// The instances in Pebble's plan that are not running (none before the
    /// layer was added: nothing was meant to run yet; none once this
    /// dispatch made them all run).
    pub fn stopped_services(&self) -> Result<Vec<String>, WorkloadError> {
        if self.seen.all_running() {
            return Ok(Vec::new());
        }
        let names = self.service_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(self
            .container
            .get_services(&names)?
            .into_iter()
            .filter(|s| !s.is_running())
            .map(|s| s.name)
            .collect())
    }

    /// The workload's PgBouncer version (`pgbouncer --version`: its first
    /// line is `PgBouncer 1.21.0`), bare.
    pub fn version(&self) -> Result<String, WorkloadError> {
        let options = ExecOptions::new().with_timeout(std::time::Duration::from_secs(10));
        let output = self
            .container
            .client()
            .exec(&["pgbouncer", "--version"], &options)?;
        parse_version(&output.stdout_text()).ok_or_else(|| WorkloadError::InvalidFile {
            path: "pgbouncer --version".to_string(),
            reason: "no version in its output".to_string(),
        })
    }

    /// How many PgBouncer processes this unit runs.
    pub fn instances(&self) -> usize {
        self.instances
    }
}

/// A digest of `layer`: what unit state keeps of the layer put in the plan
/// (the layer holds no secret). Taken over its JSON, as ops sends it to
/// Pebble (block YAML costs ten times as much to write). `None` for a
/// layer that cannot be written: it is always sent, and `add_layer`
/// reports what is wrong.
fn layer_digest(layer: &Layer) -> Option<String> {
    let json = serde_json::to_vec(layer).ok()?;
    Some(crate::auth::md5_hex(&[&json]))
}

/// The version in `pgbouncer --version`'s output (`PgBouncer 1.21.0`).
///
/// ```
/// use pgbouncer_k8s::workload::parse_version;
/// assert_eq!(parse_version("PgBouncer 1.21.0\nlibevent 2.1.12-stable\n").as_deref(), Some("1.21.0"));
/// assert_eq!(parse_version("bash: pgbouncer: not found"), None);
/// ```
pub fn parse_version(output: &str) -> Option<String> {
    let version = output.lines().next()?.strip_prefix("PgBouncer ")?.trim();
    let ok = !version.is_empty()
        && version.len() <= 32
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    ok.then(|| version.to_string())
}

/// The last line of an instance's config while that instance owes a
/// restart (a PgBouncer comment: PgBouncer ignores it).
pub const RESTART_MARKER: &str = "; ops-rs: restart pending\n";

/// The instance number of service `pgbouncer_<n>`.
fn instance_of(service: &str) -> usize {
    service
        .rsplit('_')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// What PgBouncer must do to take files that were written: nothing, re-read
/// them (`SIGHUP`), or restart. Ordered: a restart also takes a reload's changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pending {
    /// The running instances have the files as they are.
    #[default]
    None,
    /// Re-read the config and auth file.
    Reload,
    /// Restart (a setting PgBouncer reads only at start changed).
    Restart,
}

/// `[pgbouncer]` settings PgBouncer takes only when it starts; any other
/// change (pools, `[databases]`, auth) it takes on `SIGHUP`.
pub const RESTART_SETTINGS: &[&str] = &[
    "listen_addr",
    "listen_port",
    "unix_socket_dir",
    "unix_socket_mode",
    "unix_socket_group",
    "user",
    "so_reuseport",
    "pidfile",
    "peer_id",
];

/// Whether going from `old` to `new` needs a restart rather than a reload.
pub fn needs_restart(old: &PgbConfig, new: &PgbConfig) -> bool {
    RESTART_SETTINGS
        .iter()
        .any(|key| old.get(pgb_config::PGBOUNCER, key) != new.get(pgb_config::PGBOUNCER, key))
}
