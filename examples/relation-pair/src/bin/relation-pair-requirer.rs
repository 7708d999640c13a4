//! The requirer's `dispatch`.

fn main() -> std::process::ExitCode {
    ops::main::<relation_pair::requirer::Requirer>()
}
