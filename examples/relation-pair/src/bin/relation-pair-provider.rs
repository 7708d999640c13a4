//! The provider's `dispatch`.

fn main() -> std::process::ExitCode {
    ops::main::<relation_pair::provider::Provider>()
}
