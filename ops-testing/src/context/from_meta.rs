//! A State made from the charm's metadata (Python `ops.testing`'s
//! `State.from_context`): every declared relation related, every
//! container up, every storage attached, every option at its default.

use ops::Charm;

use super::Context;
use super::consistency::declared_kind;
use super::state::{Container, Relation, RelationKind, State, Storage};

/// The remote application of a subordinate relation the metadata alone
/// describes (`Relation::new` gives a regular one the same name).
const REMOTE_APP: &str = "remote";

impl State {
    /// `given`, completed with what the context's metadata declares and it
    /// lacks (Python's `State.from_context(ctx, ...)`, whose keyword
    /// arguments are `given` here): a relation on each endpoint with none
    /// (a peer relation on peer endpoints, a subordinate one with unit
    /// `remote/0` on container-scoped ones, with the declared interface),
    /// each container with Pebble answering, each storage attached once,
    /// and each option with a default at that default. What `given` has
    /// stays as it is: its relations, containers, storages and config values
    /// win over the generated ones.
    ///
    /// It is the Juju state of a unit whose application is integrated with
    /// everything it can be, before any data is exchanged. Stored state is
    /// not generated: the charm registers it when it runs.
    ///
    /// ```
    /// use ops_testing::context::{Context, Relation, RelationKind, State};
    /// # struct C;
    /// # impl ops::Charm for C {
    /// #     fn new(_: &mut ops::Framework<Self>) -> Result<Self, ops::HandlerError> { Ok(C) }
    /// # }
    /// let ctx = Context::<C>::new(
    ///     "name: c\n\
    ///      peers: {replicas: {interface: c_replicas}}\n\
    ///      requires: {db: {interface: pg}}\n\
    ///      containers: {app: {}}\n\
    ///      config: {options: {port: {type: int, default: 80}}}\n",
    /// )
    /// .unwrap();
    /// let state = State::from_context(&ctx, State::default().with_leader(true));
    /// assert!(state.leader);
    /// assert_eq!(state.relations.len(), 2);
    /// assert!(state.relations.iter().any(|r| r.endpoint == "replicas" && r.kind == RelationKind::Peer));
    /// assert!(state.containers[0].can_connect);
    /// assert_eq!(state.config["port"], 80);
    /// ```
    pub fn from_context<C: Charm>(ctx: &Context<C>, given: State) -> State {
        let meta = ctx.meta();
        let mut state = given;
        for (name, option) in &meta.config {
            if let Some(default) = &option.default {
                state
                    .config
                    .entry(name.clone())
                    .or_insert_with(|| default.clone());
            }
        }
        for (endpoint, declared) in &meta.endpoints {
            if state.relations.iter().any(|r| &r.endpoint == endpoint) {
                continue;
            }
            let relation = match declared_kind(meta, endpoint) {
                Some(RelationKind::Peer) => Relation::peer(endpoint),
                Some(RelationKind::Subordinate) => Relation::subordinate(endpoint, REMOTE_APP, 0),
                Some(RelationKind::Regular) | None => Relation::new(endpoint),
            };
            state
                .relations
                .push(relation.with_interface(&declared.interface));
        }
        for name in meta.containers.keys() {
            if !state.containers.iter().any(|c| &c.name == name) {
                state
                    .containers
                    .push(Container::new(name).with_can_connect(true));
            }
        }
        for name in meta.storage.keys() {
            if !state.storages.iter().any(|s| &s.name == name) {
                state.storages.push(Storage::new(name));
            }
        }
        state
    }
}
