//! The set-up the fake-Pebble test files share: a fake Pebble serving on a
//! real unix socket in a scratch directory, and a client of it.

use std::os::unix::fs::MetadataExt;

use ops::pebble::Client;
use ops_testing::fake_pebble::FakePebble;

/// A served fake Pebble and a client of it.
pub struct PebbleSetup {
    pub pebble: FakePebble,
    pub client: Client,
    /// Holds the socket, the container's `/` (`root`) and whatever else a
    /// test puts there; removed when the set-up is dropped.
    pub dir: tempfile::TempDir,
}

impl PebbleSetup {
    /// The user the fake Pebble runs as: the owner of its files.
    pub fn uid(&self) -> u32 {
        std::fs::metadata(self.dir.path()).unwrap().uid()
    }
}

/// Starts a fake Pebble on the socket Juju gives container `app`, its
/// container's `/` at `root`, and a client made with `Client::new` as a
/// charm makes it.
pub fn setup() -> PebbleSetup {
    let dir = tempfile::tempdir().unwrap();
    let socket = ops::pebble::socket_path(dir.path().join("containers"), "app");
    let pebble = FakePebble::start(&socket, dir.path().join("root")).unwrap();
    let client = Client::new(&socket);
    PebbleSetup {
        pebble,
        client,
        dir,
    }
}
