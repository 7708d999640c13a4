//! The fake Pebble's server: a blocking accept woken for shutdown by a
//! connection of its own, and shutdowns that leave other servers alone.

use ops_testing::fake_pebble::FakePebble;

#[test]
fn stopping_and_restarting_serves_at_once_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let pebble =
        FakePebble::start(dir.path().join("pebble.socket"), dir.path().join("root")).unwrap();
    let client = pebble.client();
    for _ in 0..50 {
        assert!(client.system_info().is_ok());
        pebble.set_can_connect(false);
        assert!(!client.can_connect());
        pebble.set_can_connect(true);
    }
    assert!(client.system_info().is_ok());
}

#[test]
fn a_server_that_replaced_the_socket_outlives_the_old_ones_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pebble.socket");
    let old = FakePebble::start(&socket, dir.path().join("old")).unwrap();
    let new = FakePebble::start(&socket, dir.path().join("new")).unwrap();
    old.stop();
    assert!(
        socket.exists(),
        "the old server removed the new one's socket"
    );
    let client = new.client();
    client
        .push(
            "/etc/x",
            "new\n",
            &ops::pebble::PushOptions::new().with_make_dirs(true),
        )
        .unwrap();
    assert!(dir.path().join("new/etc/x").exists());
    new.stop();
    assert!(!socket.exists());
}
