//! The `pgb-peers` relation's handlers, step by step as the flowcharts of
//! `docs/pgbouncer-k8s.md` (the user's document) draw them: each step of a
//! chart is a function here, called in the chart's order.
//!
//! relation-created:
//! ```text
//! save own hostname in own unit databag
//! if not leader: return
//! if the local pgbouncer config is not there yet: defer; return
//! put the config (rendered) into the app databag as cfg_file
//! if the backend database is not ready: defer; return
//! put the auth file into the secret store
//! ```
//! relation-joined and relation-changed:
//! ```text
//! save own hostname in own unit databag
//! update client relations' connection info
//! if leader: if the local config is not there: defer; return
//!            put the config into the app databag; set leader_hostname; return
//! follower: write what the leader shares (config, auth file); reload if changed
//! ```

use ops::model::Relation;
use ops::{Model, Outcome};

use crate::answers;
use crate::error::StepError;
use crate::memory::Memory;
use crate::peers::{self, CFG_FILE};
use crate::pgb_config::PgbConfig;
use crate::serve;
use crate::situation::Situation;
use crate::workload::{CONTAINER, Workload};

/// pgb-peers relation-created.
pub fn on_created(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    workload: &Workload,
) -> Result<Outcome, StepError> {
    let Some(peers) = &situation.peers else {
        return Ok(Outcome::Done);
    };
    save_own_hostname(model, peers)?;
    if !situation.leader {
        return Ok(Outcome::Done);
    }
    if !local_config_is_there(situation, workload) {
        return Ok(Outcome::Defer);
    }
    put_config_into_app_databag(model, memory, peers, workload)?;
    if !backend_database_is_ready(model, memory, workload)? {
        return Ok(Outcome::Defer);
    }
    put_auth_file_into_secret_store(model, memory, peers, workload)?;
    Ok(Outcome::Done)
}

/// pgb-peers relation-joined and relation-changed.
pub fn on_joined_or_changed(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    workload: &Workload,
) -> Result<Outcome, StepError> {
    let Some(peers) = &situation.peers else {
        return Ok(Outcome::Done);
    };
    save_own_hostname(model, peers)?;
    update_client_connection_info(model, memory, situation)?;
    if situation.leader {
        // A leader with no files yet (nothing rendered, nothing shared)
        // waits for start or pebble-ready to render them.
        if !situation.pebble_up || nothing_rendered_or_shared(model, peers, workload)? {
            return Ok(Outcome::Defer);
        }
        share_config_and_leader_hostname(model, memory, workload)?;
        return Ok(Outcome::Done);
    }
    forget_the_departed_leader_once_a_new_one_published(model, memory, peers)?;
    if !peers::leader_shared_anything(model, peers)? {
        return Ok(Outcome::Done);
    }
    if !situation.pebble_up {
        tracing::info!("Pebble in {CONTAINER} is not ready; deferring");
        return Ok(Outcome::Defer);
    }
    write_what_the_leader_shares_and_reload_if_changed(model, memory, peers, workload)?;
    Ok(Outcome::Done)
}

/// pgb-peers relation-departed (on a unit that stays): the leader points
/// the clients at itself again; a follower that saw the leader's unit go
/// waits for a new leader.
pub fn on_departed(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
    departed_unit: Option<&str>,
) -> Result<(), StepError> {
    let Some(peers) = &situation.peers else {
        return Ok(());
    };
    if situation.leader {
        model
            .local_app_data(peers)
            .set(peers::LEADER_HOSTNAME, &peers::own_hostname(model))?;
        return update_client_connection_info(model, memory, situation);
    }
    let leader = model.local_app_data(peers).get(peers::LEADER_HOSTNAME)?;
    if let (Some(departed), Some(leader)) = (departed_unit, leader)
        && peers::unit_hostname(departed, model.name()) == leader
    {
        memory.departed_leader = Some(leader);
    }
    Ok(())
}

/// "save own hostname in own unit databag"
fn save_own_hostname(model: &Model, peers: &Relation) -> Result<(), StepError> {
    Ok(peers::publish_hostname(model, peers)?)
}

/// "if the local pgbouncer config is not there yet"
fn local_config_is_there(situation: &Situation, workload: &Workload) -> bool {
    situation.pebble_up && !matches!(workload.read_config(), Ok(None))
}

/// "put the config (rendered) into the app databag as cfg_file": the
/// leader's config as it serves it (restored from what the application
/// already had), never a poorer local copy.
///
/// Nothing to do when `cfg_file` already is the config this leader serves:
/// so it is each time Juju re-emits this event while the backend is not
/// ready (once a hook, before the hook's own event, whose handler renders
/// whatever that event changed). A full render there cost each such hook
/// its Pebble calls, and half of a unit test's time.
fn put_config_into_app_databag(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    workload: &Workload,
) -> Result<(), StepError> {
    if config_already_shared(model, peers, workload)? {
        return Ok(());
    }
    serve::leader(model, memory, workload)
}

/// Whether the app databag's `cfg_file` is, to the byte, the config this
/// unit's PgBouncer runs with, and a valid one: a config that does not
/// validate is replaced by the serve, never kept for being in both places.
fn config_already_shared(
    model: &Model,
    peers: &Relation,
    workload: &Workload,
) -> Result<bool, StepError> {
    let Some(shared) = model.local_app_data(peers).get(CFG_FILE)? else {
        return Ok(false);
    };
    Ok(workload.config_text()?.as_deref() == Some(shared.as_str())
        && PgbConfig::parse_valid_cached(&shared).is_ok())
}

/// "if the backend database is not ready": ready is the relation giving
/// endpoints, username and password, `auth_query` in the config, and the
/// auth file. The config first: it is at hand, where the backend's answer
/// is read and checked (its databag and its secret).
fn backend_database_is_ready(
    model: &Model,
    memory: &mut Memory,
    workload: &Workload,
) -> Result<bool, StepError> {
    let Some(config) = workload.read_config()? else {
        return Ok(false);
    };
    if !config.has_auth_query() || memory.backend_info(model)?.is_none() {
        return Ok(false);
    }
    Ok(matches!(workload.read_auth_file(), Ok(Some(_))))
}

/// "put the auth file into the secret store": the share of the step before
/// puts it in the application's secret once the backend is ready (and
/// moves the counter that tells the followers); shared again only if it
/// is somehow not there.
fn put_auth_file_into_secret_store(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    workload: &Workload,
) -> Result<(), StepError> {
    if memory.credentials(model, peers)?.auth_file.is_none() {
        serve::share_only(model, memory, workload)?;
    }
    Ok(())
}

/// "update client relations' connection info"
fn update_client_connection_info(
    model: &Model,
    memory: &mut Memory,
    situation: &Situation,
) -> Result<(), StepError> {
    answers::update_connection_info(model, memory, situation)
}

/// "if the local config is not there" (leader): nothing rendered here and
/// nothing shared yet.
fn nothing_rendered_or_shared(
    model: &Model,
    peers: &Relation,
    workload: &Workload,
) -> Result<bool, StepError> {
    Ok(model.local_app_data(peers).get(CFG_FILE)?.is_none()
        && matches!(workload.read_config(), Ok(None)))
}

/// "put the config into the app databag as cfg_file; set leader_hostname
/// to own hostname"
fn share_config_and_leader_hostname(
    model: &Model,
    memory: &mut Memory,
    workload: &Workload,
) -> Result<(), StepError> {
    serve::share_only(model, memory, workload)
}

/// A follower that saw the leader's unit go waits until a new leader
/// publishes its hostname.
fn forget_the_departed_leader_once_a_new_one_published(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
) -> Result<(), StepError> {
    let leader = model.local_app_data(peers).get(peers::LEADER_HOSTNAME)?;
    if memory.departed_leader.is_some() && leader.is_some() && leader != memory.departed_leader {
        memory.departed_leader = None;
    }
    Ok(())
}

/// "if the app databag holds a valid cfg_file: write it locally; if the
/// secret store holds a valid auth file: write it locally; if the config or
/// the auth file changed on disk: reload PgBouncer"
fn write_what_the_leader_shares_and_reload_if_changed(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    workload: &Workload,
) -> Result<(), StepError> {
    serve::follower(model, memory, peers, workload).map(|_| ())
}
