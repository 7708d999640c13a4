//! The binary Juju runs as `dispatch`.

fn main() -> std::process::ExitCode {
    ops::main::<tls_requirer::TlsRequirer>()
}
