//! The Pebble client: one method per API call.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::error::PebbleError;
use super::files::{
    FileInfo, FileResult, FileType, MakeDirOptions, PushOptions, check_file_results, encode_write,
    header_params, new_boundary, owner_fields, parse_multipart,
};
use super::http::{Request, Response, encode_query};
use super::layer::{Layer, Plan};
use super::layer_values::CheckLevel;
use super::transport::{Transport, UnixSocketTransport};
use super::types::{
    Change, ChangeState, CheckInfo, Identity, NoticeQuery, NoticeType, NoticeUsers, PebbleNotice,
    ServiceInfo, SystemInfo, Warning, WarningState,
};

/// Where Juju mounts the workload containers' Pebble sockets in the charm container.
pub const DEFAULT_CONTAINERS_DIR: &str = "/charm/containers";

/// The socket of `container`'s Pebble: `<containers_dir>/<container>/pebble.socket`.
pub fn socket_path(containers_dir: impl AsRef<Path>, container: &str) -> PathBuf {
    containers_dir
        .as_ref()
        .join(container)
        .join("pebble.socket")
}

/// How long one socket read or write may block, by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long service operations wait for their change, by default.
const DEFAULT_CHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// A synchronous Pebble client: HTTP/1.1 over the unix socket, one
/// connection per call ([`Client::new`]), or over any other
/// [`Transport`] ([`Client::with_transport`]: a test kit's in-process
/// Pebble).
///
/// Service operations (start, stop, restart, replan) wait until Pebble's
/// change is done, and fail with [`PebbleError::Change`] if it failed.
///
/// ```no_run
/// use ops::pebble::{Client, Layer, Override, PushOptions, Service, ServiceStartup};
/// use ops::pebble::{socket_path, DEFAULT_CONTAINERS_DIR};
///
/// let client = Client::new(socket_path(DEFAULT_CONTAINERS_DIR, "web"));
/// if !client.can_connect() {
///     return Ok(()); // Pebble is not up yet: wait for pebble-ready
/// }
/// client.push(
///     "/etc/web/config.ini",
///     "port = 8080\n",
///     &PushOptions::new().with_make_dirs(true).with_permissions(0o640),
/// )?;
/// let mut layer = Layer::default();
/// layer.services.insert(
///     "web".to_string(),
///     Service {
///         override_: Some(Override::Replace),
///         command: Some("/usr/bin/web --config /etc/web/config.ini".to_string()),
///         startup: Some(ServiceStartup::Enabled),
///         ..Default::default()
///     },
/// );
/// client.add_layer("web", &layer, true)?;
/// client.replan_services()?;
/// assert!(client.get_services(&["web"])?[0].is_running());
/// # Ok::<(), ops::pebble::PebbleError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    pub(super) transport: Arc<dyn Transport>,
    timeout: Duration,
    change_timeout: Duration,
}

/// Pebble's response envelope, its result left as JSON text (borrowed from
/// the body) to be read straight into the type the call expects.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    change: Option<String>,
}

impl Envelope<'_> {
    /// The result as `T` (a missing result reads as `null`).
    fn result<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.result.map_or("null", RawValue::get))
    }
}

impl Client {
    /// A client for the Pebble listening on `socket` (see [`socket_path`]).
    /// Nothing is connected until the first call.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self::with_transport(Arc::new(UnixSocketTransport::new(socket)))
    }

    /// A client whose requests go through `transport` instead of a unix
    /// socket of its own (see [`Transport`] for an example). `exec` still
    /// opens its WebSockets on the transport's
    /// [`socket`](Transport::socket).
    pub fn with_transport(transport: Arc<dyn Transport>) -> Self {
        Self {
            transport,
            timeout: DEFAULT_TIMEOUT,
            change_timeout: DEFAULT_CHANGE_TIMEOUT,
        }
    }

    /// Sets how long one request may take, connecting, sending and reading
    /// the whole response included (default 5 s): an overall deadline, not a
    /// per-read timeout, so a Pebble that trickles bytes cannot hang a hook.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(2));
        self
    }

    /// Sets how long service operations wait for their change (default 30 s).
    pub fn with_change_timeout(mut self, timeout: Duration) -> Self {
        self.change_timeout = timeout;
        self
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        self.transport.socket()
    }

    /// `GET /v1/system-info`.
    pub fn system_info(&self) -> Result<SystemInfo, PebbleError> {
        self.sync(Request::get("/v1/system-info".into()))
    }

    /// Whether Pebble answers right now (a `system_info` call succeeds).
    pub fn can_connect(&self) -> bool {
        match self.system_info() {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!("Pebble at {} is not ready: {e}", self.socket().display());
                false
            }
        }
    }

    /// Adds a layer labelled `label` on top of the plan. With `combine`, a
    /// layer with that label already there is combined with this one
    /// (each service's `override` decides how); without it, an existing
    /// label is an error.
    pub fn add_layer(&self, label: &str, layer: &Layer, combine: bool) -> Result<(), PebbleError> {
        // Pebble reads the layer as YAML (yaml.v3), of which JSON is a
        // subset, and JSON is far cheaper to write than block YAML; a charm
        // adds its layers at most hooks.
        let yaml =
            crate::yaml::json_readable_as_yaml(layer).map_err(|e| PebbleError::InvalidRequest {
                what: format!("layer {label:?} cannot be rendered: {e}"),
            })?;
        let body = json!({
            "action": "add",
            "combine": combine,
            "label": label,
            "format": "yaml",
            "layer": yaml,
        });
        let _: Value = self.sync(Request::post_json("/v1/layers".into(), &body))?;
        Ok(())
    }

    /// The combined plan (`GET /v1/plan?format=yaml`).
    pub fn get_plan(&self) -> Result<Plan, PebbleError> {
        let yaml: String = self.sync(Request::get("/v1/plan?format=yaml".into()))?;
        Plan::from_yaml(&yaml)
            .map_err(|e| PebbleError::malformed(format!("the plan is not valid YAML: {e}")))
    }

    /// The status of the named services, or of all services if `names` is
    /// empty. Names not in the plan are left out.
    pub fn get_services(&self, names: &[&str]) -> Result<Vec<ServiceInfo>, PebbleError> {
        let target = if names.is_empty() {
            "/v1/services".to_string()
        } else {
            format!(
                "/v1/services?{}",
                encode_query(&[("names", &names.join(","))])
            )
        };
        let infos: Option<Vec<ServiceInfo>> = self.sync(Request::get(target))?;
        Ok(infos.unwrap_or_default())
    }

    /// Starts the services (and what they require) and waits for the change.
    pub fn start_services(&self, names: &[&str]) -> Result<Change, PebbleError> {
        self.services_action("start", names)
    }

    /// Stops the services (and what requires them) and waits for the change.
    pub fn stop_services(&self, names: &[&str]) -> Result<Change, PebbleError> {
        self.services_action("stop", names)
    }

    /// Restarts the services (starting those not running) and waits.
    pub fn restart_services(&self, names: &[&str]) -> Result<Change, PebbleError> {
        self.services_action("restart", names)
    }

    /// Replans: restarts services whose configuration changed and starts
    /// `startup: enabled` ones; waits for the change.
    pub fn replan_services(&self) -> Result<Change, PebbleError> {
        self.services_action("replan", &[])
    }

    /// Starts the `startup: enabled` services and waits for the change.
    pub fn autostart_services(&self) -> Result<Change, PebbleError> {
        self.services_action("autostart", &[])
    }

    fn services_action(&self, action: &str, names: &[&str]) -> Result<Change, PebbleError> {
        let body = json!({"action": action, "services": names});
        let id = self.async_change(Request::post_json("/v1/services".into(), &body))?;
        let change = self.wait_change(&id, self.change_timeout)?;
        change_failed(&id, &change)?;
        Ok(change)
    }

    /// The changes in state `select`, only those acting on `service` if
    /// given (`GET /v1/changes?select=...&for=...`; Python's `get_changes`).
    /// Pebble lists the changes it still remembers, oldest first.
    ///
    /// ```no_run
    /// use ops::pebble::ChangeState;
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), ops::pebble::PebbleError> {
    /// client.start_services(&["web"])?;
    /// let done = client.get_changes(ChangeState::Ready, Some("web"))?;
    /// assert_eq!(done[0].kind, "start");
    /// assert!(client.get_changes(ChangeState::InProgress, None)?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn get_changes(
        &self,
        select: ChangeState,
        service: Option<&str>,
    ) -> Result<Vec<Change>, PebbleError> {
        let mut query = vec![("select", select.as_str())];
        if let Some(service) = service {
            query.push(("for", service));
        }
        let target = format!("/v1/changes?{}", encode_query(&query));
        let changes: Option<Vec<Change>> = self.sync(Request::get(target))?;
        Ok(changes.unwrap_or_default())
    }

    /// Aborts a change that is not ready yet (`POST /v1/changes/<id>`,
    /// action `abort`; Python's `abort_change`) and returns it as Pebble
    /// saw it then: tasks that were running show `Abort`, waiting ones
    /// `Hold`. Pebble refuses (400) a change that is already ready, and
    /// answers 404 for an unknown id.
    ///
    /// ```no_run
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), ops::pebble::PebbleError> {
    /// for change in client.get_changes(ops::pebble::ChangeState::InProgress, Some("web"))? {
    ///     client.abort_change(&change.id)?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn abort_change(&self, id: &str) -> Result<Change, PebbleError> {
        let body = json!({"action": "abort"});
        self.sync(Request::post_json(
            format!("/v1/changes/{}", encode_segment(id)),
            &body,
        ))
    }

    /// The change with this id (`GET /v1/changes/<id>`).
    pub fn get_change(&self, id: &str) -> Result<Change, PebbleError> {
        self.sync(Request::get(format!("/v1/changes/{}", encode_segment(id))))
    }

    /// Waits until the change is ready (`GET /v1/changes/<id>/wait`), for
    /// at most `timeout`. The change is returned whether it succeeded or not.
    pub fn wait_change(&self, id: &str, timeout: Duration) -> Result<Change, PebbleError> {
        // `Duration::MAX` (wait for ever) must not overflow the clock.
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600));
        // Each wait request must end (Pebble answers 504) before the socket
        // read times out.
        let slice = if self.timeout > Duration::from_secs(2) {
            self.timeout - Duration::from_secs(1)
        } else {
            self.timeout / 2
        };
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(PebbleError::Timeout {
                    id: id.to_string(),
                    seconds: timeout.as_secs_f64(),
                });
            }
            let wait = remaining.min(slice).max(Duration::from_millis(1));
            let target = format!(
                "/v1/changes/{}/wait?{}",
                encode_segment(id),
                encode_query(&[("timeout", &format!("{}ms", wait.as_millis()))])
            );
            match self.sync::<Change>(Request::get(target)) {
                Ok(change) if change.ready => return Ok(change),
                Ok(_) => continue,
                Err(PebbleError::Api {
                    status_code: 504, ..
                }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The status of the named checks, or of all if `names` is empty
    /// (`GET /v1/checks`), optionally of one level.
    pub fn get_checks(
        &self,
        level: Option<CheckLevel>,
        names: &[&str],
    ) -> Result<Vec<CheckInfo>, PebbleError> {
        let mut query = Vec::new();
        let joined = names.join(",");
        if let Some(level) = &level {
            query.push(("level", level.as_str()));
        }
        if !names.is_empty() {
            query.push(("names", joined.as_str()));
        }
        let target = if query.is_empty() {
            "/v1/checks".to_string()
        } else {
            format!("/v1/checks?{}", encode_query(&query))
        };
        let infos: Option<Vec<CheckInfo>> = self.sync(Request::get(target))?;
        Ok(infos.unwrap_or_default())
    }

    /// Starts the named checks (`POST /v1/checks`, action `start`); returns
    /// those that changed.
    pub fn start_checks(&self, names: &[&str]) -> Result<Vec<String>, PebbleError> {
        self.checks_action("start", names)
    }

    /// Stops the named checks (`POST /v1/checks`, action `stop`); returns
    /// those that changed.
    pub fn stop_checks(&self, names: &[&str]) -> Result<Vec<String>, PebbleError> {
        self.checks_action("stop", names)
    }

    fn checks_action(&self, action: &str, names: &[&str]) -> Result<Vec<String>, PebbleError> {
        #[derive(Deserialize)]
        struct Changed {
            #[serde(default)]
            changed: Vec<String>,
        }
        let body = json!({"action": action, "checks": names});
        let changed: Changed = self.sync(Request::post_json("/v1/checks".into(), &body))?;
        Ok(changed.changed)
    }

    /// Notices (`GET /v1/notices`), of some types (`custom`) and keys only
    /// when given: the caller's and public ones. See
    /// [`get_notices_with`](Self::get_notices_with) for other users'.
    pub fn get_notices(
        &self,
        types: &[&str],
        keys: &[&str],
    ) -> Result<Vec<PebbleNotice>, PebbleError> {
        self.get_notices_with(
            &NoticeQuery::new()
                .with_types(types.iter().copied())
                .with_keys(keys.iter().copied()),
        )
    }

    /// Notices (`GET /v1/notices`) as `query` says: of some types and keys,
    /// and of every user ([`NoticeUsers::All`]) or one
    /// ([`NoticeUsers::Id`]), which Pebble allows an admin (the charm's
    /// user, root, is one).
    ///
    /// ```no_run
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), ops::pebble::PebbleError> {
    /// use ops::pebble::{NoticeQuery, NoticeUsers};
    /// let theirs = client.get_notices_with(&NoticeQuery::new().with_users(NoticeUsers::Id(1000)))?;
    /// # Ok(()) }
    /// ```
    pub fn get_notices_with(&self, query: &NoticeQuery) -> Result<Vec<PebbleNotice>, PebbleError> {
        let (types, keys) = (query.types.join(","), query.keys.join(","));
        let user_id;
        let mut query_args = Vec::new();
        match query.users {
            NoticeUsers::Caller => {}
            NoticeUsers::All => query_args.push(("users", "all")),
            NoticeUsers::Id(id) => {
                user_id = id.to_string();
                query_args.push(("user-id", user_id.as_str()));
            }
        }
        let mut query = query_args;
        if !types.is_empty() {
            query.push(("types", types.as_str()));
        }
        if !keys.is_empty() {
            query.push(("keys", keys.as_str()));
        }
        let target = if query.is_empty() {
            "/v1/notices".to_string()
        } else {
            format!("/v1/notices?{}", encode_query(&query))
        };
        let notices: Option<Vec<PebbleNotice>> = self.sync(Request::get(target))?;
        Ok(notices.unwrap_or_default())
    }

    /// Records a custom notice (`POST /v1/notices`, `pebble notify`); returns
    /// its id. `key` is `<domain>/<path>` (`example.com/db-ready`). The
    /// short form of [`notify_with`](Self::notify_with) (custom type, no
    /// `repeat_after`).
    pub fn notify(
        &self,
        key: &str,
        data: &std::collections::BTreeMap<String, String>,
    ) -> Result<String, PebbleError> {
        self.notify_with(NoticeType::Custom, key, data, None)
    }

    /// Records an occurrence of a notice (`POST /v1/notices`; Python's
    /// `notify`); returns its id. Pebble accepts only
    /// [`NoticeType::Custom`], keyed `<domain>/<path>`
    /// (`example.com/db-ready`). With `repeat_after`, an occurrence within
    /// that long of the last repeat is counted but does not move the
    /// notice up the list (nor wake its watchers).
    ///
    /// ```no_run
    /// use std::collections::BTreeMap;
    /// use std::time::Duration;
    /// use ops::pebble::NoticeType;
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), ops::pebble::PebbleError> {
    /// let data = BTreeMap::from([("host".to_string(), "db-0".to_string())]);
    /// let id = client.notify_with(
    ///     NoticeType::Custom,
    ///     "example.com/db-ready",
    ///     &data,
    ///     Some(Duration::from_secs(3600)),
    /// )?;
    /// let notice = client.get_notice(&id)?;
    /// assert_eq!(notice.repeat_after.as_deref(), Some("1h0m0s"));
    /// # Ok(()) }
    /// ```
    pub fn notify_with(
        &self,
        notice_type: NoticeType,
        key: &str,
        data: &std::collections::BTreeMap<String, String>,
        repeat_after: Option<Duration>,
    ) -> Result<String, PebbleError> {
        #[derive(Deserialize)]
        struct Added {
            id: String,
        }
        let mut body = json!({"action": "add", "type": notice_type.as_str(), "key": key});
        if !data.is_empty() {
            body["data"] = json!(data);
        }
        if let Some(repeat_after) = repeat_after {
            body["repeat-after"] = go_duration(repeat_after)?.into();
        }
        let added: Added = self.sync(Request::post_json("/v1/notices".into(), &body))?;
        Ok(added.id)
    }

    /// One notice by id (`GET /v1/notices/<id>`; Python's `get_notice`);
    /// an error with status 404 if there is none.
    pub fn get_notice(&self, id: &str) -> Result<PebbleNotice, PebbleError> {
        self.sync(Request::get(format!("/v1/notices/{}", encode_segment(id))))
    }

    /// Every identity by name (`GET /v1/identities`; Python's
    /// `get_identities`). Pebble hides secrets: basic passwords and
    /// certificates read as `*****`.
    ///
    /// ```no_run
    /// use std::collections::BTreeMap;
    /// use ops::pebble::{Identity, IdentityAccess};
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), ops::pebble::PebbleError> {
    /// client.replace_identities(&BTreeMap::from([
    ///     ("alice".to_string(), Some(Identity::local(IdentityAccess::Admin, 1000))),
    ///     ("bob".to_string(), Some(Identity::basic(IdentityAccess::Read, "$6$salt$hash"))),
    /// ]))?;
    /// let identities = client.get_identities()?;
    /// assert_eq!(identities["alice"].local.as_ref().map(|l| l.user_id), Some(1000));
    /// assert_eq!(identities["bob"].basic.as_ref().map(|b| b.password.as_str()), Some("*****"));
    /// client.remove_identities(&["bob"])?;
    /// assert_eq!(client.get_identities()?.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn get_identities(
        &self,
    ) -> Result<std::collections::BTreeMap<String, Identity>, PebbleError> {
        let identities: Option<std::collections::BTreeMap<String, Identity>> =
            self.sync(Request::get("/v1/identities".into()))?;
        Ok(identities.unwrap_or_default())
    }

    /// Adds or replaces the named identities, and removes those mapped to
    /// `None` (`POST /v1/identities`, action `replace`; Python's
    /// `replace_identities`). Pebble checks them all first and changes
    /// nothing if one is invalid (a 400 naming it).
    pub fn replace_identities(
        &self,
        identities: &std::collections::BTreeMap<String, Option<Identity>>,
    ) -> Result<(), PebbleError> {
        let body = json!({"action": "replace", "identities": identities});
        let _: Value = self.sync(Request::post_json("/v1/identities".into(), &body))?;
        Ok(())
    }

    /// Removes the named identities (`POST /v1/identities`, action
    /// `remove`; Python's `remove_identities`); Pebble refuses (400) if
    /// one of them does not exist, and removes none.
    pub fn remove_identities(&self, names: &[&str]) -> Result<(), PebbleError> {
        let identities: Map<String, Value> = names
            .iter()
            .map(|name| (name.to_string(), Value::Null))
            .collect();
        let body = json!({"action": "remove", "identities": identities});
        let _: Value = self.sync(Request::post_json("/v1/identities".into(), &body))?;
        Ok(())
    }

    /// Sends a signal (such as `SIGHUP`) to running services.
    pub fn send_signal(&self, signal: &str, services: &[&str]) -> Result<(), PebbleError> {
        let body = json!({"signal": signal, "services": services});
        let _: Value = self.sync(Request::post_json("/v1/signals".into(), &body))?;
        Ok(())
    }

    /// Writes a file (`POST /v1/files`, multipart: a `request` JSON part
    /// then the `files` part). Pebble replaces the file atomically.
    pub fn push(
        &self,
        path: &str,
        content: impl AsRef<[u8]>,
        options: &PushOptions,
    ) -> Result<(), PebbleError> {
        if path.contains(['\r', '\n']) {
            return Err(PebbleError::InvalidRequest {
                what: format!("path {path:?} contains a line break"),
            });
        }
        let content = content.as_ref();
        let mut info = Map::new();
        info.insert("path".into(), path.into());
        if options.make_dirs {
            info.insert("make-dirs".into(), true.into());
        }
        owner_fields(
            &mut info,
            options.permissions,
            options.user_id,
            options.user.as_deref(),
            options.group_id,
            options.group.as_deref(),
        );
        let request = json!({"action": "write", "files": [info]});
        let boundary = new_boundary(content);
        let request = Request {
            method: "POST",
            target: "/v1/files".into(),
            headers: vec![
                ("Accept", "application/json".into()),
                (
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                ),
            ],
            body: Some(encode_write(&boundary, &request, path, content)),
        };
        let results: Option<Vec<FileResult>> = self.sync(request)?;
        check_file_results(&results.unwrap_or_default(), path)
    }

    /// Reads a whole file (`GET /v1/files?action=read`, a multipart response).
    pub fn pull(&self, path: &str) -> Result<Vec<u8>, PebbleError> {
        self.pull_many(&[path])?.pop().unwrap_or_else(|| {
            Err(PebbleError::malformed(
                "no result for the one file asked for",
            ))
        })
    }

    /// Reads several whole files in one request: Pebble reads every `path`
    /// of one `GET /v1/files?action=read`, which saves a round trip per
    /// file. The results are in the order of `paths`, each a file's content
    /// or its own [`PebbleError::Path`] (`not-found`, `permission-denied`,
    /// ...), so that one missing file does not hide the others. A path given
    /// twice is asked for once. The outer error is the request's: Pebble
    /// unreachable, an error response, a body that is not what Pebble sends.
    ///
    /// ```no_run
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), ops::pebble::PebbleError> {
    /// let [config, cert] = client
    ///     .pull_many(&["/etc/app/app.conf", "/etc/app/tls.pem"])?
    ///     .try_into()
    ///     .expect("one result per path");
    /// let config = config?;
    /// let tls_on = match cert {
    ///     Ok(_) => true,
    ///     Err(e) if e.is_not_found() => false,
    ///     Err(e) => return Err(e),
    /// };
    /// # let _ = (config, tls_on); Ok(()) }
    /// ```
    pub fn pull_many(
        &self,
        paths: &[&str],
    ) -> Result<Vec<Result<Vec<u8>, PebbleError>>, PebbleError> {
        let mut asked: Vec<&str> = Vec::with_capacity(paths.len());
        for path in paths {
            if !asked.contains(path) {
                asked.push(path);
            }
        }
        let mut query = vec![("action", "read")];
        query.extend(asked.iter().map(|path| ("path", *path)));
        let target = format!("/v1/files?{}", encode_query(&query));
        let request = Request {
            method: "GET",
            target,
            headers: vec![("Accept", "multipart/form-data".into())],
            body: None,
        };
        let response = self.round_trip(&request)?;
        if response.status >= 400 || response.media_type() != "multipart/form-data" {
            // An error envelope; anything else is not what Pebble sends.
            decode_envelope(&request, &response)?;
            return Err(PebbleError::malformed(format!(
                "GET /v1/files?action=read: expected a multipart/form-data response, got {:?}",
                response.header("content-type").unwrap_or("")
            )));
        }
        let (_, params) = header_params(response.header("content-type").unwrap_or(""));
        let boundary = params
            .into_iter()
            .find(|(k, _)| k == "boundary")
            .map(|(_, v)| v)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| PebbleError::malformed("multipart response without a boundary"))?;
        let parts = parse_multipart(&response.body, &boundary)
            .map_err(|e| PebbleError::malformed(format!("multipart response: {e}")))?;
        let meta = parts
            .iter()
            .find(|p| p.name == "response")
            .ok_or_else(|| PebbleError::malformed("no \"response\" part in the multipart body"))?;
        let envelope: Envelope = serde_json::from_slice(&meta.body).map_err(|e| {
            PebbleError::malformed(format!(
                "the \"response\" part is not a Pebble response: {e}"
            ))
        })?;
        let results: Vec<FileResult> = envelope
            .result::<Option<Vec<FileResult>>>()
            .map_err(|e| {
                PebbleError::malformed(format!(
                    "the \"response\" part has an unexpected result: {e}"
                ))
            })?
            .unwrap_or_default();
        // Each file part is one of the paths asked for, and only once; its
        // content is taken out for the (first) path it answers.
        let mut contents: Vec<(String, Option<Vec<u8>>)> = Vec::with_capacity(asked.len());
        for part in parts.into_iter().filter(|p| p.name == "files") {
            let Some(name) = part.filename.filter(|f| asked.contains(&f.as_str())) else {
                return Err(PebbleError::malformed(
                    "a file that was not asked for in the multipart response",
                ));
            };
            if contents.iter().any(|(seen, _)| *seen == name) {
                return Err(PebbleError::malformed(format!(
                    "{name:?}: several contents in the multipart response"
                )));
            }
            contents.push((name, Some(part.body)));
        }
        let mut read = |path: &str| -> Result<Vec<u8>, PebbleError> {
            check_file_results(&results, path)?;
            let missing = || {
                PebbleError::malformed(format!(
                    "{path:?}: no file content in the multipart response"
                ))
            };
            let slot = contents
                .iter_mut()
                .find(|(name, _)| name == path)
                .ok_or_else(missing)?;
            // A path given twice keeps its content for the second.
            if paths.iter().filter(|p| **p == path).count() > 1 {
                slot.1.clone().ok_or_else(missing)
            } else {
                slot.1.take().ok_or_else(missing)
            }
        };
        Ok(paths.iter().map(|path| read(path)).collect())
    }

    /// Lists a directory's entries, or describes `path` itself if it is not
    /// a directory or `itself` is set; `pattern` filters names (`*.conf`).
    pub fn list_files(
        &self,
        path: &str,
        pattern: Option<&str>,
        itself: bool,
    ) -> Result<Vec<FileInfo>, PebbleError> {
        let mut query = vec![("action", "list"), ("path", path)];
        if let Some(pattern) = pattern.filter(|p| !p.is_empty()) {
            query.push(("pattern", pattern));
        }
        if itself {
            query.push(("itself", "true"));
        }
        let target = format!("/v1/files?{}", encode_query(&query));
        let infos: Option<Vec<FileInfo>> = self.sync(Request::get(target))?;
        Ok(infos.unwrap_or_default())
    }

    /// Copies a local file or directory tree into the container, as Python
    /// ops' `push_path`: `source` lands at `<dest_dir>/<its name>`, with
    /// missing directories made and each file's permission bits kept.
    ///
    /// ```no_run
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), ops::pebble::PebbleError> {
    /// client.push_path(std::path::Path::new("templates/conf.d"), "/etc/app")?;
    /// // /etc/app/conf.d/... now mirrors templates/conf.d/...
    /// # Ok(()) }
    /// ```
    pub fn push_path(&self, source: &Path, dest_dir: &str) -> Result<(), PebbleError> {
        use std::os::unix::fs::PermissionsExt;
        let local = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PebbleError::LocalPath { path, source }
        };
        let name = source.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            PebbleError::InvalidRequest {
                what: format!("{} has no UTF-8 file name", source.display()),
            }
        })?;
        let target = format!("{}/{name}", dest_dir.trim_end_matches('/'));
        let meta = std::fs::metadata(source).map_err(local(source))?;
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            self.make_dir(
                &target,
                &MakeDirOptions {
                    make_parents: true,
                    permissions: Some(mode),
                    ..Default::default()
                },
            )?;
            let mut entries: Vec<_> = std::fs::read_dir(source)
                .map_err(local(source))?
                .collect::<Result<_, _>>()
                .map_err(local(source))?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                self.push_path(&entry.path(), &target)?;
            }
            return Ok(());
        }
        let content = std::fs::read(source).map_err(local(source))?;
        self.push(
            &target,
            content,
            &PushOptions {
                make_dirs: true,
                permissions: Some(mode),
                ..Default::default()
            },
        )
    }

    /// Copies a file or directory tree out of the container, as Python ops'
    /// `pull_path`: `source` lands at `<dest_dir>/<its name>` on this
    /// machine, directories made as needed.
    pub fn pull_path(&self, source: &str, dest_dir: &Path) -> Result<(), PebbleError> {
        let local = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PebbleError::LocalPath { path, source }
        };
        let info = self
            .list_files(source, None, true)?
            .into_iter()
            .next()
            .ok_or_else(|| PebbleError::malformed(format!("{source}: no file information")))?;
        // A name from Pebble never climbs out of `dest_dir`.
        if info.name.is_empty() || info.name.contains('/') || info.name == ".." {
            return Err(PebbleError::malformed(format!(
                "{source}: unusable file name {:?}",
                info.name
            )));
        }
        let target = dest_dir.join(&info.name);
        match info.file_type {
            FileType::Directory => {
                std::fs::create_dir_all(&target).map_err(local(&target))?;
                for entry in self.list_files(source, None, false)? {
                    self.pull_path(&entry.path, &target)?;
                }
                Ok(())
            }
            FileType::File => {
                let content = self.pull(source)?;
                std::fs::write(&target, content).map_err(local(&target))
            }
            // Symlinks, sockets, devices: not copied, as Python ops.
            _ => Ok(()),
        }
    }

    /// Creates a directory.
    pub fn make_dir(&self, path: &str, options: &MakeDirOptions) -> Result<(), PebbleError> {
        let mut info = Map::new();
        info.insert("path".into(), path.into());
        if options.make_parents {
            info.insert("make-parents".into(), true.into());
        }
        owner_fields(
            &mut info,
            options.permissions,
            options.user_id,
            options.user.as_deref(),
            options.group_id,
            options.group.as_deref(),
        );
        self.files_action(json!({"action": "make-dirs", "dirs": [info]}), path)
    }

    /// Removes a file or an empty directory; with `recursive`, removes a
    /// whole tree and succeeds if nothing is there.
    pub fn remove_path(&self, path: &str, recursive: bool) -> Result<(), PebbleError> {
        let mut info = Map::new();
        info.insert("path".into(), path.into());
        if recursive {
            info.insert("recursive".into(), true.into());
        }
        self.files_action(json!({"action": "remove", "paths": [info]}), path)
    }

    /// Whether `path` is a directory: `false` if it is anything else or
    /// nothing is there.
    ///
    /// ```no_run
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), ops::pebble::PebbleError> {
    /// if !client.is_dir("/var/lib/app")? {
    ///     client.make_dir("/var/lib/app", &ops::pebble::MakeDirOptions::default())?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is_dir(&self, path: &str) -> Result<bool, PebbleError> {
        match self.list_files(path, None, true) {
            Ok(infos) => Ok(infos.first().is_some_and(FileInfo::is_dir)),
            Err(e @ PebbleError::Api { .. }) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Warnings Pebble raised (`GET /v1/warnings`): those pending (not
    /// acknowledged since last raised) or all.
    ///
    /// ```no_run
    /// # fn demo(client: &ops::pebble::Client) -> Result<(), ops::pebble::PebbleError> {
    /// for w in client.get_warnings(ops::pebble::WarningState::Pending)? {
    ///     tracing::warn!("pebble: {}", w.message);
    /// }
    /// client.ack_warnings(std::time::SystemTime::now())?;
    /// # Ok(()) }
    /// ```
    pub fn get_warnings(&self, select: WarningState) -> Result<Vec<Warning>, PebbleError> {
        let target = format!(
            "/v1/warnings?{}",
            encode_query(&[("select", select.as_str())])
        );
        let warnings: Option<Vec<Warning>> = self.sync(Request::get(target))?;
        Ok(warnings.unwrap_or_default())
    }

    /// Acknowledges every warning raised up to `timestamp` (`POST
    /// /v1/warnings`, action `okay`); returns how many.
    pub fn ack_warnings(&self, timestamp: std::time::SystemTime) -> Result<u64, PebbleError> {
        let body = json!({
            "action": "okay",
            "timestamp": crate::rfc3339::format(timestamp, true),
        });
        self.sync(Request::post_json("/v1/warnings".into(), &body))
    }

    /// Whether anything exists at `path`.
    pub fn exists(&self, path: &str) -> Result<bool, PebbleError> {
        match self.list_files(path, None, true) {
            Ok(_) => Ok(true),
            Err(e @ PebbleError::Api { .. }) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn files_action(&self, body: Value, path: &str) -> Result<(), PebbleError> {
        let results: Option<Vec<FileResult>> =
            self.sync(Request::post_json("/v1/files".into(), &body))?;
        check_file_results(&results.unwrap_or_default(), path)
    }

    /// Sends `request` through the transport; the whole response.
    fn round_trip(&self, request: &Request) -> Result<Response, PebbleError> {
        self.transport
            .round_trip(&request.as_transport(), self.timeout)
    }

    /// Sends a request that Pebble answers synchronously and decodes its result.
    fn sync<T: DeserializeOwned>(&self, request: Request) -> Result<T, PebbleError> {
        let response = self.round_trip(&request)?;
        let envelope = decode_envelope(&request, &response)?;
        if envelope.type_ != "sync" {
            return Err(PebbleError::malformed(format!(
                "{} {}: expected a sync response, got {:?}",
                request.method, request.target, envelope.type_
            )));
        }
        envelope.result().map_err(|e| {
            PebbleError::malformed(format!(
                "{} {}: unexpected result: {e}",
                request.method, request.target
            ))
        })
    }

    /// Sends a request that Pebble answers with a change id.
    fn async_change(&self, request: Request) -> Result<String, PebbleError> {
        self.async_change_with_result(request).map(|(id, _)| id)
    }

    /// Sends a request that Pebble answers with a change id and a result.
    pub(super) fn async_change_with_result(
        &self,
        request: Request,
    ) -> Result<(String, Value), PebbleError> {
        let response = self.round_trip(&request)?;
        let envelope = decode_envelope(&request, &response)?;
        match (envelope.type_.as_str(), &envelope.change) {
            ("async", Some(id)) if !id.is_empty() => {
                let result = envelope.result().map_err(|e| {
                    PebbleError::malformed(format!(
                        "{} {}: unexpected result: {e}",
                        request.method, request.target
                    ))
                })?;
                Ok((id.clone(), result))
            }
            (kind, _) => Err(PebbleError::malformed(format!(
                "{} {}: expected an async response with a change id, got type {kind:?}",
                request.method, request.target
            ))),
        }
    }
}

/// A ready change that failed, as [`PebbleError::Change`].
pub(super) fn change_failed(id: &str, change: &Change) -> Result<(), PebbleError> {
    match change.err.as_deref() {
        Some(err) if !err.is_empty() => Err(PebbleError::Change {
            id: id.to_string(),
            err: err.to_string(),
        }),
        _ if change.status == "Error" => Err(PebbleError::Change {
            id: id.to_string(),
            err: format!(
                "change {} ({}) ended in status Error",
                change.id, change.summary
            ),
        }),
        _ => Ok(()),
    }
}

/// Checks the response is a JSON envelope and turns error responses into
/// [`PebbleError::Api`]. The body is read once, into the envelope; only a
/// body that is not one is read again, as any JSON, to say what it is.
fn decode_envelope<'a>(
    request: &Request,
    response: &'a Response,
) -> Result<Envelope<'a>, PebbleError> {
    let what = || format!("{} {}", request.method, request.target);
    let envelope = serde_json::from_slice::<Envelope>(&response.body);
    let as_value = || serde_json::from_slice::<Value>(&response.body);
    let is_error = response.status >= 400
        || match &envelope {
            Ok(envelope) => envelope.type_ == "error",
            Err(_) => {
                as_value().is_ok_and(|v| v.get("type").and_then(Value::as_str) == Some("error"))
            }
        };
    if is_error {
        return Err(api_error(response, as_value().ok()));
    }
    if response.media_type() != "application/json" {
        return Err(PebbleError::malformed(format!(
            "{}: expected Content-Type application/json, got {:?}",
            what(),
            response.header("content-type").unwrap_or("")
        )));
    }
    let envelope = envelope.map_err(|e| match as_value() {
        Err(not_json) => {
            PebbleError::malformed(format!("{}: the body is not JSON: {not_json}", what()))
        }
        Ok(_) => PebbleError::malformed(format!("{}: not a Pebble response: {e}", what())),
    })?;
    match envelope.type_.as_str() {
        "sync" | "async" => Ok(envelope),
        other => Err(PebbleError::malformed(format!(
            "{}: unknown response type {other:?}",
            what()
        ))),
    }
}

pub(super) fn api_error(response: &Response, body: Option<Value>) -> PebbleError {
    let body = body.unwrap_or(Value::Null);
    let status_code = body
        .get("status-code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(response.status);
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| response.reason.clone());
    let result = body.get("result");
    let message = result
        .and_then(|r| r.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&response.body);
            let snippet: String = text.chars().take(200).collect();
            format!("no error message in the response: {snippet:?}")
        });
    let kind = result
        .and_then(|r| r.get("kind"))
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    PebbleError::Api {
        status_code,
        status,
        message,
        kind,
    }
}

/// A duration as Go's `time.ParseDuration` reads it, exactly: whole
/// seconds as `<n>s`, anything finer in nanoseconds. Go keeps durations in
/// an `int64` of nanoseconds, so a longer one cannot be sent.
fn go_duration(duration: Duration) -> Result<String, PebbleError> {
    if i64::try_from(duration.as_nanos()).is_err() {
        return Err(PebbleError::InvalidRequest {
            what: format!("duration {duration:?} is longer than Pebble can take (about 292 years)"),
        });
    }
    Ok(if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ns", duration.as_nanos())
    })
}

/// A change id as a URL path segment.
fn encode_segment(id: &str) -> String {
    encode_query(&[("", id)])
        .trim_start_matches('=')
        .replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_path_layout() {
        assert_eq!(
            socket_path(DEFAULT_CONTAINERS_DIR, "pgbouncer"),
            PathBuf::from("/charm/containers/pgbouncer/pebble.socket")
        );
    }

    #[test]
    fn durations_are_sent_as_go_reads_them() {
        assert_eq!(go_duration(Duration::from_secs(3600)).unwrap(), "3600s");
        assert_eq!(
            go_duration(Duration::from_millis(1500)).unwrap(),
            "1500000000ns"
        );
        assert!(matches!(
            go_duration(Duration::MAX),
            Err(PebbleError::InvalidRequest { .. })
        ));
    }

    #[test]
    fn change_ids_are_escaped_in_paths() {
        assert_eq!(encode_segment("42"), "42");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }
}
