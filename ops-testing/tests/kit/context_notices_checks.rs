//! `Context::run` with containers whose Pebble holds custom notices
//! (`Container::with_notice`) and failing health checks
//! (`Container::with_check_failures`), as Python's `Container(notices=...,
//! check_infos=...)`: the charm reads them through the real client, and
//! what its Pebble holds afterwards comes back in the output state.

use std::collections::BTreeMap;

use ops::events::{PebbleCheckFailed, PebbleCustomNotice};
use ops::pebble::{Check, CheckLevel, CheckStartup, CheckStatus, ExecCheck, Layer, Override};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Status};
use ops_testing::context::{Container, Context, State};

const META: &str = "name: watcher\ncontainers: {db: {}}\n";

struct Watcher;

impl Charm for Watcher {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_container("db", Self::on_notice)?
            .observe_container("db", Self::on_check_failed)?;
        Ok(Watcher)
    }
}

impl Watcher {
    /// Reads the notice's data from Pebble and answers with one of its own.
    fn on_notice(&mut self, event: &PebbleCustomNotice, ctx: &mut Ctx) -> HandlerResult {
        let notice = event.notice(ctx.model())?;
        assert_eq!(notice.key, event.notice_key);
        let host = notice.last_data.get("host").cloned().unwrap_or_default();
        let db = ctx.model().container("db")?;
        db.notify(
            "example.com/seen",
            &BTreeMap::from([("host".into(), host.clone())]),
        )?;
        ctx.model()
            .set_unit_status(Status::active(format!("db at {host}")))?;
        Ok(())
    }

    fn on_check_failed(&mut self, event: &PebbleCheckFailed, ctx: &mut Ctx) -> HandlerResult {
        let c = event.info(ctx.model())?;
        assert_eq!(c.threshold, 3);
        assert_eq!(c.level, Some(CheckLevel::Alive));
        let status = if c.status == CheckStatus::Down {
            Status::blocked(format!("{} down after {} failures", c.name, c.failures))
        } else {
            Status::active(format!("{} {:?}", c.name, c.status))
        };
        ctx.model().set_unit_status(status)?;
        Ok(())
    }
}

fn layer_with_check() -> Layer {
    let mut layer = Layer::default();
    layer.checks.insert(
        "up".into(),
        Check {
            override_: Some(Override::Replace),
            level: Some(CheckLevel::Alive),
            threshold: Some(3),
            exec: Some(ExecCheck {
                command: Some("pg_isready".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    layer
}

#[test]
fn a_notice_in_the_state_is_what_the_charm_reads_and_its_own_comes_back() {
    let mut ctx = Context::<Watcher>::new(META).unwrap();
    let db = Container::new("db")
        .with_can_connect(true)
        .with_notice("example.com/db-ready", &[("host", "127.0.0.1")]);
    let state = State::default().with_container(db.clone());
    let out = ctx
        .run(
            ctx.on
                .pebble_custom_notice(&db, "1", "example.com/db-ready"),
            &state,
        )
        .unwrap();
    assert_eq!(out.unit_status, Status::active("db at 127.0.0.1"));
    let after = out.container("db").unwrap();
    assert_eq!(after.notices["example.com/db-ready"]["host"], "127.0.0.1");
    assert_eq!(after.notices["example.com/seen"]["host"], "127.0.0.1");
}

#[test]
fn check_failures_in_the_state_put_the_check_down_and_come_back() {
    let mut ctx = Context::<Watcher>::new(META).unwrap();
    let db = Container::new("db")
        .with_can_connect(true)
        .with_layer("base", layer_with_check())
        .with_check_failures("up", 3);
    let state = State::default().with_container(db.clone());
    let out = ctx
        .run(ctx.on.pebble_check_failed(&db, "up"), &state)
        .unwrap();
    assert_eq!(out.unit_status, Status::blocked("up down after 3 failures"));
    let after = out.container("db").unwrap();
    assert_eq!(after.check_failures["up"], 3);
    // Python's check_infos / get_check_info: the check as Pebble reports it.
    let up = &after.check_infos["up"];
    assert_eq!(
        (up.status, up.level.clone(), up.failures, up.threshold),
        (CheckStatus::Down, Some(CheckLevel::Alive), 3, 3)
    );
    assert_eq!(up.startup, CheckStartup::Enabled);
    assert!(up.change_id.is_some(), "a recover-check change runs it");

    // Below the threshold the check is still up.
    let db = db.with_check_failures("up", 2);
    let state = State::default().with_container(db.clone());
    let out = ctx
        .run(ctx.on.pebble_check_failed(&db, "up"), &state)
        .unwrap();
    assert_eq!(out.unit_status, Status::active("up Up"));
    let up = &out.container("db").unwrap().check_infos["up"];
    assert_eq!((up.status, up.failures), (CheckStatus::Up, 2));
}

#[test]
fn a_failing_check_that_no_layer_declares_is_a_setup_error() {
    let mut ctx = Context::<Watcher>::new(META).unwrap();
    let db = Container::new("db")
        .with_can_connect(true)
        .with_check_failures("nowhere", 1);
    let state = State::default().with_container(db.clone());
    let err = ctx
        .run(ctx.on.pebble_check_failed(&db, "nowhere"), &state)
        .unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
}

#[test]
fn an_event_whose_notice_or_check_pebble_lacks_fails_the_handler() {
    let mut ctx = Context::<Watcher>::new(META)
        .unwrap()
        .without_consistency_checks();
    let db = Container::new("db")
        .with_can_connect(true)
        .with_layer("base", layer_with_check());
    let state = State::default().with_container(db.clone());
    let err = ctx
        .run(ctx.on.pebble_check_failed(&db, "gone"), &state)
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("CheckGone"), "{text}");
    let err = ctx
        .run(
            ctx.on.pebble_custom_notice(&db, "999", "example.com/none"),
            &state,
        )
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("Pebble") && text.contains("404"), "{text}");
}
