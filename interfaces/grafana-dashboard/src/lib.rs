//! The provider side of Juju's `grafana_dashboard` interface: a charm ships
//! Grafana dashboards and the related Grafana shows them.
//!
//! The leader writes one key of the app databag, `dashboards`, as
//! Canonical's `charms.grafana_k8s.v0.grafana_dashboard`
//! (`GrafanaDashboardProvider`, LIBPATCH 48, with `cosl`) writes it:
//!
//! ```text
//! {"templates": {"file:<stem>": {"charm": <charm name>,
//!                                "content": <base64 of the xz-compressed dashboard JSON>,
//!                                "juju_topology": {"model", "model_uuid", "application", "unit"},
//!                                "inject_dropdowns": true,
//!                                "dashboard_alt_uid": <shake_256("<charm>-file:<stem>"), 8 bytes hex>}},
//!  "uuid": <a UUID>}
//! ```
//!
//! Each dashboard is changed as the library changes it before compressing:
//! its `uid`, unless already 40 hex digits, becomes
//! `shake_256("<charm>-<path of the file in the charm>")` (20 bytes, hex),
//! and a `charm: <charm>` tag is added unless one starts with `charm: `.
//! The compressed form is the xz container (`lzma.compress`'s default),
//! then standard base64: Grafana's side decodes it with
//! `lzma.decompress(base64.b64decode(content))` ([`decompress`] does the same).
//!
//! Compressing costs CPU: [`GrafanaDashboardProvider::publish`] does it only
//! on the leader, only when a relation exists.
//!
//! Where the library puts a new random UUID at every write (so that Juju
//! always sees a change), this derives it from the templates: the same
//! dashboards give the same value, and nothing is written when the
//! databag already holds them, so Grafana is not woken for nothing.
//!
//! ```
//! use grafana_dashboard::{Dashboard, GrafanaDashboardProvider, decompress};
//! use juju_topology::{Topology, json};
//!
//! let topology = Topology {
//!     model: "db".into(),
//!     model_uuid: "0b7d1071-ded2-4bf5-80a3-10a81aeb1386".into(),
//!     application: "pgbouncer-k8s".into(),
//!     unit: "pgbouncer-k8s/0".into(),
//!     charm_name: "pgbouncer-k8s".into(),
//! };
//! let dashboard = Dashboard::from_file(
//!     "small",
//!     "src/grafana_dashboards/small.json",
//!     r#"{"title": "Small", "uid": "", "tags": ["mine"]}"#,
//! )
//! .unwrap();
//! let provider = GrafanaDashboardProvider::new(topology, vec![dashboard]);
//! let data = json::from_str(&provider.app_data().unwrap()).unwrap();
//! let template = data.get("templates").unwrap().get("file:small").unwrap();
//! let content = decompress(template.get("content").unwrap().as_str().unwrap()).unwrap();
//! assert_eq!(
//!     content,
//!     r#"{"title": "Small", "uid": "ad483caa3a06607e0de04b6f7aa3e2c973aaf0e7", "tags": ["mine", "charm: pgbouncer-k8s"]}"#
//! );
//! ```

#![deny(missing_docs)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use juju_topology::Topology;
use juju_topology::json::{self, Value};
use ops::Model;
use ops::model::ModelError;
use sha3::Shake256;
use sha3::digest::{ExtendableOutput, Update, XofReader};

/// The endpoint name the library defaults to.
pub const DEFAULT_ENDPOINT: &str = "grafana-dashboard";
/// The interface name.
pub const INTERFACE: &str = "grafana_dashboard";
/// The app databag key.
pub const DASHBOARDS_KEY: &str = "dashboards";

/// Why a dashboard could not be read or encoded (named by its id, never
/// its content).
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The file is not JSON.
    #[error("dashboard {id}: {source}")]
    Json {
        /// `file:<stem>`.
        id: String,
        /// Where the JSON is invalid.
        source: json::JsonError,
    },
    /// The file is JSON but not an object.
    #[error("dashboard {id}: not a JSON object")]
    NotAnObject {
        /// `file:<stem>`.
        id: String,
    },
    /// Compressing failed.
    #[error("dashboard {id}: compressing failed: {source}")]
    Compress {
        /// `file:<stem>`.
        id: String,
        /// What the compressor said.
        source: std::io::Error,
    },
}

/// Why an encoded dashboard could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not base64.
    #[error("dashboard content is not base64")]
    Base64,
    /// Not an xz stream.
    #[error("dashboard content is not an xz stream")]
    Lzma,
    /// Larger than [`MAX_DECOMPRESSED`] once decompressed.
    #[error("dashboard content is larger than {MAX_DECOMPRESSED} bytes decompressed")]
    TooLarge,
    /// The decompressed content is not UTF-8.
    #[error("dashboard content is not UTF-8")]
    Utf8,
}

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A dashboard could not be encoded.
    #[error(transparent)]
    Dashboard(#[from] DashboardError),
    /// Juju refused a read or write.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The largest decompressed content [`decompress`] takes (a dashboard is
/// tens of KiB; this bounds what a hostile stream can make us allocate).
pub const MAX_DECOMPRESSED: u64 = 16 * 1024 * 1024;

/// `LZMABase64.compress`: the xz container (LZMA2, preset 6, CRC64 check,
/// as Python's `lzma.compress`), then standard base64. The dictionary is
/// cut to the text's size (at least 4 KiB): the same output as preset 6's
/// 8 MiB for a text that fits, without allocating for 8 MiB.
pub fn compress(text: &str) -> Result<String, std::io::Error> {
    use std::io::Write as _;
    let mut options = lzma_rust2::XzOptions::with_preset(6);
    let wanted = u32::try_from(text.len()).unwrap_or(u32::MAX).max(4096);
    options.lzma_options.dict_size = options
        .lzma_options
        .dict_size
        .min(wanted.next_power_of_two());
    let mut writer = lzma_rust2::XzWriter::new(Vec::with_capacity(text.len() / 4), options)?;
    writer.write_all(text.as_bytes())?;
    let compressed = writer.finish()?;
    Ok(STANDARD.encode(compressed))
}

/// `LZMABase64.decompress`: base64, then xz; at most
/// [`MAX_DECOMPRESSED`] bytes.
pub fn decompress(content: &str) -> Result<String, DecodeError> {
    use std::io::Read as _;
    let bytes = STANDARD
        .decode(content.as_bytes())
        .map_err(|_| DecodeError::Base64)?;
    let reader = lzma_rust2::XzReader::new(bytes.as_slice(), false);
    let mut out = Vec::new();
    let mut limited = reader.take(MAX_DECOMPRESSED + 1);
    limited
        .read_to_end(&mut out)
        .map_err(|_| DecodeError::Lzma)?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(DecodeError::TooLarge);
    }
    String::from_utf8(out).map_err(|_| DecodeError::Utf8)
}

/// `hashlib.shake_256("-".join(parts).encode()).hexdigest(bytes)`.
pub fn shake256_hex(parts: &[&str], bytes: usize) -> String {
    let mut hasher = Shake256::default();
    hasher.update(parts.join("-").as_bytes());
    let mut reader = hasher.finalize_xof();
    let mut digest = vec![0u8; bytes];
    reader.read(&mut digest);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A dashboard shipped with the charm.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    id: String,
    rel_path: String,
    json: Value,
}

impl Dashboard {
    /// The dashboard in file `<stem>.json` at `rel_path` in the charm (the
    /// library's default directory is `src/grafana_dashboards`); its id is
    /// `file:<stem>`.
    pub fn from_file(stem: &str, rel_path: &str, text: &str) -> Result<Self, DashboardError> {
        let id = format!("file:{stem}");
        let json = json::from_str(text).map_err(|source| DashboardError::Json {
            id: id.clone(),
            source,
        })?;
        if !json.is_object() {
            return Err(DashboardError::NotAnObject { id });
        }
        Ok(Self {
            id,
            rel_path: rel_path.to_string(),
            json,
        })
    }

    /// `file:<stem>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The dashboard as the library sends it, before compression: `uid`
    /// and `tags` set for `charm_name`.
    pub fn rendered(&self, charm_name: &str) -> Value {
        let mut dashboard = self.json.clone();
        let uid_valid = dashboard
            .get("uid")
            .and_then(Value::as_str)
            .is_some_and(|uid| uid.len() == 40 && uid.bytes().all(|b| b.is_ascii_hexdigit()));
        if !uid_valid {
            let uid = shake256_hex(&[charm_name, &self.rel_path], 20);
            dashboard.insert("uid", Value::from(uid));
        }
        let mut tags = dashboard
            .get("tags")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let tagged = tags
            .iter()
            .any(|t| t.as_str().is_some_and(|t| t.starts_with("charm: ")));
        if !tagged {
            tags.push(Value::from(format!("charm: {charm_name}")));
        }
        dashboard.insert("tags", Value::from(tags));
        dashboard
    }
}

/// What a charm publishes on its `grafana-dashboard` relations.
#[derive(Debug, Clone, PartialEq)]
pub struct GrafanaDashboardProvider {
    endpoint: String,
    topology: Topology,
    dashboards: Vec<Dashboard>,
}

impl GrafanaDashboardProvider {
    /// These dashboards, on [`DEFAULT_ENDPOINT`].
    pub fn new(topology: Topology, dashboards: Vec<Dashboard>) -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            topology,
            dashboards,
        }
    }

    /// On another endpoint of the charm.
    pub fn on_endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = endpoint.to_string();
        self
    }

    /// The `templates` object (compresses every dashboard).
    pub fn templates(&self) -> Result<Value, DashboardError> {
        self.templates_with(|dashboard, text| {
            compress(text)
                .map(Value::from)
                .map_err(|source| DashboardError::Compress {
                    id: dashboard.id.clone(),
                    source,
                })
        })
    }

    /// The `templates` object, each dashboard's `content` made by `content`
    /// from the dashboard and its rendered JSON text.
    fn templates_with(
        &self,
        mut content: impl FnMut(&Dashboard, &str) -> Result<Value, DashboardError>,
    ) -> Result<Value, DashboardError> {
        let charm = self.topology.charm_name.as_str();
        let topology = Value::object([
            ("model", Value::from(self.topology.model.as_str())),
            ("model_uuid", Value::from(self.topology.model_uuid.as_str())),
            (
                "application",
                Value::from(self.topology.application.as_str()),
            ),
            ("unit", Value::from(self.topology.unit.as_str())),
        ]);
        let mut templates = Vec::with_capacity(self.dashboards.len());
        for dashboard in &self.dashboards {
            let text = json::to_string(&dashboard.rendered(charm));
            templates.push((
                dashboard.id.clone(),
                Value::object([
                    ("charm", Value::from(charm)),
                    ("content", content(dashboard, &text)?),
                    ("juju_topology", topology.clone()),
                    ("inject_dropdowns", Value::from(true)),
                    (
                        "dashboard_alt_uid",
                        Value::from(shake256_hex(&[&format!("{charm}-{}", dashboard.id)], 8)),
                    ),
                ]),
            ));
        }
        Ok(Value::Object(templates))
    }

    /// Whether `current`, a databag's `dashboards` value, holds the
    /// templates [`templates`](Self::templates) makes: the same ones in the
    /// same order, each `content` decompressing to the dashboard's JSON.
    /// Decompressing is what makes this cheap: compressing a dashboard
    /// (xz, preset 6) costs milliseconds, and a leader would otherwise pay
    /// it in every hook that publishes, only to find nothing changed.
    fn holds_templates(&self, current: &str) -> Result<bool, DashboardError> {
        let Some(mut templates) = json::from_str(current)
            .ok()
            .and_then(|data| data.get("templates").cloned())
        else {
            return Ok(false);
        };
        let Value::Object(entries) = &mut templates else {
            return Ok(false);
        };
        // Each current content becomes what it decompresses to, or null.
        for (_, template) in entries.iter_mut() {
            if let Some(content) = template.get_mut("content") {
                let text = content.as_str().and_then(|c| decompress(c).ok());
                *content = text.map_or(Value::Null, Value::from);
            }
        }
        let expected = self.templates_with(|_, text| Ok(Value::from(text)))?;
        Ok(templates == expected)
    }

    /// The value of `dashboards` (see the [crate] doc).
    pub fn app_data(&self) -> Result<String, DashboardError> {
        Ok(data_with(self.templates()?))
    }

    /// Leader: writes `dashboards` on every relation of the endpoint whose
    /// databag does not hold these templates already. Nothing is
    /// compressed without a relation, nor on a follower. True if written.
    pub fn publish(&self, model: &Model) -> Result<bool, PublishError> {
        let relations = model.relations(self.endpoint.as_str())?;
        let relations: Vec<_> = relations.into_iter().filter(|r| r.active).collect();
        if relations.is_empty() || !model.is_leader()? {
            return Ok(false);
        }
        // Compressed once, and only for a relation that needs it.
        let mut data: Option<String> = None;
        let mut written = false;
        for relation in &relations {
            let bag = model.local_app_data(relation);
            if let Some(current) = bag.get(DASHBOARDS_KEY)?
                && self.holds_templates(&current)?
            {
                continue;
            }
            let data = match &mut data {
                Some(data) => data,
                none => none.insert(data_with(self.templates()?)),
            };
            bag.set(DASHBOARDS_KEY, data)?;
            written = true;
        }
        Ok(written)
    }
}

/// `{"templates": …, "uuid": …}`, the UUID derived from the templates.
fn data_with(templates: Value) -> String {
    let digest = shake256_hex(&[&json::to_string(&templates)], 16);
    let uuid = format!(
        "{}-{}-4{}-{}{}-{}",
        &digest[0..8],
        &digest[8..12],
        &digest[13..16],
        ["8", "9", "a", "b"][usize::from(digest.as_bytes()[16] % 4)],
        &digest[17..20],
        &digest[20..32]
    );
    json::to_string(&Value::object([
        ("templates", templates),
        ("uuid", Value::from(uuid)),
    ]))
}

#[cfg(test)]
mod tests;
