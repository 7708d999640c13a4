//! `ops::pebble::Client` against `FakePebble` on a real unix socket.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use ops::pebble::{
    Client, FileType, Layer, MakeDirOptions, Override, PebbleError, PushOptions, Service,
    ServiceStartup, ServiceStatus,
};
use ops_testing::fake_pebble::{FakePebble, FileOwner, ServiceEvent};

use crate::common;
use common::{api_error_kind as api_error, setup};

fn service(command: &str, startup: Option<ServiceStartup>) -> Service {
    Service {
        override_: Some(Override::Replace),
        command: Some(command.into()),
        startup,
        ..Default::default()
    }
}

fn layer(services: &[(&str, Service)]) -> Layer {
    Layer {
        summary: Some("test layer".into()),
        services: services
            .iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect(),
        ..Default::default()
    }
}

fn path_error(result: Result<impl std::fmt::Debug, PebbleError>) -> (String, String) {
    match result {
        Err(PebbleError::Path { kind, message, .. }) => (kind, message),
        other => panic!("expected a path error, got {other:?}"),
    }
}

/// Sends raw bytes and reads until the server closes the connection.
fn raw(pebble: &FakePebble, request: &[u8]) -> String {
    let mut stream = UnixStream::connect(pebble.socket_path()).unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn system_info_and_can_connect() {
    let s = setup();
    let info = s.client.system_info().unwrap();
    assert!(!info.version.is_empty());
    assert!(info.boot_id.is_some());
    assert!(s.client.can_connect());
    s.client
        .add_layer("l", &layer(&[("a", service("a", None))]), false)
        .unwrap();

    s.pebble.set_can_connect(false);
    assert!(!s.pebble.can_connect());
    assert!(!s.client.can_connect());
    assert!(!s.pebble.socket_path().exists());
    match s.client.system_info() {
        Err(PebbleError::SocketMissing { socket }) => assert_eq!(socket, s.pebble.socket_path()),
        other => panic!("expected a missing socket, got {other:?}"),
    }

    s.pebble.set_can_connect(true);
    assert!(s.client.can_connect());
    assert!(
        s.client.get_plan().unwrap().services.contains_key("a"),
        "state survives"
    );
}

#[test]
fn a_socket_nobody_serves_is_a_connection_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let socket = ops::pebble::socket_path(dir.path(), "gone");
    let client = Client::new(&socket);
    let err = client.get_plan().unwrap_err();
    assert!(
        matches!(&err, PebbleError::SocketMissing { socket: s } if *s == socket),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&socket.display().to_string()),
        "{err}"
    );
    assert!(err.is_connection_error());
}

#[test]
fn layers_add_combine_and_override() {
    let s = setup();
    let mut base = service("web --port 80", Some(ServiceStartup::Enabled));
    base.environment.insert("A".into(), "1".into());
    s.client
        .add_layer(
            "base",
            &layer(&[("web", base), ("db", service("db", None))]),
            false,
        )
        .unwrap();

    let (code, message, _) = api_error(s.client.add_layer("base", &layer(&[]), false));
    assert_eq!(
        (code, message.as_str()),
        (400, "layer \"base\" already exists")
    );

    // Combine with merge: environment merged, command kept.
    let mut merge = Service {
        override_: Some(Override::Merge),
        ..Default::default()
    };
    merge.environment.insert("B".into(), "2".into());
    s.client
        .add_layer("base", &layer(&[("web", merge)]), true)
        .unwrap();
    let plan = s.client.get_plan().unwrap();
    let web = &plan.services["web"];
    assert_eq!(web.command.as_deref(), Some("web --port 80"));
    assert_eq!(web.environment.len(), 2);
    assert_eq!(s.pebble.layers().len(), 1, "combined into the same layer");

    // A higher layer replacing a service wholesale.
    s.client
        .add_layer(
            "top",
            &layer(&[("web", service("web --port 8080", None))]),
            false,
        )
        .unwrap();
    let plan = s.client.get_plan().unwrap();
    assert_eq!(
        plan.services["web"].command.as_deref(),
        Some("web --port 8080")
    );
    assert!(plan.services["web"].environment.is_empty());
    assert_eq!(plan.services["web"].override_, Some(Override::Replace));
    assert_eq!(plan, s.pebble.plan());
    assert_eq!(
        s.pebble
            .layers()
            .iter()
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>(),
        vec!["base", "top"]
    );

    // Pebble's validation errors.
    let no_override = Service {
        command: Some("x".into()),
        ..Default::default()
    };
    let (code, message, _) = api_error(s.client.add_layer(
        "bad",
        &layer(&[("x", no_override)]),
        false,
    ));
    assert_eq!(code, 400);
    assert_eq!(
        message,
        "layer \"bad\" must define \"override\" for service \"x\""
    );
    let no_command = Service {
        override_: Some(Override::Replace),
        ..Default::default()
    };
    let (_, message, _) = api_error(
        s.client
            .add_layer("bad", &layer(&[("x", no_command)]), false),
    );
    assert_eq!(message, "plan must define \"command\" for service \"x\"");
    // A word Pebble does not know goes over the wire as it is, and gets
    // Pebble's own error back.
    let unknown = Service {
        override_: Some(Override::from("overlay")),
        ..service("x", None)
    };
    let (code, message, _) = api_error(s.client.add_layer("bad", &layer(&[("x", unknown)]), false));
    assert_eq!(
        (code, message.as_str()),
        (
            400,
            "layer \"bad\" has invalid \"override\" value for service \"x\""
        )
    );
    assert_eq!(s.pebble.layers().len(), 2, "rejected layers are not added");
}

#[test]
fn start_stop_restart_wait_for_their_changes() {
    let s = setup();
    s.client
        .add_layer(
            "l",
            &layer(&[
                ("a", service("a", Some(ServiceStartup::Enabled))),
                ("b", service("b", None)),
            ]),
            false,
        )
        .unwrap();
    let infos = s.client.get_services(&[]).unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].name, "a");
    assert_eq!(infos[0].startup, ServiceStartup::Enabled);
    assert_eq!(infos[1].startup, ServiceStartup::Disabled);
    assert!(infos.iter().all(|i| i.current == ServiceStatus::Inactive));

    let change = s.client.start_services(&["a", "b"]).unwrap();
    assert!(change.ready);
    assert_eq!(change.status, "Done");
    assert_eq!(change.kind, "start");
    assert_eq!(change.summary, "Start service \"a\" and 1 more");
    assert_eq!(change.tasks.len(), 2);
    assert_eq!(change.tasks[0].summary, "Start service \"a\"");
    assert_eq!(s.client.get_change(&change.id).unwrap().id, change.id);
    assert!(
        s.client
            .get_services(&["a", "b"])
            .unwrap()
            .iter()
            .all(|i| i.is_running())
    );
    assert!(
        s.client.get_services(&["a"]).unwrap()[0]
            .current_since
            .is_some()
    );

    s.client.stop_services(&["b"]).unwrap();
    assert_eq!(s.pebble.service_status("b"), Some(ServiceStatus::Inactive));
    s.client.restart_services(&["a", "b"]).unwrap();
    assert_eq!(s.pebble.service_status("a"), Some(ServiceStatus::Active));
    assert_eq!(s.pebble.service_status("b"), Some(ServiceStatus::Active));
    assert_eq!(s.pebble.service_status("nope"), None);
    assert_eq!(
        s.pebble.service_events(),
        vec![
            ServiceEvent::Start("a".into()),
            ServiceEvent::Start("b".into()),
            ServiceEvent::Stop("b".into()),
            ServiceEvent::Restart("a".into()),
            ServiceEvent::Start("b".into()),
        ]
    );
    let shown: Vec<String> = s
        .pebble
        .service_events()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown[3], "restart a");

    let (code, message, _) = api_error(s.client.start_services(&["nope"]));
    assert_eq!(
        (code, message.as_str()),
        (
            400,
            "cannot start services: service \"nope\" does not exist"
        )
    );
    let (_, message, _) = api_error(s.client.stop_services(&[]));
    assert_eq!(message, "must specify services for stop action");
}

#[test]
fn replan_starts_enabled_services_and_restarts_changed_ones() {
    let s = setup();
    s.client
        .add_layer(
            "l",
            &layer(&[
                ("a", service("a --v1", Some(ServiceStartup::Enabled))),
                ("b", service("b", None)),
            ]),
            true,
        )
        .unwrap();
    let change = s.client.replan_services().unwrap();
    assert_eq!(change.kind, "replan");
    assert_eq!(s.pebble.service_status("a"), Some(ServiceStatus::Active));
    assert_eq!(s.pebble.service_status("b"), Some(ServiceStatus::Inactive));

    s.client.replan_services().unwrap();
    assert_eq!(
        s.pebble.service_events(),
        vec![ServiceEvent::Start("a".into())],
        "nothing changed"
    );

    s.client
        .add_layer(
            "l",
            &layer(&[("a", service("a --v2", Some(ServiceStartup::Enabled)))]),
            true,
        )
        .unwrap();
    s.client.replan_services().unwrap();
    assert_eq!(
        s.pebble.service_events(),
        vec![
            ServiceEvent::Start("a".into()),
            ServiceEvent::Restart("a".into())
        ]
    );
    s.pebble.clear_service_events();
    s.client.autostart_services().unwrap();
    assert!(s.pebble.service_events().is_empty(), "already running");
}

#[test]
fn a_failing_start_fails_the_change() {
    let s = setup();
    s.client
        .add_layer("l", &layer(&[("web", service("web", None))]), false)
        .unwrap();
    s.pebble.set_service_start_error(
        "web",
        Some("cannot start service: exited quickly with code 1"),
    );
    match s.client.start_services(&["web"]) {
        Err(PebbleError::Change { id, err }) => {
            assert!(!id.is_empty());
            assert_eq!(
                err,
                "cannot perform the following tasks:\n- Start service \"web\" (cannot start service: exited quickly with code 1)"
            );
            let change = s.client.get_change(&id).unwrap();
            assert_eq!(change.status, "Error");
            assert!(change.tasks[0].log[0].contains(" ERROR cannot start service"));
        }
        other => panic!("expected a change error, got {other:?}"),
    }
    assert_eq!(
        s.pebble.service_status("web"),
        Some(ServiceStatus::Inactive)
    );
    assert!(s.pebble.service_events().is_empty());
    s.pebble.set_service_start_error("web", None);
    s.client.start_services(&["web"]).unwrap();
    assert_eq!(s.pebble.service_status("web"), Some(ServiceStatus::Active));
}

#[test]
fn signals_reach_running_services_only() {
    let s = setup();
    s.client
        .add_layer(
            "l",
            &layer(&[("a", service("a", None)), ("b", service("b", None))]),
            false,
        )
        .unwrap();
    s.client.start_services(&["a"]).unwrap();
    s.client.send_signal("SIGHUP", &["a"]).unwrap();
    assert_eq!(
        s.pebble.service_events().last(),
        Some(&ServiceEvent::Signal {
            service: "a".into(),
            signal: "SIGHUP".into()
        })
    );
    let (code, message, _) = api_error(s.client.send_signal("SIGHUP", &["b"]));
    assert_eq!(
        (code, message.as_str()),
        (500, "cannot send signal to \"b\": service is not running")
    );
    let (_, message, _) = api_error(s.client.send_signal("SIGNOPE", &["a"]));
    assert_eq!(
        message,
        "cannot send signal to \"a\": invalid signal name \"SIGNOPE\""
    );
    let (code, message, _) = api_error(s.client.send_signal("SIGHUP", &[]));
    assert_eq!(
        (code, message.as_str()),
        (400, "must specify one or more services")
    );
}

#[test]
fn push_and_pull_text_and_binary() {
    let s = setup();
    let opts = PushOptions::new().with_make_dirs(true);
    let text = "[pgbouncer]\r\nlisten_port = 6432\n";
    s.client
        .push("/etc/pgbouncer/pgbouncer.ini", text, &opts)
        .unwrap();
    assert_eq!(
        s.client.pull("/etc/pgbouncer/pgbouncer.ini").unwrap(),
        text.as_bytes()
    );
    assert_eq!(
        std::fs::read_to_string(s.pebble.root().join("etc/pgbouncer/pgbouncer.ini")).unwrap(),
        text
    );

    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    s.client.push("/data/blob.bin", &binary, &opts).unwrap();
    assert_eq!(s.client.pull("/data/blob.bin").unwrap(), binary);

    // Content that looks like multipart framing must survive both ways.
    let tricky = format!(
        "a\r\n--{b}\r\nContent-Disposition: form-data; name=\"response\"\r\n\r\n{{}}\r\n--{b}--\r\n\r\n--",
        b = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
    );
    s.client
        .push("/data/tricky file \"q\".txt", &tricky, &opts)
        .unwrap();
    assert_eq!(
        s.client.pull("/data/tricky file \"q\".txt").unwrap(),
        tricky.as_bytes()
    );

    s.client.push("/data/empty", b"", &opts).unwrap();
    assert!(s.client.pull("/data/empty").unwrap().is_empty());

    // Replacing a read-only file works: Pebble writes atomically.
    let ro = opts.clone().with_permissions(0o400);
    s.client.push("/data/secret", "one", &ro).unwrap();
    s.client.push("/data/secret", "two", &ro).unwrap();
    assert_eq!(s.client.pull("/data/secret").unwrap(), b"two");
}

#[test]
fn permissions_are_applied_and_owners_recorded() {
    let s = setup();
    let opts = PushOptions::new()
        .with_make_dirs(true)
        .with_permissions(0o600)
        .with_user("postgres")
        .with_group("postgres");
    s.client.push("/etc/app/auth.txt", "secret", &opts).unwrap();
    let mode = std::fs::metadata(s.pebble.host_path("/etc/app/auth.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(s.pebble.host_path("/etc/app"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o755);
    let owner = FileOwner {
        user: Some("postgres".into()),
        group: Some("postgres".into()),
        ..Default::default()
    };
    assert_eq!(
        s.pebble.file_owner("/etc/app/auth.txt"),
        Some(owner.clone())
    );
    assert_eq!(
        s.pebble.file_owner("/etc/app"),
        Some(owner),
        "made dirs get the owner too"
    );
    let info = &s
        .client
        .list_files("/etc/app/auth.txt", None, false)
        .unwrap()[0];
    assert_eq!(info.permissions, 0o600);
    assert_eq!(info.user.as_deref(), Some("postgres"));
    assert_eq!(info.size, Some(6));

    s.client
        .push("/etc/app/plain.txt", "x", &PushOptions::default())
        .unwrap();
    let mode = std::fs::metadata(s.pebble.host_path("/etc/app/plain.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "Pebble's default mode");
    assert_eq!(s.pebble.file_owner("/etc/app/plain.txt"), None);

    let (kind, message) = path_error(s.client.push(
        "/etc/app/g.txt",
        "x",
        &PushOptions::new().with_group("postgres"),
    ));
    assert_eq!(kind, "generic-file-error");
    assert_eq!(
        message,
        "cannot look up user and group: must specify user, not just group"
    );
}

#[test]
fn make_dirs_and_make_dir() {
    let s = setup();
    let (kind, message) = path_error(s.client.push(
        "/var/lib/app/state",
        "x",
        &PushOptions::default(),
    ));
    assert_eq!(kind, "not-found");
    assert!(message.starts_with("open /var/lib/app/state."), "{message}");
    assert!(
        message.ends_with("~: no such file or directory"),
        "{message}"
    );

    let (kind, message) = path_error(
        s.client
            .make_dir("/var/lib/app", &MakeDirOptions::default()),
    );
    assert_eq!(kind, "not-found");
    assert!(message.contains("no such file or directory"), "{message}");

    let opts = MakeDirOptions {
        make_parents: true,
        permissions: Some(0o750),
        user_id: Some(1000),
        ..Default::default()
    };
    s.client.make_dir("/var/lib/app", &opts).unwrap();
    s.client.make_dir("/var/lib/app", &opts).unwrap(); // exists: fine with make_parents
    let mode = std::fs::metadata(s.pebble.host_path("/var/lib/app"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
    assert_eq!(
        s.pebble.file_owner("/var/lib/app").unwrap().user_id,
        Some(1000)
    );
    let (kind, message) = path_error(
        s.client
            .make_dir("/var/lib/app", &MakeDirOptions::default()),
    );
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("generic-file-error", "mkdir /var/lib/app: file exists")
    );
    s.client
        .push("/var/lib/app/state", "x", &PushOptions::default())
        .unwrap();
}

#[test]
fn list_files_exists_and_remove_path() {
    let s = setup();
    let opts = PushOptions::new().with_make_dirs(true);
    for name in ["b.conf", "a.conf", "c.ini"] {
        s.client
            .push(&format!("/etc/app/{name}"), name, &opts)
            .unwrap();
    }
    s.client
        .make_dir("/etc/app/sub", &MakeDirOptions::default())
        .unwrap();

    let names =
        |infos: Vec<ops::pebble::FileInfo>| infos.into_iter().map(|i| i.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.client.list_files("/etc/app", None, false).unwrap()),
        ["a.conf", "b.conf", "c.ini", "sub"]
    );
    assert_eq!(
        names(
            s.client
                .list_files("/etc/app", Some("*.conf"), false)
                .unwrap()
        ),
        ["a.conf", "b.conf"]
    );
    let itself = s.client.list_files("/etc/app", None, true).unwrap();
    assert_eq!(itself.len(), 1);
    assert_eq!(itself[0].path, "/etc/app");
    assert_eq!(itself[0].file_type, FileType::Directory);
    assert_eq!(itself[0].size, None);
    let file = &s.client.list_files("/etc/app/a.conf", None, false).unwrap()[0];
    assert_eq!(
        (file.path.as_str(), file.file_type, file.size),
        ("/etc/app/a.conf", FileType::File, Some(6))
    );

    let (code, message, kind) = api_error(s.client.list_files("/nope", None, false));
    assert_eq!(code, 404);
    assert_eq!(message, "stat /nope: no such file or directory");
    assert_eq!(kind.as_deref(), Some("not-found"));
    let (code, _, _) = api_error(s.client.list_files("/etc/app", Some("[bad"), false));
    assert_eq!(code, 400);

    assert!(s.client.exists("/etc/app").unwrap());
    assert!(s.client.exists("/etc/app/a.conf").unwrap());
    assert!(!s.client.exists("/etc/app/zzz").unwrap());

    s.client.remove_path("/etc/app/a.conf", false).unwrap();
    assert!(!s.client.exists("/etc/app/a.conf").unwrap());
    let (kind, message) = path_error(s.client.remove_path("/etc/app", false));
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("generic-file-error", "remove /etc/app: directory not empty")
    );
    let (kind, _) = path_error(s.client.remove_path("/etc/app/zzz", false));
    assert_eq!(kind, "not-found");
    s.client.remove_path("/etc/app/zzz", true).unwrap();
    s.client.remove_path("/etc/app", true).unwrap();
    assert!(!s.pebble.host_path("/etc/app").exists());
}

#[test]
fn pull_errors() {
    let s = setup();
    let err = s.client.pull("/etc/missing").unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.kind(), Some("not-found"));
    let (kind, message) = path_error(s.client.pull("/etc/missing"));
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("not-found", "stat /etc/missing: no such file or directory")
    );
    std::fs::create_dir_all(s.pebble.host_path("/etc/d")).unwrap();
    let (kind, message) = path_error(s.client.pull("/etc/d"));
    assert_eq!(
        (kind.as_str(), message.as_str()),
        (
            "generic-file-error",
            "can only read a regular file: \"/etc/d\""
        )
    );
    let (kind, message) = path_error(s.client.pull("relative"));
    assert_eq!(
        (kind.as_str(), message.as_str()),
        (
            "generic-file-error",
            "paths must be absolute, got \"relative\""
        )
    );
}

#[test]
fn the_wire_format_is_pebbles() {
    let s = setup();
    let reply = raw(
        &s.pebble,
        b"GET /v1/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 404 Not Found\r\n"), "{reply}");
    assert!(reply.ends_with(
        r#"{"type":"error","status-code":404,"status":"Not Found","result":{"message":"invalid API endpoint requested"}}"#
    ));
    s.client
        .add_layer("l", &layer(&[("a", service("a", None))]), false)
        .unwrap();
    let body = br#"{"action": "start", "services": ["a"]}"#;
    let request = [
        format!("POST /v1/services HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", body.len())
            .into_bytes(),
        body.to_vec(),
    ]
    .concat();
    let reply = raw(&s.pebble, &request);
    assert!(reply.starts_with("HTTP/1.1 202 Accepted\r\n"), "{reply}");
    assert!(reply.ends_with(
        r#"{"type":"async","status-code":202,"status":"Accepted","change":"1","result":null}"#
    ));

    // What Python ops sends: a quoted boundary and a chunked body.
    let boundary = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let multipart = format!(
        "--{boundary}\r\nContent-Type: application/json\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n\
         {{\"action\": \"write\", \"files\": [{{\"path\": \"/py.txt\", \"permissions\": \"640\"}}]}}\r\n--{boundary}\r\n\
         Content-Type: application/octet-stream\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/py.txt\"\r\n\r\n\
         from python\r\n--{boundary}--\r\n"
    );
    let (first, second) = multipart.split_at(100);
    let request = format!(
        "POST /v1/files HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAccept: application/json\r\n\
         Content-Type: multipart/form-data; boundary=\"{boundary}\"\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    let reply = raw(&s.pebble, request.as_bytes());
    assert!(
        reply.ends_with(
            r#"{"type":"sync","status-code":200,"status":"OK","result":[{"path":"/py.txt"}]}"#
        ),
        "{reply}"
    );
    assert_eq!(s.client.pull("/py.txt").unwrap(), b"from python");
    let mode = std::fs::metadata(s.pebble.host_path("/py.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);

    // The read response: files parts, then the response part, Go's framing.
    let reply = raw(
        &s.pebble,
        b"GET /v1/files?action=read&path=/py.txt HTTP/1.1\r\nAccept: multipart/form-data\r\nConnection: close\r\n\r\n",
    );
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    let boundary = head
        .split("boundary=")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    assert_eq!(boundary.len(), 60);
    assert!(body.starts_with(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"/py.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nfrom python\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"response\"\r\n"
    )), "{body}");
    assert!(body.ends_with(&format!(
        "{{\"type\":\"sync\",\"status-code\":200,\"status\":\"OK\",\"result\":[{{\"path\":\"/py.txt\"}}]}}\n\r\n--{boundary}--\r\n"
    )));

    // Keep-alive: two requests on one connection.
    let mut stream = UnixStream::connect(s.pebble.socket_path()).unwrap();
    stream
        .write_all(b"GET /v1/system-info HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/plan?format=json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut both = String::new();
    stream.read_to_string(&mut both).unwrap();
    assert_eq!(both.matches("HTTP/1.1 ").count(), 2, "{both}");
    assert!(
        both.ends_with(r#""result":{"message":"invalid format \"json\""}}"#),
        "{both}"
    );
}

#[test]
fn stop_removes_the_socket() {
    let s = setup();
    let socket = s.pebble.socket_path().to_path_buf();
    assert!(socket.exists());
    s.pebble.stop();
    assert!(!socket.exists());
    assert!(!s.client.can_connect());
    drop(s.dir);
}

#[test]
fn push_path_and_pull_path_copy_trees_both_ways() {
    let s = setup();
    let local = s.dir.path().join("local");
    std::fs::create_dir_all(local.join("conf.d/sub")).unwrap();
    std::fs::write(local.join("conf.d/a.ini"), "a = 1\n").unwrap();
    std::fs::write(local.join("conf.d/sub/b.ini"), "b = 2\n").unwrap();
    std::fs::set_permissions(
        local.join("conf.d/a.ini"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    s.client
        .push_path(&local.join("conf.d"), "/etc/app")
        .unwrap();
    assert_eq!(s.client.pull("/etc/app/conf.d/a.ini").unwrap(), b"a = 1\n");
    assert_eq!(
        s.client.pull("/etc/app/conf.d/sub/b.ini").unwrap(),
        b"b = 2\n"
    );
    let info = s
        .client
        .list_files("/etc/app/conf.d/a.ini", None, true)
        .unwrap();
    assert_eq!(info[0].permissions, 0o600);

    let back = s.dir.path().join("back");
    std::fs::create_dir_all(&back).unwrap();
    s.client.pull_path("/etc/app/conf.d", &back).unwrap();
    assert_eq!(
        std::fs::read_to_string(back.join("conf.d/a.ini")).unwrap(),
        "a = 1\n"
    );
    assert_eq!(
        std::fs::read_to_string(back.join("conf.d/sub/b.ini")).unwrap(),
        "b = 2\n"
    );
    // A single file too.
    s.client.pull_path("/etc/app/conf.d/a.ini", &back).unwrap();
    assert_eq!(
        std::fs::read_to_string(back.join("a.ini")).unwrap(),
        "a = 1\n"
    );
    assert!(matches!(
        s.client.push_path(&local.join("missing"), "/etc"),
        Err(PebbleError::LocalPath { .. })
    ));
}

#[test]
fn is_dir_is_false_for_files_and_missing_paths() {
    let s = setup();
    s.client
        .make_dir(
            "/srv/data",
            &MakeDirOptions {
                make_parents: true,
                ..Default::default()
            },
        )
        .unwrap();
    s.client
        .push("/srv/data/f.txt", b"x", &PushOptions::default())
        .unwrap();
    assert!(s.client.is_dir("/srv/data").unwrap());
    assert!(!s.client.is_dir("/srv/data/f.txt").unwrap());
    assert!(!s.client.is_dir("/srv/nothing").unwrap());
    // A relative path is Pebble's 400, not "no".
    assert!(s.client.is_dir("srv").is_err());
}

#[test]
fn warnings_are_listed_until_acknowledged() {
    use ops::pebble::WarningState;
    use std::time::{Duration, SystemTime};
    let s = setup();
    assert!(s.client.get_warnings(WarningState::All).unwrap().is_empty());
    s.pebble.warn("disk nearly full");
    let pending = s.client.get_warnings(WarningState::Pending).unwrap();
    assert_eq!(pending.len(), 1);
    let w = &pending[0];
    assert_eq!(w.message, "disk nearly full");
    assert_eq!(w.last_shown, None);
    assert_eq!(w.expire_after, "672h0m0s");
    // Acknowledged up to before it was raised: nothing.
    let before = w.first_added - Duration::from_secs(60);
    assert_eq!(s.client.ack_warnings(before).unwrap(), 0);
    assert_eq!(
        s.client.get_warnings(WarningState::Pending).unwrap().len(),
        1
    );
    let now = SystemTime::now() + Duration::from_millis(1);
    assert_eq!(s.client.ack_warnings(now).unwrap(), 1);
    assert!(
        s.client
            .get_warnings(WarningState::Pending)
            .unwrap()
            .is_empty()
    );
    let all = s.client.get_warnings(WarningState::All).unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].last_shown.is_some());
    // Raised again: pending again, the same warning.
    std::thread::sleep(Duration::from_millis(5));
    s.pebble.warn("disk nearly full");
    assert_eq!(
        s.client.get_warnings(WarningState::Pending).unwrap().len(),
        1
    );
    assert_eq!(s.client.get_warnings(WarningState::All).unwrap().len(), 1);
}

#[test]
fn warnings_routes_refuse_what_pebble_refuses() {
    let s = setup();
    for (method, target, body) in [
        ("GET", "/v1/warnings?select=some", ""),
        (
            "POST",
            "/v1/warnings",
            r#"{"action":"shown","timestamp":"2025-01-31T12:00:00Z"}"#,
        ),
        (
            "POST",
            "/v1/warnings",
            r#"{"action":"okay","timestamp":"yesterday"}"#,
        ),
    ] {
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let reply = raw(&s.pebble, request.as_bytes());
        assert!(
            reply.starts_with("HTTP/1.1 400"),
            "{method} {target} {body}: {reply}"
        );
    }
}

#[test]
fn notices_of_other_users_need_the_users_filter() {
    use ops::pebble::{NoticeQuery, NoticeUsers};
    use std::collections::BTreeMap;
    let s = setup();
    s.pebble
        .notify("example.com/mine", &BTreeMap::new())
        .unwrap();
    s.pebble
        .notify_as(1000, "example.com/theirs", &BTreeMap::new())
        .unwrap();
    s.pebble
        .notify_as(1001, "example.com/others", &BTreeMap::new())
        .unwrap();
    let keys = |q: NoticeQuery| -> Vec<String> {
        let mut keys: Vec<String> = s
            .client
            .get_notices_with(&q.with_types(["custom"]))
            .unwrap()
            .into_iter()
            .map(|n| n.key)
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(NoticeQuery::new()), ["example.com/mine"]);
    assert_eq!(
        keys(NoticeQuery::new().with_users(NoticeUsers::All)),
        [
            "example.com/mine",
            "example.com/others",
            "example.com/theirs"
        ]
    );
    assert_eq!(
        keys(NoticeQuery::new().with_users(NoticeUsers::Id(1000))),
        ["example.com/theirs"]
    );
    assert_eq!(
        keys(
            NoticeQuery::new()
                .with_users(NoticeUsers::All)
                .with_keys(["example.com/others"])
        ),
        ["example.com/others"]
    );
    // The short form is the caller's.
    let mine = s.client.get_notices(&["custom"], &[]).unwrap();
    assert_eq!(mine.len(), 1);
}
