//! The Juju hook tools, as one trait.
//!
//! A charm talks to Juju only through the hook tools (`relation-get`,
//! `status-set`, ...). [`Backend`] has one method per hook-tool operation;
//! [`HookTools`] implements it by running the real executables, and
//! `ops-testing` implements it over an in-memory model. Everything above this
//! module (the [`Model`](crate::model::Model), the framework's storage, the
//! `juju-log` forwarding) goes through the trait, never through `std::process`.

mod argv;
mod child_io;
mod error;
mod hook_tools;
mod types;

#[doc(hidden)]
pub use crate::yaml::{yaml_readable, yaml_readable_text};
pub use error::BackendError;
pub use hook_tools::{DEFAULT_TOOL_DEADLINE, HookTools, ToolOutput, ToolRunner};
pub use types::{
    CloudCredential, CloudSpec, LogLevel, OpenedPort, PortProtocol, RelationRef, SecretAddArgs,
    SecretInfo, SecretOwner, SecretSetArgs, StatusInfo, StatusName,
};

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A string-to-string map: a relation databag, unit state, secret content.
pub type StringMap = BTreeMap<String, String>;

/// Shorthand for a result whose error is a [`BackendError`].
pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// One method per Juju hook-tool operation.
///
/// Implementations must behave as Juju does: the same answers, the same
/// failures (see [`BackendError`]). Methods take `&self`; implementations that
/// keep state use interior mutability. The trait is object safe: the model
/// holds it as `Arc<dyn Backend>`.
pub trait Backend: Send + Sync {
    /// `relation-ids <name> --format=json`: the ids of the relations of one endpoint.
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationRef>>;
    /// `relation-list --format=json -r <name>:<id>`: the remote units in a relation.
    fn relation_list(&self, relation: &RelationRef) -> Result<Vec<String>>;
    /// `relation-list --format=json -r <name>:<id> --app`: the remote application's
    /// name, if Juju knows it.
    fn relation_remote_app(&self, relation: &RelationRef) -> Result<Option<String>>;
    /// `relation-get --format=json -r <name>:<id> [--app] - <member>`: a whole databag.
    ///
    /// `member` is a unit name (`app/0`) or, with `app` set, an application name.
    fn relation_get(&self, relation: &RelationRef, member: &str, app: bool) -> Result<StringMap>;
    /// `relation-set -r <name>:<id> [--app] --file -`: update own unit's (or, on
    /// the leader, own app's) databag. An empty value deletes its key.
    fn relation_set(&self, relation: &RelationRef, app: bool, data: &StringMap) -> Result<()>;

    /// `is-leader --format=json`.
    fn is_leader(&self) -> Result<bool>;
    /// `config-get --format=json`: every option that has a value.
    fn config_get(&self) -> Result<serde_json::Map<String, serde_json::Value>>;

    /// `status-set --application=<app> <status> -- <message>`.
    fn status_set(&self, app: bool, status: &StatusInfo) -> Result<()>;
    /// `status-get --include-data --format=json --application=<app>`.
    fn status_get(&self, app: bool) -> Result<StatusInfo>;
    /// `application-version-set -- <version>`.
    fn application_version_set(&self, version: &str) -> Result<()>;
    /// `add-metric [--labels k=v,...] key=value...`: metrics of this unit,
    /// in the `collect-metrics` hook only (Juju refuses it elsewhere).
    fn add_metric(&self, metrics: &[(String, String)], labels: &[(String, String)]) -> Result<()>;

    /// `juju-log --log-level <LEVEL> -- <message>`.
    fn juju_log(&self, level: LogLevel, message: &str) -> Result<()>;

    /// `state-get --format=json`: the unit's whole controller-side state.
    fn state_get(&self) -> Result<StringMap>;
    /// `state-set --file -`: set keys of the unit's controller-side state.
    fn state_set(&self, data: &StringMap) -> Result<()>;
    /// `state-delete <key>`.
    fn state_delete(&self, key: &str) -> Result<()>;

    /// `secret-add [--label L] [--description D] --owner <owner> k#file=<path>...`:
    /// returns the new secret's id. Values never travel in argv.
    fn secret_add(&self, args: &SecretAddArgs) -> Result<String>;
    /// `secret-get --format=json <id> [--label L] [--refresh|--peek]`: the content.
    ///
    /// At least one of `id` and `label` is given.
    fn secret_get(
        &self,
        id: Option<&str>,
        label: Option<&str>,
        refresh: bool,
        peek: bool,
    ) -> Result<StringMap>;
    /// `secret-info-get --format=json (<id> | --label L)`: the owner's view of a secret.
    fn secret_info_get(&self, id: Option<&str>, label: Option<&str>) -> Result<SecretInfo>;
    /// `secret-set <id> [--label L] [--description D] [k#file=<path>...]`.
    fn secret_set(&self, id: &str, args: &SecretSetArgs) -> Result<()>;
    /// `secret-grant --relation <relation id> [--unit U] <id>`.
    fn secret_grant(&self, id: &str, relation_id: u32, unit: Option<&str>) -> Result<()>;
    /// `secret-revoke --relation <relation id> [--unit U] <id>`.
    fn secret_revoke(&self, id: &str, relation_id: u32, unit: Option<&str>) -> Result<()>;
    /// `secret-remove <id> [--revision N]`.
    fn secret_remove(&self, id: &str, revision: Option<u64>) -> Result<()>;

    /// `open-port <port>[-<to>]/<protocol> [--endpoints e1,e2]` (or `open-port icmp`);
    /// no endpoints means all of them.
    fn open_port(&self, port: &OpenedPort, endpoints: &[String]) -> Result<()>;
    /// `close-port <port>[-<to>]/<protocol> [--endpoints e1,e2]`.
    fn close_port(&self, port: &OpenedPort, endpoints: &[String]) -> Result<()>;
    /// `opened-ports --format=json`.
    fn opened_ports(&self) -> Result<Vec<OpenedPort>>;
    /// `network-get --format=json <binding> [-r <relation id>]`: the binding's
    /// addresses (as seen from that relation, when given).
    fn network_get(&self, binding: &str, relation_id: Option<u32>) -> Result<serde_json::Value>;
    /// `goal-state --format=json`.
    fn goal_state(&self) -> Result<serde_json::Value>;
    /// `resource-get <name>`: the path of the resource's file.
    fn resource_get(&self, name: &str) -> Result<PathBuf>;

    /// `action-get --format=json`: the action's parameters.
    fn action_get(&self) -> Result<serde_json::Map<String, serde_json::Value>>;
    /// `action-set k=v...`: results, keys flattened with dots (`a.b=v`).
    fn action_set(&self, results: &StringMap) -> Result<()>;
    /// `action-fail -- <message>`.
    fn action_fail(&self, message: &str) -> Result<()>;
    /// `action-log -- <message>`.
    fn action_log(&self, message: &str) -> Result<()>;

    /// `credential-get --format=json`: the cloud spec (trusted applications
    /// only). It holds credentials: never log it.
    fn credential_get(&self) -> Result<CloudSpec>;
    /// `secret-ids --format=json`: the ids of the secrets this unit (or its
    /// application) owns.
    fn secret_ids(&self) -> Result<Vec<String>>;
    /// `juju-reboot [--now]`: reboot the machine after the hook (or now).
    fn juju_reboot(&self, now: bool) -> Result<()>;
    /// `relation-model-get --format=json -r <name>:<id>`: the UUID of the
    /// model the remote application is in.
    fn relation_model_get(&self, relation: &RelationRef) -> Result<String>;

    /// `storage-list --format=json [<name>]`: the ids (`data/0`) of the
    /// unit's storage instances, of one storage if named.
    fn storage_list(&self, name: Option<&str>) -> Result<Vec<String>>;
    /// `storage-get --format=json -s <id> location`: where an instance is.
    fn storage_get_location(&self, id: &str) -> Result<PathBuf>;
    /// `storage-add <name>=<count>`: ask Juju for more instances (added
    /// after the hook).
    fn storage_add(&self, name: &str, count: u32) -> Result<()>;
}
