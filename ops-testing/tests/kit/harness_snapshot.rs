//! `Harness::snapshot` and `Harness::from_snapshot`: a set-up done once
//! and copied for each test. A copy keeps everything of the world it was
//! taken from (model, containers, stored state, deferred events) and
//! shares nothing with it or with other copies.

use ops::events::{ConfigChanged, PebbleReady, UpdateStatus};
use ops::pebble::{ExecOptions, PushOptions};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome, StoredState};
use ops_testing::fake_pebble::ExecResult;
use ops_testing::{Harness, HarnessSnapshot};
use serde::{Deserialize, Serialize};

const META: &str = r#"
name: snap
containers:
  web: {}
requires:
  db: {interface: pgsql}
config:
  options:
    mode: {type: string}
"#;

#[derive(Default, Serialize, Deserialize)]
struct Counts {
    dispatches: u32,
}

/// Counts its dispatches in stored state, writes a file on pebble-ready,
/// and defers config-changed until `mode` is set.
struct Snap {
    counts: StoredState<Counts>,
}

impl Charm for Snap {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        let counts = fw.stored_state("counts")?;
        fw.observe_container("web", Self::on_ready)?
            .observe(Self::on_config)?
            .observe(Self::on_update_status)?;
        Ok(Self { counts })
    }
}

impl Snap {
    fn on_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let web = ctx.model().container("web")?;
        let options = PushOptions::new().with_make_dirs(true);
        web.push("/etc/web/index.html", b"hello", &options)?;
        Ok(Outcome::Done)
    }

    fn on_config(&mut self, _: &ConfigChanged, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let mode: Option<String> = ctx.model().config()?.get("mode")?;
        Ok(if mode.is_some() {
            Outcome::Done
        } else {
            Outcome::Defer
        })
    }

    fn on_update_status(&mut self, _: &UpdateStatus, ctx: &mut Ctx) -> HandlerResult {
        self.counts.get_mut().dispatches += 1;
        // The exec handler the test registered answers in a copy too.
        ctx.model()
            .container("web")?
            .client()
            .exec(&["probe"], &ExecOptions::default())?;
        Ok(())
    }
}

/// A leader after its initial hooks, with its container up, the file it
/// writes there, one update-status counted and config-changed deferred.
fn set_up() -> Harness<Snap> {
    let mut h = Harness::<Snap>::new(META).unwrap();
    h.set_leader(true).unwrap();
    h.set_can_connect("web", true).unwrap();
    h.container_pebble("web")
        .unwrap()
        .handle_exec(&["probe"], |_| ExecResult::stdout("up\n"));
    h.begin_with_initial_hooks().unwrap();
    h.fire_hook("update-status").unwrap();
    h
}

fn dispatches(h: &Harness<Snap>) -> u32 {
    h.charm().expect("a dispatch ran").counts.get().dispatches
}

fn web_file(h: &Harness<Snap>) -> Vec<u8> {
    h.container_pebble("web")
        .unwrap()
        .read_file("/etc/web/index.html")
        .unwrap()
}

fn deferred(h: &Harness<Snap>) -> Vec<String> {
    h.notices().iter().map(|n| n.event.clone()).collect()
}

#[test]
fn a_copy_keeps_the_model_the_files_the_stored_state_and_the_deferred_events() {
    let h = set_up();
    let snapshot = h.snapshot().unwrap();
    let mut copy = Harness::<Snap>::from_snapshot(&snapshot).unwrap();
    assert!(
        copy.charm().is_none(),
        "no charm instance before a dispatch"
    );
    assert_eq!(copy.emitted(), h.emitted());
    assert_eq!(deferred(&copy), vec!["config_changed".to_string()]);
    assert_eq!(web_file(&copy), b"hello");
    assert_eq!(
        copy.juju().apps["snap"].leader.as_deref(),
        Some("snap/0"),
        "leadership is the model's"
    );
    copy.fire_hook("update-status").unwrap();
    assert_eq!(dispatches(&copy), 2, "the stored count goes on from 1");
    assert_eq!(
        copy.container_pebble("web").unwrap().execs().len(),
        2,
        "the exec handler answered, and the earlier exec is remembered"
    );
    assert_eq!(deferred(&copy), vec!["config_changed".to_string()]);
    copy.update_config([("mode", serde_json::json!("fast"))])
        .unwrap();
    assert!(
        deferred(&copy).is_empty(),
        "the deferred event ran and was done"
    );
}

#[test]
fn copies_share_nothing_with_the_snapshot_or_with_each_other() {
    let h = set_up();
    let snapshot = h.snapshot().unwrap();
    let mut one = Harness::<Snap>::from_snapshot(&snapshot).unwrap();
    let db = one.add_relation("db", "postgresql").unwrap();
    one.update_config([("mode", serde_json::json!("fast"))])
        .unwrap();
    one.fire_hook("update-status").unwrap();
    one.container_pebble("web")
        .unwrap()
        .client()
        .push("/etc/web/index.html", b"changed", &PushOptions::new())
        .unwrap();
    one.set_can_connect("web", false).unwrap();

    let two = {
        let mut two = Harness::<Snap>::from_snapshot(&snapshot).unwrap();
        two.fire_hook("update-status").unwrap();
        two
    };
    assert_eq!(dispatches(&one), 2);
    assert_eq!(dispatches(&two), 2, "not 3: the count is each copy's own");
    assert_eq!(web_file(&two), b"hello");
    assert!(two.container_pebble("web").unwrap().can_connect());
    assert!(!two.juju().relations.contains_key(&db));
    assert_eq!(deferred(&two), vec!["config_changed".to_string()]);
    // The Harness the snapshot was taken from is untouched too.
    assert_eq!(web_file(&h), b"hello");
    assert_eq!(dispatches(&h), 1);
    assert_eq!(h.container_pebble("web").unwrap().execs().len(), 1);
}

#[test]
fn files_on_the_host_and_the_charm_directory_are_copied() {
    let h = set_up();
    // Both now live on the host: the container's files under its root,
    // the stored state in the charm directory's state file.
    let root = h.container_root("web").unwrap();
    let state_file = h.charm_dir().join(ops::storage::STATE_FILE_NAME);
    assert!(state_file.exists());
    let snapshot = h.snapshot().unwrap();
    drop(h);
    assert!(!root.exists(), "the original's files are gone with it");

    let mut copy = Harness::<Snap>::from_snapshot(&snapshot).unwrap();
    let copy_root = copy.container_root("web").unwrap();
    assert_ne!(copy_root, root);
    assert_eq!(
        std::fs::read_to_string(copy_root.join("etc/web/index.html")).unwrap(),
        "hello"
    );
    std::fs::write(copy_root.join("etc/web/index.html"), "mine").unwrap();
    copy.fire_hook("update-status").unwrap();
    assert_eq!(dispatches(&copy), 2, "the state file was copied");

    let other = Harness::<Snap>::from_snapshot(&snapshot).unwrap();
    assert_eq!(web_file(&other), b"hello");
}

#[test]
fn a_snapshot_can_be_kept_in_a_static_and_used_from_many_threads() {
    fn shared() -> &'static HarnessSnapshot {
        static SET_UP: std::sync::OnceLock<HarnessSnapshot> = std::sync::OnceLock::new();
        SET_UP.get_or_init(|| set_up().snapshot().unwrap())
    }
    let counts: Vec<u32> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut h = Harness::<Snap>::from_snapshot(shared()).unwrap();
                    h.fire_hook("update-status").unwrap();
                    dispatches(&h)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(counts, vec![2, 2, 2, 2]);
}
