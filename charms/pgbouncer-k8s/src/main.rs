//! The binary Juju runs as `dispatch`.

use ops::{MainOptions, StateLocation};

fn main() -> std::process::ExitCode {
    // On Kubernetes the charm directory goes with the pod: stored state and
    // deferred events live in Juju's unit state, which does not.
    // The metadata is compiled in from charmcraft.yaml (build.rs): no YAML
    // to parse at every hook.
    ops::main_with::<pgbouncer_k8s::PgbouncerK8sCharm>(
        MainOptions::new()
            .with_state(StateLocation::Juju)
            .with_compiled_meta(pgbouncer_k8s::meta::CHARM_META_JSON),
    )
}
