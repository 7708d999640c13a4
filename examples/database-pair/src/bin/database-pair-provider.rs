//! The provider's `dispatch`.

fn main() -> std::process::ExitCode {
    ops::main::<database_pair::provider::Provider>()
}
