//! What the charm remembers: between dispatches (in Juju's unit state, so it
//! survives pod churn), and within one dispatch (the application's
//! credentials, read from their secret at most once; the backend's answer,
//! read and checked at most once).
//!
//! Every handler module takes a `&mut Memory`; this module imports no
//! handler module, so the relation modules call down into it, never
//! sideways through the charm.

use std::collections::{BTreeMap, BTreeSet};

use ops::Model;
use ops::model::{ModelError, Relation};
use serde::{Deserialize, Serialize};

use crate::backend_info::{self, BACKEND, BackendInfo, BackendState};
use crate::credentials::{Credentials, CredentialsError, Source};
use crate::settings::{InvalidOption, Settings};
use crate::workload::Pending;

/// What the charm remembers between dispatches. Every field has a default:
/// a new field reads as its default from state saved by an older charm.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    /// The hostname of the leader this follower saw depart, until a new
    /// leader publishes its own.
    pub departed_leader: Option<String>,
    /// Why the last backend step could not finish (a database or Pebble failure).
    pub backend_waiting: Option<String>,
    /// This unit is being removed (it saw itself as the departing unit).
    pub departing: bool,
    /// What PgBouncer must still do to take files already written; kept
    /// until Pebble did it.
    pub pending: Pending,
    /// Why PgBouncer could not be made to take its files, until it was.
    pub reload_failure: Option<String>,
    /// Client relations whose request was refused, and why (leader).
    pub refused_clients: BTreeMap<u32, String>,
    /// Why PgBouncer did not answer when update-status last asked.
    pub unanswered: Option<String>,
    /// The last settings that were valid: in force while an option is bad.
    pub last_good_settings: Option<Settings>,
    /// Client relations whose user could not be revoked yet, and why
    /// (leader; retried from update-status).
    pub unrevoked: BTreeMap<u32, String>,
    /// Why the application's secret could not be read, until it could.
    pub secret_unreadable: Option<String>,
    /// Why the auth user could not be removed from the departing backend.
    pub auth_user_cleanup: Option<String>,
    /// The port this unit opened (on the application's Service).
    pub opened_port: Option<u16>,
    /// The workload version this unit last set (PgBouncer's).
    pub workload_version: Option<String>,
    /// The Loki units whose log targets this unit enabled in its plan (to
    /// disable when they go, without reading the plan).
    pub loki_targets: BTreeSet<String>,
    /// The CA bundle of the certificate this unit serves clients with
    /// (public; the leader tells clients), while it has one.
    pub client_tls_ca: Option<String>,
    /// Why this unit's certificate could not be used, until it could.
    pub client_tls_problem: Option<String>,
    /// A digest of the PgBouncer layer this unit last put in Pebble's plan
    /// ([`Workload::apply`](crate::workload::Workload::apply) adds it again
    /// only when it changed or the plan lost it).
    pub planned_layer: Option<String>,
    /// The credentials as read in this dispatch (never persisted).
    #[serde(skip)]
    credentials: Option<(Credentials, Source)>,
    /// The backend's state as read in this dispatch, with its relation's
    /// id (never persisted).
    #[serde(skip)]
    backend: Option<(u32, BackendState)>,
}

/// The settings in force, and the option that is bad if one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    /// What is rendered and told to clients: the options when they are
    /// valid, else the last valid ones (`None` if there never were any).
    pub settings: Option<Settings>,
    /// The bad option, for the status.
    pub invalid: Option<InvalidOption>,
}

impl Memory {
    /// The one place that decides the settings in force: the options when
    /// they are valid (remembered as the last good ones), else the last
    /// good ones, so that one bad option changes nothing that is rendered,
    /// shared or told to clients.
    pub fn settings_in_force(&mut self, model: &Model) -> Result<InForce, ModelError> {
        match Settings::from_model(model)? {
            Ok(settings) => {
                if self.last_good_settings.as_ref() != Some(&settings) {
                    self.last_good_settings = Some(settings.clone());
                }
                Ok(InForce {
                    settings: Some(settings),
                    invalid: None,
                })
            }
            Err(invalid) => Ok(InForce {
                settings: self.last_good_settings.clone(),
                invalid: Some(invalid),
            }),
        }
    }

    /// The settings in force, or the defaults when no option was ever valid
    /// (for what must be answered anyway, such as a port to probe).
    pub fn settings_or_default(&mut self, model: &Model) -> Result<Settings, ModelError> {
        Ok(self.settings_in_force(model)?.settings.unwrap_or_default())
    }

    /// The application's credentials, read from their secret the first
    /// time in this dispatch. A failure to read is remembered for the status.
    pub fn credentials(
        &mut self,
        model: &Model,
        peers: &Relation,
    ) -> Result<&mut Credentials, CredentialsError> {
        let loaded = match self.credentials.take() {
            Some(loaded) => loaded,
            None => match Credentials::load(model, peers) {
                Ok(loaded) => {
                    self.secret_unreadable = None;
                    loaded
                }
                Err(e) => {
                    if let CredentialsError::Unreadable { .. } = &e {
                        self.secret_unreadable = Some(e.to_string());
                    }
                    return Err(e);
                }
            },
        };
        Ok(&mut self.credentials.insert(loaded).0)
    }

    /// The backend's state in `relation`, read and checked
    /// ([`backend_info::state_in`]) the first time in this dispatch. A
    /// hook sees the remote application's databag and secrets as they were
    /// when it began, whatever it writes itself, so each step that asks
    /// gets the same answer (and paid for reading it).
    pub fn backend_state(
        &mut self,
        model: &Model,
        relation: &Relation,
    ) -> Result<BackendState, ModelError> {
        if let Some((id, state)) = &self.backend
            && *id == relation.id.id
        {
            return Ok(state.clone());
        }
        let state = backend_info::state_in(model, relation)?;
        self.backend = Some((relation.id.id, state.clone()));
        Ok(state)
    }

    /// The backend's connection data in `relation`, if it is ready
    /// ([`backend_state`](Self::backend_state)).
    pub fn backend_info_in(
        &mut self,
        model: &Model,
        relation: &Relation,
    ) -> Result<Option<BackendInfo>, ModelError> {
        Ok(self.backend_state(model, relation)?.info())
    }

    /// The backend's connection data, if the relation exists and the
    /// backend is ready ([`backend_state`](Self::backend_state)).
    pub fn backend_info(&mut self, model: &Model) -> Result<Option<BackendInfo>, ModelError> {
        match model.relation(BACKEND)? {
            Some(relation) => self.backend_info_in(model, &relation),
            None => Ok(None),
        }
    }

    /// Leader: keeps the credentials changed in this dispatch (a new
    /// revision of the secret; nothing when they did not change).
    pub fn save_credentials(&mut self, model: &Model, peers: &Relation) -> Result<(), ModelError> {
        if let Some((credentials, source)) = self.credentials.as_mut() {
            credentials.save(model, peers, source)?;
        }
        Ok(())
    }
}
