//! What the charm's `Context` tests share: the context, the workload's
//! files in a State, and whether PgBouncer was reloaded.

use ops_testing::context::{Context, State};
use ops_testing::fake_pebble::ServiceEvent;
use pgbouncer_k8s::PgbouncerK8sCharm;
use pgbouncer_k8s::auth::auth_user_for;
use pgbouncer_k8s::names::BackendUser;

/// The workload container.
pub const CONTAINER: &str = "pgbouncer";

/// Unit `n` of the application, in a context of the charm's own metadata.
pub fn ctx(n: u32) -> Context<PgbouncerK8sCharm> {
    Context::from_charm_dir(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .with_unit_id(n)
        // Where main.rs keeps it: through state-get and state-set.
        .with_state_location(ops::StateLocation::Juju)
}

/// The backend user the backend relation gives (what the auth user is
/// named after).
pub const BACKEND_USER: &str = "relation_id_7";

/// The auth user the charm makes on the backend for [`BACKEND_USER`].
pub fn auth_user() -> String {
    auth_user_for(&BackendUser::parse(BACKEND_USER).unwrap())
}

/// `state` with a backend that answers as postgresql-k8s does when asked
/// for secrets: the credentials in `secret-user`.
pub fn backend_ready(state: State) -> State {
    super::with_backend(
        state,
        &[
            ("endpoints", "127.0.0.1:5432"),
            ("username", BACKEND_USER),
            ("password", "backend-pw-never-logged"),
        ],
    )
}

/// A file of the workload container in `state`, if it is there.
pub fn file<'a>(state: &'a State, path: &str) -> Option<&'a str> {
    state.container(CONTAINER).and_then(|c| c.text(path))
}

/// Whether PgBouncer was restarted, signalled or started again.
pub fn reloaded(ctx: &Context<PgbouncerK8sCharm>) -> bool {
    ctx.service_events(CONTAINER).iter().any(|e| {
        e.service().starts_with("pgbouncer_")
            && matches!(e, ServiceEvent::Restart(_) | ServiceEvent::Signal { .. })
    })
}

/// The layer the charm runs PgBouncer with: one service per instance.
pub fn pgbouncer_layer(instances: usize) -> ops::pebble::Layer {
    use ops::pebble::{Override, Service, ServiceStartup};
    let mut layer = ops::pebble::Layer::default();
    for n in 0..instances {
        layer.services.insert(
            format!("pgbouncer_{n}"),
            Service {
                override_: Some(Override::Replace),
                command: Some(format!(
                    "pgbouncer {}",
                    pgbouncer_k8s::pgb_config::instance_ini_path(n)
                )),
                startup: Some(ServiceStartup::Enabled),
                ..Default::default()
            },
        );
    }
    layer
}
