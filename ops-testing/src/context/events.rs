//! [`Event`]: the Juju event a [`Context`](super::Context) runs, made by the
//! typed constructors of [`On`] (`ctx.on.relation_changed(&rel)`).

use serde_json::{Value, json};

use super::state::{Container, Relation, Secret, Storage};

/// The family of an event: what it is about, for the consistency checker
/// and for the `JUJU_*` environment.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A charm-wide event (`install`, `config-changed`, ...).
    Charm,
    /// A relation event.
    Relation {
        /// The relation's id.
        relation: u32,
        /// The remote unit (`JUJU_REMOTE_UNIT`) by number.
        remote_unit: Option<u32>,
        /// The departing unit (`JUJU_DEPARTING_UNIT`) by number, for
        /// relation-departed; `None` for a remote unit of the relation,
        /// `Some` of this unit's own number when this unit leaves.
        departing_unit: Option<u32>,
    },
    /// A Pebble event.
    Workload {
        /// The container.
        container: String,
        /// `JUJU_NOTICE_ID`, `JUJU_NOTICE_TYPE`, `JUJU_NOTICE_KEY` (custom notices).
        notice: Option<(String, String, String)>,
        /// `JUJU_PEBBLE_CHECK_NAME` (check events).
        check: Option<String>,
    },
    /// A secret event.
    Secret {
        /// The secret's id.
        secret: String,
        /// The revision (secret-expired, secret-remove).
        revision: Option<u64>,
    },
    /// A storage event.
    Storage {
        /// The storage name.
        name: String,
        /// The instance number.
        index: u32,
    },
    /// An action.
    Action {
        /// The action name from the metadata.
        name: String,
        /// Its parameters.
        params: serde_json::Map<String, Value>,
        /// `JUJU_ACTION_UUID`.
        id: String,
    },
}

/// One Juju event to run: its hook name and what it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The hook name (`install`, `pgb-peers-relation-changed`,
    /// `pgbouncer-pebble-ready`, or the action's name).
    pub hook: String,
    /// What it is about.
    pub kind: EventKind,
}

impl Event {
    fn charm(hook: &str) -> Self {
        Self {
            hook: hook.to_string(),
            kind: EventKind::Charm,
        }
    }

    /// The event's full name as ops emits it (`pgb_peers_relation_changed`).
    pub fn name(&self) -> String {
        match &self.kind {
            EventKind::Action { name, .. } => format!("{}_action", name.replace('-', "_")),
            _ => self.hook.replace('-', "_"),
        }
    }

    /// The same relation event sent by remote unit `unit` (by number: a peer
    /// of this application, or a unit of the remote application).
    ///
    /// # Panics
    /// If this is not a relation event (a test's mistake).
    pub fn with_remote_unit(mut self, unit: u32) -> Self {
        match &mut self.kind {
            EventKind::Relation { remote_unit, .. } => *remote_unit = Some(unit),
            _ => panic!("{}: only relation events have a remote unit", self.hook),
        }
        self
    }

    /// The same relation event without a remote unit (a change of the
    /// remote application's databag).
    ///
    /// # Panics
    /// If this is not a relation event (a test's mistake).
    pub fn without_remote_unit(mut self) -> Self {
        match &mut self.kind {
            EventKind::Relation { remote_unit, .. } => *remote_unit = None,
            _ => panic!("{}: only relation events have a remote unit", self.hook),
        }
        self
    }

    /// The id of the relation this event is about, if it is a relation event.
    pub fn relation_id(&self) -> Option<u32> {
        match self.kind {
            EventKind::Relation { relation, .. } => Some(relation),
            _ => None,
        }
    }

    /// The event's data as ops snapshots it (what a deferred notice holds),
    /// `remote_app` being the relation's other application.
    pub(crate) fn snapshot(&self, remote_app: &str) -> Value {
        let app = remote_app;
        match &self.kind {
            EventKind::Charm => json!({}),
            EventKind::Relation {
                relation,
                remote_unit,
                departing_unit,
            } => {
                let endpoint = self
                    .hook
                    .rsplit_once("-relation-")
                    .map_or(self.hook.as_str(), |(e, _)| e);
                json!({
                    "relation": {"name": endpoint, "id": relation},
                    "app": app,
                    "unit": remote_unit.map(|n| format!("{app}/{n}")),
                    "departing_unit": departing_unit.map(|n| format!("{app}/{n}")),
                })
            }
            EventKind::Workload {
                container,
                notice,
                check,
            } => match (notice, check) {
                (Some((id, kind, key)), _) => {
                    json!({"container": container, "notice_id": id, "notice_type": kind, "notice_key": key})
                }
                (None, Some(check)) => json!({"container": container, "check": check}),
                (None, None) => json!({"container": container}),
            },
            EventKind::Secret { secret, revision } => {
                json!({"id": secret, "label": null, "revision": revision})
            }
            EventKind::Storage { name, index } => {
                json!({"name": name, "id": format!("{name}/{index}")})
            }
            EventKind::Action { name, params, id } => {
                json!({"name": name, "id": id, "params": params})
            }
        }
    }
}

/// The typed event constructors, as `ctx.on`: one per Juju event.
///
/// ```
/// use ops_testing::context::{On, Relation};
///
/// let peers = Relation::peer("pgb-peers").with_remote_unit(1, []);
/// let event = On.relation_changed(&peers).with_remote_unit(1);
/// assert_eq!(event.hook, "pgb-peers-relation-changed");
/// assert_eq!(event.name(), "pgb_peers_relation_changed");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct On;

macro_rules! charm_events {
    ($($(#[$doc:meta])* $fn:ident => $hook:literal),* $(,)?) => {
        impl On {
            $(
                $(#[$doc])*
                pub fn $fn(&self) -> Event {
                    Event::charm($hook)
                }
            )*
        }
    };
}

charm_events! {
    /// `install`
    install => "install",
    /// `start`
    start => "start",
    /// `stop`
    stop => "stop",
    /// `remove`
    remove => "remove",
    /// `update-status`
    update_status => "update-status",
    /// `config-changed`
    config_changed => "config-changed",
    /// `upgrade-charm`
    upgrade_charm => "upgrade-charm",
    /// `leader-elected`
    leader_elected => "leader-elected",
    /// `leader-settings-changed`
    leader_settings_changed => "leader-settings-changed",
    /// `pre-series-upgrade`
    pre_series_upgrade => "pre-series-upgrade",
    /// `post-series-upgrade`
    post_series_upgrade => "post-series-upgrade",
    /// `collect-metrics` (a restricted hook: most tools refuse)
    collect_metrics => "collect-metrics",
}

impl On {
    fn relation(relation: &Relation, kind: &str, remote_unit: Option<u32>) -> Event {
        Event {
            hook: format!("{}-relation-{kind}", relation.endpoint),
            kind: EventKind::Relation {
                relation: relation.id,
                remote_unit,
                departing_unit: None,
            },
        }
    }

    fn first_remote(relation: &Relation) -> Option<u32> {
        relation.remote_units_data.keys().next().copied()
    }

    /// `<endpoint>-relation-created`: no remote unit.
    pub fn relation_created(&self, relation: &Relation) -> Event {
        Self::relation(relation, "created", None)
    }

    /// `<endpoint>-relation-joined`, sent by the relation's first remote unit
    /// (another with [`Event::with_remote_unit`]).
    pub fn relation_joined(&self, relation: &Relation) -> Event {
        Self::relation(relation, "joined", Self::first_remote(relation))
    }

    /// `<endpoint>-relation-changed`, sent by the relation's first remote
    /// unit (another with [`Event::with_remote_unit`], none for a change of
    /// the remote application's bag with [`Event::without_remote_unit`]).
    pub fn relation_changed(&self, relation: &Relation) -> Event {
        Self::relation(relation, "changed", Self::first_remote(relation))
    }

    /// `<endpoint>-relation-departed` of remote unit `unit`, which leaves
    /// (it must not be among the relation's remote units any more: Juju
    /// lists it no longer).
    pub fn relation_departed(&self, relation: &Relation, unit: u32) -> Event {
        Event {
            kind: EventKind::Relation {
                relation: relation.id,
                remote_unit: Some(unit),
                departing_unit: Some(unit),
            },
            ..Self::relation(relation, "departed", None)
        }
    }

    /// `<endpoint>-relation-departed` on this unit as it leaves
    /// (`juju remove-unit`), about remote unit `remote` (by number), with
    /// this unit (number `own`) as the departing unit.
    pub fn relation_departed_self(&self, relation: &Relation, remote: u32, own: u32) -> Event {
        Event {
            kind: EventKind::Relation {
                relation: relation.id,
                remote_unit: Some(remote),
                departing_unit: Some(own),
            },
            ..Self::relation(relation, "departed", None)
        }
    }

    /// `<endpoint>-relation-broken`.
    pub fn relation_broken(&self, relation: &Relation) -> Event {
        Self::relation(relation, "broken", None)
    }

    fn workload(container: &Container, kind: &str) -> Event {
        Event {
            hook: format!("{}-{kind}", container.name),
            kind: EventKind::Workload {
                container: container.name.clone(),
                notice: None,
                check: None,
            },
        }
    }

    /// `<container>-pebble-ready`.
    pub fn pebble_ready(&self, container: &Container) -> Event {
        Self::workload(container, "pebble-ready")
    }

    /// `<container>-pebble-custom-notice` for notice `id` of `key` (type `custom`).
    pub fn pebble_custom_notice(&self, container: &Container, id: &str, key: &str) -> Event {
        let mut event = Self::workload(container, "pebble-custom-notice");
        if let EventKind::Workload { notice, .. } = &mut event.kind {
            *notice = Some((id.to_string(), "custom".to_string(), key.to_string()));
        }
        event
    }

    fn check(container: &Container, kind: &str, name: &str) -> Event {
        let mut event = Self::workload(container, kind);
        if let EventKind::Workload { check, .. } = &mut event.kind {
            *check = Some(name.to_string());
        }
        event
    }

    /// `<container>-pebble-check-failed` for check `check`.
    pub fn pebble_check_failed(&self, container: &Container, check: &str) -> Event {
        Self::check(container, "pebble-check-failed", check)
    }

    /// `<container>-pebble-check-recovered` for check `check`.
    pub fn pebble_check_recovered(&self, container: &Container, check: &str) -> Event {
        Self::check(container, "pebble-check-recovered", check)
    }

    fn secret(hook: &str, secret: &Secret, revision: Option<u64>) -> Event {
        Event {
            hook: hook.to_string(),
            kind: EventKind::Secret {
                secret: secret.id.clone(),
                revision,
            },
        }
    }

    /// `secret-changed`, on an observer: the owner made a new revision.
    pub fn secret_changed(&self, secret: &Secret) -> Event {
        Self::secret("secret-changed", secret, None)
    }

    /// `secret-rotate`, on the owner.
    pub fn secret_rotate(&self, secret: &Secret) -> Event {
        Self::secret("secret-rotate", secret, None)
    }

    /// `secret-expired` of `revision`, on the owner.
    pub fn secret_expired(&self, secret: &Secret, revision: u64) -> Event {
        Self::secret("secret-expired", secret, Some(revision))
    }

    /// `secret-remove` of `revision` (no observer tracks it any more), on the owner.
    pub fn secret_remove(&self, secret: &Secret, revision: u64) -> Event {
        Self::secret("secret-remove", secret, Some(revision))
    }

    fn storage(storage: &Storage, kind: &str) -> Event {
        Event {
            hook: format!("{}-storage-{kind}", storage.name),
            kind: EventKind::Storage {
                name: storage.name.clone(),
                index: storage.index,
            },
        }
    }

    /// `<storage>-storage-attached`.
    pub fn storage_attached(&self, storage: &Storage) -> Event {
        Self::storage(storage, "attached")
    }

    /// `<storage>-storage-detaching`.
    pub fn storage_detaching(&self, storage: &Storage) -> Event {
        Self::storage(storage, "detaching")
    }

    /// The action `name` with `params` (for [`Context::run_action`](super::Context::run_action)).
    pub fn action<'a>(
        &self,
        name: &str,
        params: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> Event {
        Event {
            hook: name.to_string(),
            kind: EventKind::Action {
                name: name.to_string(),
                params: params
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                id: "1".to_string(),
            },
        }
    }
}
