//! What each unit serves: the files the leader renders and shares, the files
//! a follower takes from it, and making PgBouncer take them.
//!
//! The leader's config is never rendered from nothing when the application
//! already had one: the peer app databag (`cfg_file`) and the application's
//! secret (the auth file, [`crate::credentials`]) survive pod churn,
//! `juju refresh` and a change of leader, the workload container's files
//! do not. So the leader starts from its local files,
//! restores them from what it shared when they are gone, and renders the
//! default only when the application never had a config; applies the
//! options; points every `[databases]` entry at the current backend; and
//! adds the databases recorded for its clients. What it shares is never
//! poorer than what it restored.

use ops::Model;
use ops::model::Relation;

use crate::auth::{self, AuthFile};
use crate::credentials::Credentials;
use crate::error::StepError;
use crate::memory::Memory;
use crate::names::{ClientDatabase, READ_ONLY_SUFFIX};
use crate::peers::{self, CFG_FILE, LEADER_HOSTNAME};
use crate::pgb_config::{self, ConnParams, PgbConfig};
use crate::settings::Settings;
use crate::workload::{Pending, Workload, WorkloadError};

/// The files a unit serves.
#[derive(Debug, Clone)]
pub struct Files {
    /// `pgbouncer.ini`.
    pub config: PgbConfig,
    /// The auth file, once there is one.
    pub auth: Option<AuthFile>,
    /// Whether the backend relation gives usable credentials now.
    pub backend_ready: bool,
}

fn invalid(e: impl std::fmt::Display) -> WorkloadError {
    WorkloadError::InvalidFile {
        path: pgb_config::INI_PATH.to_string(),
        reason: e.to_string(),
    }
}

/// The files the leader serves now (see the module doc for where they come from).
pub fn leader_files(
    model: &Model,
    memory: &mut Memory,
    workload: &Workload,
    settings: &Settings,
) -> Result<Files, StepError> {
    let peers = peers::relation(model)?;
    let shared_config = match &peers {
        Some(peers) => peers::shared_config(model, peers)?,
        None => None,
    };
    let shared_auth = match &peers {
        Some(peers) => memory.credentials(model, peers)?.auth(),
        None => None,
    };
    // One that reads but does not validate is no source either: as the
    // base of the render it would fail every write of it.
    let local_config = readable(workload.read_valid_config());
    let instances = workload.instances();
    let mut config = match local_config.or(shared_config) {
        Some(config) => config,
        None => PgbConfig::default_for(
            instances,
            settings.max_db_connections,
            settings.listen_port,
            settings.pool_mode,
        )
        .map_err(invalid)?,
    };
    config
        .apply_settings(
            instances,
            settings.max_db_connections,
            settings.listen_port,
            settings.pool_mode,
        )
        .map_err(invalid)?;
    config.set_max_prepared_statements(settings.max_prepared_statements);
    config.set_peers(instances, settings.listen_port);
    // What the leader's PgBouncer takes is what is shared (each unit fits
    // it to its own again when it writes, for a refresh half-way through).
    let mut config = config.fitted_to(memory.workload_version.as_deref());
    // The secret is the application's auth file; the local one only
    // stands in where there is no peer relation to keep a secret for.
    let mut auth = match shared_auth {
        Some(auth) => Some(auth),
        None => readable(workload.read_auth_file()),
    };
    if let (Some(auth), Some(peers)) = (auth.as_mut(), &peers) {
        ensure_admin_user(model, memory, peers, auth)?;
        ensure_stats_user(model, memory, peers, auth)?;
    }
    add_stats_user(&mut config)?;
    let backend = memory.backend_info(model)?;
    let backend_ready = backend.is_some();
    if let Some(backend) = backend {
        let auth_user = backend.auth_user();
        if auth.as_ref().is_some_and(|a| a.contains_user(&auth_user)) {
            config.set_auth(&auth_user).map_err(invalid)?;
        }
        if let Some(access) = backend.primary() {
            let port = access.1.to_string();
            for (name, mut params) in config.databases() {
                params.insert("host", &access.0).map_err(invalid)?;
                params.insert("port", &port).map_err(invalid)?;
                config.set_database(&name, &params).map_err(invalid)?;
            }
            if let Some(peers) = &peers {
                for database in peers::live_client_records(model, peers)?.values() {
                    if config.database(database).is_none() {
                        config
                            .add_database(
                                database,
                                &[("host", &access.0), ("port", &port), ("dbname", database)],
                            )
                            .map_err(invalid)?;
                    }
                }
            }
            route_read_only(&mut config, backend.read_only.as_ref())?;
        }
    }
    Ok(Files {
        config,
        auth,
        backend_ready,
    })
}

/// Points `<db>_readonly` of every client database at the backend's
/// read-only endpoint (the replicas), or removes those entries when the
/// backend has none: a read-only route never pools to the primary.
fn route_read_only(
    config: &mut PgbConfig,
    read_only: Option<&(String, u16)>,
) -> Result<(), WorkloadError> {
    let databases = config.databases();
    let primaries: Vec<ClientDatabase> = databases
        .iter()
        .filter_map(|(name, _)| ClientDatabase::parse(name).ok())
        .collect();
    for (name, _) in &databases {
        let routed = name.strip_suffix(READ_ONLY_SUFFIX).is_some_and(|primary| {
            read_only.is_some() && primaries.iter().any(|p| p.as_str() == primary)
        });
        if name.ends_with(READ_ONLY_SUFFIX) && !routed {
            config.remove_database(name);
        }
    }
    let Some((host, port)) = read_only else {
        return Ok(());
    };
    let port = port.to_string();
    for primary in &primaries {
        if let Some(entry) = primary.read_only_entry() {
            config
                .set_database(
                    &entry,
                    &ConnParams::from_pairs([
                        ("host", host.as_str()),
                        ("port", &port),
                        ("dbname", primary.as_str()),
                    ])
                    .map_err(invalid)?,
                )
                .map_err(invalid)?;
        }
    }
    Ok(())
}

/// Puts the admin console user in the auth file, with the password kept in
/// the application's secret (made the first time), so that the charm and
/// the operator can use the console (`SHOW DATABASES`, `RELOAD`).
pub fn ensure_admin_user(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    auth: &mut AuthFile,
) -> Result<(), StepError> {
    ensure_console_user(model, memory, peers, auth, pgb_config::ADMIN_USER, |c| {
        &mut c.admin_password
    })
}

/// Puts the stats user ([`pgb_config::STATS_USER`], the metrics exporter's)
/// in the auth file with a SCRAM verifier of its password, kept in the
/// application's secret (made the first time) like the admin's: the
/// exporter reads PgBouncer's `SHOW` commands with it, and can do nothing
/// else (it is in `stats_users`, not `admin_users`).
pub fn ensure_stats_user(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    auth: &mut AuthFile,
) -> Result<(), StepError> {
    ensure_console_user(model, memory, peers, auth, pgb_config::STATS_USER, |c| {
        &mut c.stats_password
    })
}

/// A console user of the auth file whose password is `password_of` the
/// application's credentials: made the first time, then kept.
fn ensure_console_user(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    auth: &mut AuthFile,
    user: &str,
    password_of: fn(&mut Credentials) -> &mut Option<String>,
) -> Result<(), StepError> {
    let slot = password_of(memory.credentials(model, peers)?);
    let (password, made) = match slot {
        Some(password) => (password.clone(), false),
        None => {
            let password = auth::generate_password().map_err(invalid)?;
            *slot = Some(password.clone());
            (password, true)
        }
    };
    // The auth file and the password come from the same secret: checking
    // the verifier again (thousands of SCRAM iterations) would be wasted.
    // An older revision's md5 line is replaced (auth_type is SCRAM now).
    if made || auth.kind_of(user) != Some(auth::SecretKind::Scram) {
        auth.set_user(user, &password).map_err(invalid)?;
    }
    Ok(())
}

/// Adds [`pgb_config::STATS_USER`] to `stats_users` (kept sorted), keeping
/// whoever else is there.
pub fn add_stats_user(config: &mut PgbConfig) -> Result<(), WorkloadError> {
    let mut users: Vec<String> = config
        .user_list("stats_users")
        .into_iter()
        .map(String::from)
        .collect();
    if users.iter().any(|u| u == pgb_config::STATS_USER) {
        return Ok(());
    }
    users.push(pgb_config::STATS_USER.to_string());
    let users = users.join(",");
    config
        .set(pgb_config::PGBOUNCER, "stats_users", &users)
        .map_err(invalid)
}

/// A local file that cannot be read as PgBouncer's is not a source of truth:
/// it is logged and replaced.
fn readable<T>(file: Result<Option<T>, WorkloadError>) -> Option<T> {
    match file {
        Ok(file) => file,
        Err(e) => {
            tracing::warn!("ignoring a local file: {e}");
            None
        }
    }
}

/// Leader: renders [`leader_files`] with the settings in force, writes
/// them, shares them with the followers (with its hostname), and makes
/// PgBouncer take them. Nothing is rendered while no option was ever valid.
pub fn leader(model: &Model, memory: &mut Memory, workload: &Workload) -> Result<(), StepError> {
    let Some(settings) = memory.settings_in_force(model)?.settings else {
        tracing::warn!("not rendering the config: no valid options yet");
        return Ok(());
    };
    let files = leader_files(model, memory, workload, &settings)?;
    write(memory, workload, &files)?;
    share(model, memory, &files)?;
    take(memory, workload)?;
    Ok(())
}

/// Writes `files` into the workload, remembering what PgBouncer must do to
/// take them (persisted until it did).
pub fn write(memory: &mut Memory, workload: &Workload, files: &Files) -> Result<(), WorkloadError> {
    // What this unit's PgBouncer takes (the shared config keeps it all).
    let config = files.config.fitted_to(memory.workload_version.as_deref());
    let mut pending = workload.write_config(&config)?;
    if let Some(auth) = &files.auth {
        pending = pending.max(workload.write_auth_file(auth)?);
    }
    memory.pending = memory.pending.max(pending);
    Ok(())
}

/// Makes PgBouncer run and take what was written. A failure is remembered
/// (shown in the status, kept in unit state with the pending restart or
/// reload) and returned, so the handler logs it and defers; the pending
/// work is retried at the next hook that serves, `update-status` at the
/// latest, and never forgotten because the files are already written.
pub fn take(memory: &mut Memory, workload: &Workload) -> Result<(), WorkloadError> {
    match workload.apply(memory.pending, &mut memory.planned_layer) {
        Ok(()) => {
            memory.pending = Pending::None;
            memory.reload_failure = None;
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Pebble: PgBouncer did not take its files; will retry: {e}");
            memory.reload_failure = Some(e.to_string());
            Err(e)
        }
    }
}

/// Leader: shares [`leader_files`] with the followers, without touching the
/// workload (pgb-peers joined and changed: the local files are already
/// what the leader serves).
pub fn share_only(
    model: &Model,
    memory: &mut Memory,
    workload: &Workload,
) -> Result<(), StepError> {
    let Some(settings) = memory.settings_in_force(model)?.settings else {
        return Ok(());
    };
    let files = leader_files(model, memory, workload, &settings)?;
    share(model, memory, &files)
}

/// Puts the leader's config and hostname in the peer app databag, and the
/// auth file in the application's secret.
pub fn share(model: &Model, memory: &mut Memory, files: &Files) -> Result<(), StepError> {
    if memory.departing {
        return Ok(());
    }
    let Some(peers) = peers::relation(model)? else {
        return Ok(());
    };
    share_in(model, memory, &peers, files)
}

/// Puts `files` where the followers take them: the config in the peer app
/// databag always; the auth file in the secret once the backend is ready
/// and the config authenticates through it.
fn share_in(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    files: &Files,
) -> Result<(), StepError> {
    let bag = model.local_app_data(peers);
    bag.set(CFG_FILE, &files.config.render())?;
    if let Some(auth) = files
        .auth
        .as_ref()
        .filter(|_| files.backend_ready && files.config.has_auth_query())
    {
        memory.credentials(model, peers)?.auth_file = Some(auth.render());
    }
    memory.save_credentials(model, peers)?;
    bag.set(LEADER_HOSTNAME, &peers::own_hostname(model))?;
    Ok(())
}

/// Leader: stops serving `database` (its last client relation went).
pub fn drop_database(
    model: &Model,
    memory: &mut Memory,
    workload: &Workload,
    database: &str,
) -> Result<(), StepError> {
    let Some(settings) = memory.settings_in_force(model)?.settings else {
        return Ok(());
    };
    let mut files = leader_files(model, memory, workload, &settings)?;
    if files.config.remove_database(database) {
        files
            .config
            .remove_database(&format!("{database}{READ_ONLY_SUFFIX}"));
        write(memory, workload, &files)?;
        share(model, memory, &files)?;
        take(memory, workload)?;
    }
    Ok(())
}

/// Leader: the backend relation went; PgBouncer serves no database and
/// authenticates no one until a new backend is related. Client records stay,
/// so their users come back with the next backend.
pub fn drop_backend(
    model: &Model,
    memory: &mut Memory,
    workload: &Workload,
) -> Result<(), StepError> {
    let Some(settings) = memory.settings_in_force(model)?.settings else {
        return Ok(());
    };
    let mut files = leader_files(model, memory, workload, &settings)?;
    files.config.clear_auth();
    for (name, _) in files.config.databases() {
        files.config.remove_database(&name);
    }
    write(memory, workload, &files)?;
    if let Some(peers) = peers::relation(model)?
        && !memory.departing
    {
        files.backend_ready = false;
        share_in(model, memory, &peers, &files)?;
    }
    take(memory, workload)?;
    Ok(())
}

/// Follower: writes the config the leader shares (when valid) and the auth
/// file of the application's secret, and makes PgBouncer take them. False
/// when the leader shared no config yet.
pub fn follower(
    model: &Model,
    memory: &mut Memory,
    peers: &Relation,
    workload: &Workload,
) -> Result<bool, StepError> {
    let config = peers::shared_config(model, peers)?;
    let auth = memory.credentials(model, peers)?.auth();
    let Some(config) = config else {
        if let Some(auth) = &auth {
            memory.pending = memory.pending.max(workload.write_auth_file(auth)?);
            take(memory, workload)?;
        }
        return Ok(false);
    };
    write(
        memory,
        workload,
        &Files {
            config,
            auth,
            backend_ready: false,
        },
    )?;
    take(memory, workload)?;
    Ok(true)
}
