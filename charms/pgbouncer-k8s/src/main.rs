//! The binary Juju runs as `dispatch`.

fn main() -> std::process::ExitCode {
    ops::main::<pgbouncer_k8s::PgbouncerK8sCharm>()
}
