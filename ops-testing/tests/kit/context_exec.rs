//! `Context::run` with containers whose commands are canned
//! (`Container::with_exec`), and `ctx.exec_history` of what ran.

use ops::events::PebbleReady;
use ops::pebble::{ExecOptions, PebbleError};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, Outcome, Status};
use ops_testing::context::{Container, Context, State};
use ops_testing::fake_pebble::ExecResult;

const META: &str = "name: probe\ncontainers: {db: {}}\n";

struct Probe;

impl Charm for Probe {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_container("db", Self::on_pebble_ready)?;
        Ok(Probe)
    }
}

impl Probe {
    fn on_pebble_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let db = ctx.model().container("db")?;
        let options = ExecOptions::new().with_stdin(b"SELECT 1;".to_vec());
        let status = match db.exec(&["pg_isready", "-q"], &options) {
            Ok(out) => Status::active(out.stdout_text().trim()),
            Err(PebbleError::Exec(e)) => {
                Status::blocked(format!("pg_isready exited {}", e.exit_code))
            }
            Err(e) => return Err(e.into()),
        };
        ctx.model().set_unit_status(status)?;
        Ok(Outcome::Done)
    }
}

#[test]
fn canned_execs_run_and_are_recorded() {
    let mut ctx = Context::<Probe>::new(META).unwrap();
    let db = Container::new("db")
        .with_can_connect(true)
        .with_exec(&["pg_isready"], ExecResult::stdout("accepting\n"));
    let state = State::default().with_container(db.clone());
    let out = ctx.run(ctx.on.pebble_ready(&db), &state).unwrap();
    assert_eq!(out.unit_status, Status::active("accepting"));
    let history = ctx.exec_history("db");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].command, ["pg_isready", "-q"]);
    assert_eq!(history[0].stdin(), b"SELECT 1;");
    // The output state keeps the canned commands, for the next run.
    assert_eq!(out.container("db").unwrap().execs, db.execs);

    let failing = db.with_exec(&["pg_isready"], ExecResult::exit(2));
    let state = State::default().with_container(failing.clone());
    let out = ctx.run(ctx.on.pebble_ready(&failing), &state).unwrap();
    assert_eq!(out.unit_status, Status::blocked("pg_isready exited 2"));

    // With no canned command, the charm's error is Pebble's.
    let bare = Container::new("db").with_can_connect(true);
    let state = State::default().with_container(bare.clone());
    let err = ctx.run(ctx.on.pebble_ready(&bare), &state).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("Pebble API error 400 Bad Request: cannot find executable \"pg_isready\""),
        "{err}"
    );
    assert!(ctx.exec_history("db").is_empty());
}

/// Runs `pg_isready` as the `db` service runs, and says how that went:
/// through `Container::exec`, or `Container::exec_process` if `STREAMED`.
struct AsService<const STREAMED: bool>;

impl<const STREAMED: bool> Charm for AsService<STREAMED> {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_container("db", Self::on_pebble_ready)?;
        Ok(AsService)
    }
}

impl<const STREAMED: bool> AsService<STREAMED> {
    fn on_pebble_ready(&mut self, _: &PebbleReady, ctx: &mut Ctx) -> HandlerResult<Outcome> {
        let db = ctx.model().container("db")?;
        let options = ExecOptions::new().with_service_context("db");
        let output = if STREAMED {
            db.exec_process(&["pg_isready"], &options)
                .and_then(|process| process.wait_output())
        } else {
            db.exec(&["pg_isready"], &options)
        };
        let status = match output {
            Ok(out) => Status::active(out.stdout_text().trim()),
            Err(e) => Status::blocked(e.to_string()),
        };
        ctx.model().set_unit_status(status)?;
        Ok(Outcome::Done)
    }
}

/// Juju 3.1.5 refuses the service context before anything runs; 3.1.6
/// runs the command.
fn service_context_needs_juju_3_1_6<const STREAMED: bool>() {
    let db = Container::new("db")
        .with_can_connect(true)
        .with_layer(
            "db",
            ops::pebble::Layer::from_yaml("services: {db: {override: replace, command: postgres}}")
                .unwrap(),
        )
        .with_exec(&["pg_isready"], ExecResult::stdout("accepting\n"));
    let state = State::default().with_container(db.clone());

    let mut old = Context::<AsService<STREAMED>>::new(META)
        .unwrap()
        .with_juju_version("3.1.5");
    let out = old.run(old.on.pebble_ready(&db), &state).unwrap();
    assert_eq!(
        out.unit_status,
        Status::blocked(
            "invalid Pebble request: exec with a service context needs Juju 3.1.6 or later; \
             this is Juju \"3.1.5\""
        )
    );
    assert!(old.exec_history("db").is_empty(), "nothing ran");

    let mut new = Context::<AsService<STREAMED>>::new(META)
        .unwrap()
        .with_juju_version("3.1.6");
    let out = new.run(new.on.pebble_ready(&db), &state).unwrap();
    assert_eq!(out.unit_status, Status::active("accepting"));
    assert_eq!(new.exec_history("db").len(), 1);
}

#[test]
fn a_service_context_is_refused_on_a_juju_whose_pebble_ignores_it() {
    service_context_needs_juju_3_1_6::<false>();
}

#[test]
fn exec_process_refuses_a_service_context_as_exec_does() {
    service_context_needs_juju_3_1_6::<true>();
}
