//! The requirer's `dispatch`.

fn main() -> std::process::ExitCode {
    ops::main::<database_pair::requirer::Requirer>()
}
