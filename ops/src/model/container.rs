//! Workload containers, reached through their Pebble.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Model, ModelError};
use crate::declared::ContainerName;
use crate::pebble::{
    Client, ExecOptions, ExecOutput, ExecProcess, PebbleError, Transport, socket_path,
};

/// A workload container the charm declares: its name and a Pebble client on
/// its socket (`<containers dir>/<name>/pebble.socket`).
///
/// Every [`Client`] method is available on the container itself
/// (`container.can_connect()`, `container.push(...)`, `container.exec(...)`);
/// nothing connects until the first call.
///
/// ```no_run
/// # fn demo(model: &ops::Model) -> Result<(), Box<dyn std::error::Error>> {
/// let workload = model.container("pgbouncer")?;
/// if workload.can_connect() {
///     workload.push("/etc/pgbouncer/pgbouncer.ini", "[pgbouncer]\n", &Default::default())?;
///     workload.restart_services(&["pgbouncer"])?;
///     // Run a command in the container and read what it wrote.
///     let version = workload.exec(&["pgbouncer", "--version"], &Default::default())?;
///     println!("{}", version.stdout_text());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Container {
    name: String,
    socket_path: PathBuf,
    client: Client,
    /// `JUJU_VERSION`, as Juju gave it: what the Pebble it ships supports.
    juju_version: String,
}

impl Container {
    fn new(
        name: &str,
        containers_dir: &Path,
        transport: Option<&Arc<dyn Transport>>,
        juju_version: &str,
    ) -> Self {
        let socket_path = socket_path(containers_dir, name);
        let client = match transport {
            Some(transport) => Client::with_transport(transport.clone()),
            None => Client::new(socket_path.clone()),
        };
        Self {
            name: name.to_string(),
            client,
            socket_path,
            juju_version: juju_version.to_string(),
        }
    }

    /// The container's name, as declared.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where its Pebble listens.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The Pebble client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a command in the container, as [`Client::exec`] does, but first
    /// refuses a service context ([`ExecOptions::with_service_context`]) on
    /// a Juju older than 3.1.6, whose Pebble would ignore it and run the
    /// command without the service's environment, user and directory.
    ///
    /// ```no_run
    /// # fn demo(model: &ops::Model) -> Result<(), Box<dyn std::error::Error>> {
    /// use ops::pebble::ExecOptions;
    /// let workload = model.container("pgbouncer")?;
    /// // As the pgbouncer service runs: its user, environment and directory.
    /// let options = ExecOptions::new().with_service_context("pgbouncer");
    /// let output = workload.exec(&["pgbouncer", "--version"], &options)?;
    /// println!("{}", output.stdout_text());
    /// # Ok(()) }
    /// ```
    pub fn exec<S: AsRef<str>>(
        &self,
        command: &[S],
        options: &ExecOptions,
    ) -> Result<ExecOutput, PebbleError> {
        self.check_exec_options(options)?;
        self.client.exec(command, options)
    }

    /// Starts a command in the container, its streams open, as
    /// [`Client::exec_process`] does, with the same refusal of a service
    /// context on a Juju older than 3.1.6 as [`exec`](Self::exec).
    ///
    /// ```no_run
    /// # fn demo(model: &ops::Model) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::io::{BufRead, BufReader};
    /// use ops::pebble::ExecOptions;
    /// let workload = model.container("pgbouncer")?;
    /// let options = ExecOptions::new().with_service_context("pgbouncer");
    /// let mut process = workload.exec_process(&["tail", "-n", "20", "/var/log/pgbouncer.log"], &options)?;
    /// for line in BufReader::new(process.stdout.take().unwrap()).lines() {
    ///     println!("{}", line?);
    /// }
    /// process.wait()?;
    /// # Ok(()) }
    /// ```
    pub fn exec_process<S: AsRef<str>>(
        &self,
        command: &[S],
        options: &ExecOptions,
    ) -> Result<ExecProcess, PebbleError> {
        self.check_exec_options(options)?;
        self.client.exec_process(command, options)
    }

    /// Refuses a service context on a Juju whose Pebble would ignore it.
    fn check_exec_options(&self, options: &ExecOptions) -> Result<(), PebbleError> {
        if options.service_context.is_none() {
            return Ok(());
        }
        let supported = self
            .juju_version
            .parse::<crate::JujuVersion>()
            .is_ok_and(|v| v.supports_exec_service_context());
        if supported {
            return Ok(());
        }
        Err(PebbleError::InvalidRequest {
            what: format!(
                "exec with a service context needs Juju 3.1.6 or later; \
                 this is Juju {:?}",
                self.juju_version
            ),
        })
    }
}

impl Deref for Container {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Model {
    /// A workload container (a generated
    /// [`DeclaredContainer`](crate::declared::DeclaredContainer) or a string);
    /// [`ModelError::UnknownContainer`] if the metadata does not declare it.
    pub fn container(&self, name: impl ContainerName) -> Result<Container, ModelError> {
        let name = name.container_name();
        if !self.meta.containers.contains_key(name) {
            return Err(ModelError::UnknownContainer {
                name: name.to_string(),
            });
        }
        Ok(self.declared_container(name))
    }

    /// Every workload container the metadata declares, by name (Python
    /// ops' `Unit.containers`). Making them asks nothing of Pebble; each
    /// says with [`can_connect`](Client::can_connect) whether it answers.
    ///
    /// ```no_run
    /// # fn demo(model: &ops::Model) {
    /// for (name, container) in model.containers() {
    ///     if !container.can_connect() {
    ///         tracing::info!(container = %name, "workload not up yet");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn containers(&self) -> BTreeMap<String, Container> {
        self.meta
            .containers
            .keys()
            .map(|name| (name.clone(), self.declared_container(name)))
            .collect()
    }

    /// The container `name`, which the metadata declares.
    fn declared_container(&self, name: &str) -> Container {
        Container::new(
            name,
            &self.containers_dir,
            self.pebble_transports.get(name),
            &self.juju_version,
        )
    }
}
