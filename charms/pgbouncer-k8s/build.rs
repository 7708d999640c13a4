//! Generates `meta.rs` in `OUT_DIR` from `charmcraft.yaml`: the charm's
//! endpoints, containers, resources, actions and config as typed items
//! (`pgbouncer_k8s::meta`), so that a misspelt name does not compile.

fn main() {
    ops::codegen::build_script_main();
}
