//! State transitions of both sides against the databags and secrets of
//! `charms.data_platform_libs.v0.data_interfaces` (LIBPATCH 59): the
//! fixtures are what the library wrote and read under Python
//! `ops.testing.Harness` (ops 3.9.0, `JUJU_VERSION=3.6.0`) for a
//! `DatabaseRequires(self, "database", "pgbouncer", extra_user_roles="SUPERUSER")`
//! and a `DatabaseProvides(self, "database")` answering with
//! `set_database`, `set_endpoints`, `set_read_only_endpoints`,
//! `set_credentials`, `set_uris`, `set_version`, `set_tls`, `set_tls_ca`.

use std::collections::BTreeMap;

use ops::events::{RelationChanged, RelationCreated};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult};
use ops_testing::context::{Context, Relation, Secret, State};
use proptest::prelude::*;

use super::*;

/// The library's `requested-secrets` (and `provided-secrets`), as it
/// writes them into the requirer's app and unit databags.
const LIB_REQUESTED: &str = r#"["username", "password", "tls", "tls-ca", "uris", "read-only-uris", "entity-name", "entity-password"]"#;
const LIB_PROVIDED: &str = r#"["mtls-cert"]"#;

const REQUIRER_YAML: &str = "
name: app
type: charm
requires:
  database:
    interface: postgresql_client
";

const PROVIDER_YAML: &str = "
name: pg
type: charm
provides:
  database:
    interface: postgresql_client
config:
  options:
    ca: {type: string, default: ''}
    uris: {type: boolean, default: true}
    tls: {type: boolean, default: true}
";

/// A requirer that asks for `pgbouncer` with `SUPERUSER` and keeps what it read.
struct Requirer {
    read: Option<Received<Answer>>,
}

impl Charm for Requirer {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_relation("database", Self::on_created)?
            .observe_relation("database", Self::on_changed)?;
        Ok(Self { read: None })
    }
}

impl Requirer {
    fn on_created(&mut self, event: &RelationCreated, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        if let Some(relation) = model.relation_by_id("database", event.relation.id)? {
            DatabaseRequest::new("pgbouncer")
                .with_extra_user_roles("SUPERUSER")
                .write(model, &relation)?;
        }
        Ok(())
    }

    fn on_changed(&mut self, event: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        if let Some(relation) = model.relation_by_id("database", event.relation.id)? {
            self.read = Some(Answer::read(model, &relation)?);
        }
        Ok(())
    }
}

/// A provider that answers as the library's fixture does (the user
/// `relation_id_<id>`, password `pw`), its TLS and URIs set by config.
struct Provider {
    request: Option<Received<DatabaseRequest>>,
}

impl Charm for Provider {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_relation("database", Self::on_changed)?;
        Ok(Self { request: None })
    }
}

impl Provider {
    fn on_changed(&mut self, event: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        let Some(relation) = model.relation_by_id("database", event.relation.id)? else {
            return Ok(());
        };
        let request = DatabaseRequest::read(model, &relation)?;
        self.request = Some(request.clone());
        let Received::Ready(request) = request else {
            return Ok(());
        };
        let config = model.config()?;
        let user = format!("relation_id_{}", relation.id.id);
        let mut credentials = Credentials::new(&user, "pw");
        if config.get::<bool>("uris")?.unwrap_or(true) {
            credentials = credentials.with_uris(format!(
                "postgresql://{user}:pw@127.0.0.1:5432/{}",
                request.database
            ));
        }
        let mut answer = Answer::new(vec![Endpoint::new("127.0.0.1", 5432)])
            .with_read_only_endpoints(vec![Endpoint::new("127.0.0.2", 5432)])
            .with_database(&request.database)
            .with_version("16.4")
            .with_credentials(credentials);
        if config.get::<bool>("tls")?.unwrap_or(true) {
            let ca = config
                .get::<String>("ca")?
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "CA".to_string());
            answer = answer.with_tls(Some(ca));
        } else {
            answer = answer.with_tls(None);
        }
        answer.write(model, &relation)?;
        Ok(())
    }
}

fn bag(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A unit databag without the keys Juju puts in every one.
fn without_juju_keys(bag: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut bag = bag.clone();
    for key in ["egress-subnets", "ingress-address", "private-address"] {
        bag.remove(key);
    }
    bag
}

fn requirer() -> Context<Requirer> {
    Context::new(REQUIRER_YAML).unwrap()
}

fn provider() -> Context<Provider> {
    Context::new(PROVIDER_YAML).unwrap()
}

/// The provider's leader at relation-changed of `relation`: the context
/// (for the charm and further runs) and the state it left.
fn provider_run(relation: &Relation) -> (Context<Provider>, State) {
    let mut ctx = provider();
    let state = State::default()
        .with_leader(true)
        .with_relation(relation.clone());
    let out = ctx.run(ctx.on.relation_changed(relation), &state).unwrap();
    (ctx, out)
}

// ---- the requirer writes the request ---------------------------------

#[test]
fn the_request_is_the_librarys() {
    let mut ctx = requirer();
    let relation = Relation::new("database").with_remote_app("postgresql");
    let state = State::default()
        .with_leader(true)
        .with_relation(relation.clone());
    let out = ctx.run(ctx.on.relation_created(&relation), &state).unwrap();
    let r = out.relation(relation.id).unwrap();
    assert_eq!(
        r.local_app_data,
        bag(&[
            ("requested-secrets", LIB_REQUESTED),
            ("provided-secrets", LIB_PROVIDED),
            ("database", "pgbouncer"),
            ("extra-user-roles", "SUPERUSER"),
        ])
    );
    assert_eq!(
        without_juju_keys(&r.local_unit_data),
        bag(&[
            ("requested-secrets", LIB_REQUESTED),
            ("provided-secrets", LIB_PROVIDED)
        ])
    );
}

#[test]
fn a_follower_writes_no_request() {
    let mut ctx = requirer();
    let relation = Relation::new("database").with_remote_app("postgresql");
    let state = State::default().with_relation(relation.clone());
    let out = ctx.run(ctx.on.relation_created(&relation), &state).unwrap();
    let r = out.relation(relation.id).unwrap();
    assert!(r.local_app_data.is_empty() && without_juju_keys(&r.local_unit_data).is_empty());
}

#[test]
fn request_options_are_written_as_the_library_writes_them() {
    let request = DatabaseRequest::new("db")
        .with_external_node_connectivity()
        .with_requested_secrets(["username", "password"]);
    let app: BTreeMap<_, _> = request.app_data().into_iter().collect();
    assert_eq!(app["external-node-connectivity"], "true");
    assert_eq!(app["extra-user-roles"], "", "not asked: no key");
    assert_eq!(app["requested-secrets"], r#"["username", "password"]"#);
    let plain = DatabaseRequest::new("db").with_requested_secrets(Vec::<String>::new());
    assert!(plain.unit_data().iter().all(|(_, v)| v.is_empty()));
}

// ---- the provider reads the request and answers ----------------------

/// The requirer's app databag as the library wrote it (`asked`: with
/// `requested-secrets`), for a client asking for `appdb` with `CREATEDB`.
fn client(asked: bool) -> Relation {
    let mut data = vec![("database", "appdb"), ("extra-user-roles", "CREATEDB")];
    if asked {
        data.push(("requested-secrets", LIB_REQUESTED));
        data.push(("provided-secrets", LIB_PROVIDED));
    }
    Relation::new("database")
        .with_remote_app("client")
        .with_remote_app_data(data)
}

#[test]
fn the_provider_answers_in_secrets_as_the_library_does() {
    let relation = client(true);
    let (ctx, out) = provider_run(&relation);
    let Some(Received::Ready(request)) = &ctx.charm().unwrap().request else {
        panic!("no request read");
    };
    assert_eq!(request.database, "appdb");
    assert_eq!(request.extra_user_roles.as_deref(), Some("CREATEDB"));
    assert_eq!(request.requested_secrets, DEFAULT_REQUESTED_SECRETS);

    let mut app = out.relation(relation.id).unwrap().local_app_data.clone();
    let user_uri = app.remove("secret-user").unwrap();
    let tls_uri = app.remove("secret-tls").unwrap();
    // The library's bag, but for `data` (its copy of the client's bag, for
    // its own change detection).
    assert_eq!(
        app,
        bag(&[
            ("database", "appdb"),
            ("endpoints", "127.0.0.1:5432"),
            ("read-only-endpoints", "127.0.0.2:5432"),
            ("version", "16.4"),
        ])
    );
    let user = out.secret(&user_uri).unwrap();
    let label = format!("database.{}.user.secret", relation.id);
    assert_eq!(user.label.as_deref(), Some(label.as_str()));
    let pg_user = format!("relation_id_{}", relation.id);
    let uri = format!("postgresql://{pg_user}:pw@127.0.0.1:5432/appdb");
    assert_eq!(
        user.latest_content().unwrap(),
        &bag(&[("password", "pw"), ("uris", &uri), ("username", &pg_user)])
    );
    assert_eq!(
        user.grants.iter().map(|g| g.relation).collect::<Vec<_>>(),
        [relation.id]
    );
    let tls = out.secret(&tls_uri).unwrap();
    let label = format!("database.{}.tls.secret", relation.id);
    assert_eq!(tls.label.as_deref(), Some(label.as_str()));
    assert_eq!(
        tls.latest_content().unwrap(),
        &bag(&[("tls", "True"), ("tls-ca", "CA")])
    );
    assert_eq!(tls.grants.len(), 1);
}

#[test]
fn without_requested_secrets_the_answer_is_plain_as_the_librarys() {
    let relation = client(false);
    let (_, out) = provider_run(&relation);
    let pg_user = format!("relation_id_{}", relation.id);
    let uri = format!("postgresql://{pg_user}:pw@127.0.0.1:5432/appdb");
    assert_eq!(
        out.relation(relation.id).unwrap().local_app_data,
        bag(&[
            ("database", "appdb"),
            ("endpoints", "127.0.0.1:5432"),
            ("password", "pw"),
            ("read-only-endpoints", "127.0.0.2:5432"),
            ("tls", "True"),
            ("tls-ca", "CA"),
            ("uris", &uri),
            ("username", &pg_user),
            ("version", "16.4"),
        ])
    );
    assert!(out.secrets.is_empty());
}

#[test]
fn the_same_answer_again_is_no_new_revision_and_a_change_is_one() {
    let relation = client(true);
    let (mut ctx, first) = provider_run(&relation);
    let relation = first.relation(relation.id).unwrap().clone();
    let again = ctx.run(ctx.on.relation_changed(&relation), &first).unwrap();
    assert_eq!(again.secrets, first.secrets, "nothing changed, nothing new");

    // No URIs any more, and another CA: each secret gets one new revision,
    // and `uris` is gone from the user secret.
    let mut changed = again.clone();
    changed.config.insert("uris".into(), false.into());
    changed.config.insert("ca".into(), "CA2".into());
    let out = ctx
        .run(ctx.on.relation_changed(&relation), &changed)
        .unwrap();
    let app = &out.relation(relation.id).unwrap().local_app_data;
    let user = out.secret(&app["secret-user"]).unwrap();
    assert_eq!(user.latest_revision(), 2);
    assert!(!user.latest_content().unwrap().contains_key("uris"));
    let tls = out.secret(&app["secret-tls"]).unwrap();
    assert_eq!(tls.latest_content().unwrap()["tls-ca"], "CA2");
    assert_eq!(out.secrets.len(), 2, "updated in place, none added");
}

#[test]
fn tls_off_is_false_and_no_ca() {
    let mut ctx = provider();
    let relation = client(false);
    let state = State::default()
        .with_leader(true)
        .with_relation(relation.clone())
        .with_config([("tls", false.into())]);
    let out = ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    let app = &out.relation(relation.id).unwrap().local_app_data;
    assert_eq!(app["tls"], "False");
    assert!(!app.contains_key("tls-ca"));
}

#[test]
fn a_requirer_that_knows_secrets_never_gets_the_password_plainly() {
    // It lists TLS only: the library would write `password` and `uris`
    // plainly; this crate puts them in the user secret all the same.
    let mut ctx = provider();
    let relation = Relation::new("database")
        .with_remote_app("client")
        .with_remote_app_data([("database", "appdb"), ("requested-secrets", r#"["tls"]"#)]);
    let state = State::default()
        .with_leader(true)
        .with_relation(relation.clone());
    let out = ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    let app = &out.relation(relation.id).unwrap().local_app_data;
    for plain in ["password", "uris", "tls"] {
        assert!(!app.contains_key(plain), "{plain} plainly");
    }
    assert_eq!(app["tls-ca"], "CA", "not listed, not secret");
    assert_eq!(app["username"], format!("relation_id_{}", relation.id));
    let user = out
        .secret(&app["secret-user"])
        .unwrap()
        .latest_content()
        .unwrap();
    assert_eq!(
        user.keys().collect::<Vec<_>>(),
        ["password", "uris"],
        "the fields that hold the password"
    );
}

#[test]
fn a_relation_that_started_plain_stays_plain() {
    // The client learnt secrets after it was answered plainly: the
    // library keeps answering on the databag.
    let relation = client(false);
    let (mut ctx, out) = provider_run(&relation);
    let mut relation = out.relation(relation.id).unwrap().clone();
    relation
        .remote_app_data
        .insert("requested-secrets".into(), LIB_REQUESTED.into());
    let mut next = out.clone();
    next.relations = vec![relation.clone()];
    let out = ctx.run(ctx.on.relation_changed(&relation), &next).unwrap();
    let app = &out.relation(relation.id).unwrap().local_app_data;
    assert_eq!(app["password"], "pw");
    assert!(!app.contains_key("secret-user"));
    assert!(out.secrets.is_empty());
}

#[test]
fn a_garbled_secret_list_is_refused_and_never_answered_plainly() {
    let mut ctx = provider();
    let relation = Relation::new("database")
        .with_remote_app("client")
        .with_remote_app_data([("database", "appdb"), ("requested-secrets", "username")]);
    let state = State::default()
        .with_leader(true)
        .with_relation(relation.clone());
    ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    let Some(Received::Invalid(e)) = &ctx.charm().unwrap().request else {
        panic!("not refused");
    };
    assert_eq!(
        e.to_string(),
        "requested-secrets (8 bytes) is not a JSON list of strings"
    );

    // A provider that answers all the same (its own call) puts the
    // credentials in secrets.
    struct Answers;
    impl Charm for Answers {
        fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
            fw.observe_relation("database", Self::on_changed)?;
            Ok(Self)
        }
    }
    impl Answers {
        fn on_changed(&mut self, event: &RelationChanged, ctx: &mut Ctx) -> HandlerResult {
            let model = ctx.model();
            if let Some(relation) = model.relation_by_id("database", event.relation.id)? {
                Answer::new(vec![Endpoint::new("127.0.0.1", 5432)])
                    .with_credentials(Credentials::new("u", "pw"))
                    .write(model, &relation)?;
            }
            Ok(())
        }
    }
    let mut ctx: Context<Answers> = Context::new(PROVIDER_YAML).unwrap();
    let out = ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    let app = &out.relation(relation.id).unwrap().local_app_data;
    assert!(!app.contains_key("password") && app.contains_key("secret-user"));
}

#[test]
fn a_follower_provider_writes_nothing() {
    let mut ctx = provider();
    let relation = client(true);
    let state = State::default().with_relation(relation.clone());
    let out = ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    assert!(out.relation(relation.id).unwrap().local_app_data.is_empty());
    assert!(out.secrets.is_empty());
}

#[test]
fn requests_are_checked_and_refusals_name_the_field() {
    let long = "d".repeat(64);
    for (data, expected) in [
        (
            vec![("database", long.as_str())],
            "database (64 bytes) is longer than 63 bytes",
        ),
        (
            vec![("database", "a\nb")],
            "database (3 bytes) holds a control character",
        ),
        (
            vec![("database", "a"), ("extra-user-roles", "x\u{1b}[31m")],
            "extra-user-roles (6 bytes) holds a control character",
        ),
        (
            vec![("database", "a"), ("requested-secrets", r#"{"a": 1}"#)],
            "requested-secrets (8 bytes) is not a JSON list of strings",
        ),
    ] {
        let bag: BTreeMap<String, String> = data
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let err = DatabaseRequest::from_bag(&bag).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
    assert_eq!(DatabaseRequest::from_bag(&BTreeMap::new()), Ok(None));
}

// ---- the requirer reads the answer -----------------------------------

/// The provider's app databag and secrets as the library wrote them, seen
/// from the requirer of `relation`.
fn answered_in_secrets(relation: &Relation) -> (Relation, Secret, Secret) {
    let user =
        Secret::new([("username", "relation_id_7"), ("password", "pw")]).observed_from(relation);
    let tls = Secret::new([("tls", "True"), ("tls-ca", "CA")]).observed_from(relation);
    let relation = relation.clone().with_remote_app_data([
        ("endpoints", "127.0.0.1:5432"),
        ("database", "pgbouncer"),
        ("version", "16.4"),
        ("secret-user", user.id.as_str()),
        ("secret-tls", tls.id.as_str()),
    ]);
    (relation, user, tls)
}

#[test]
fn the_requirer_reads_the_credentials_and_tls_from_the_secrets() {
    let mut ctx = requirer();
    let base = Relation::new("database").with_remote_app("postgresql");
    let (relation, user, tls) = answered_in_secrets(&base);
    // Plain user fields beside the secret are not the answer: a group with
    // a secret is read from it only (the library's order).
    let relation = relation.with_remote_app_data([
        ("password", "stale"),
        (
            "uris",
            "postgresql://relation_id_7:stale@127.0.0.1:5432/pgbouncer",
        ),
    ]);
    let state = State::default()
        .with_relation(relation.clone())
        .with_secret(
            user.clone()
                .with_revision(2, [("username", "relation_id_7"), ("password", "pw2")]),
        )
        .with_secret(tls.clone());
    let out = ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    let Some(Received::Ready(answer)) = &ctx.charm().unwrap().read else {
        panic!("not ready: {:?}", ctx.charm().unwrap().read);
    };
    assert_eq!(answer.endpoints, [Endpoint::new("127.0.0.1", 5432)]);
    assert_eq!(answer.database.as_deref(), Some("pgbouncer"));
    assert_eq!(answer.version.as_deref(), Some("16.4"));
    let credentials = answer.credentials.as_ref().unwrap();
    assert_eq!(credentials.username, "relation_id_7");
    assert_eq!(credentials.password, "pw2", "the latest revision");
    assert_eq!(credentials.uris, None);
    assert_eq!(
        answer.tls,
        Some(Tls {
            enabled: true,
            ca: Some("CA".into())
        })
    );
    // Tracked, and labelled as the library labels it on the requirer.
    let seen = out.secret(&user.id).unwrap();
    assert_eq!(seen.tracked_revision, 2);
    let label = format!("database.{}.user.secret", relation.id);
    assert_eq!(seen.label.as_deref(), Some(label.as_str()));
    let label = format!("database.{}.tls.secret", relation.id);
    assert_eq!(
        out.secret(&tls.id).unwrap().label.as_deref(),
        Some(label.as_str())
    );
}

#[test]
fn the_requirer_reads_a_provider_without_secrets_plainly() {
    let mut ctx = requirer();
    let relation = Relation::new("database")
        .with_remote_app("postgresql")
        .with_remote_app_data([
            ("endpoints", "127.0.0.1:5432,127.0.0.3:5433"),
            ("read-only-endpoints", "127.0.0.2:5432"),
            ("username", "relation_id_7"),
            ("password", "pw"),
            ("tls", "False"),
            ("subordinated", "true"),
        ]);
    let state = State::default().with_relation(relation.clone());
    ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    let Some(Received::Ready(answer)) = &ctx.charm().unwrap().read else {
        panic!("not ready");
    };
    assert_eq!(answer.endpoints.len(), 2);
    assert_eq!(answer.endpoints[1].to_string(), "127.0.0.3:5433");
    assert_eq!(
        answer.read_only_endpoints,
        [Endpoint::new("127.0.0.2", 5432)]
    );
    assert_eq!(answer.credentials.as_ref().unwrap().password, "pw");
    assert_eq!(answer.tls.as_ref().map(|t| t.enabled), Some(false));
    assert!(answer.subordinated);
}

#[test]
fn a_secret_not_granted_yet_is_not_yet_and_the_hook_succeeds() {
    let mut ctx = requirer().without_consistency_checks();
    let base = Relation::new("database").with_remote_app("postgresql");
    let (relation, _, tls) = answered_in_secrets(&base);
    // The user secret is not in the state: this unit cannot read it.
    let state = State::default()
        .with_relation(relation.clone())
        .with_secret(tls);
    ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
    assert_eq!(ctx.charm().unwrap().read, Some(Received::NotYet));
}

#[test]
fn an_incomplete_answer_is_not_yet() {
    let full = bag(&[
        ("endpoints", "127.0.0.1:5432"),
        ("username", "u"),
        ("password", "p"),
    ]);
    for missing in ["endpoints", "username", "password"] {
        let mut partial = full.clone();
        partial.remove(missing);
        assert_eq!(Answer::from_bag(&partial), Ok(None), "{missing}");
    }
    assert!(Answer::from_bag(&full).unwrap().is_some());
}

#[test]
fn answers_are_checked_and_refusals_never_quote_the_value() {
    let mut ctx = requirer();
    for (key, value, expected) in [
        (
            "endpoints",
            "db.internal",
            "endpoints (11 bytes) is not a comma-separated list of host:port",
        ),
        (
            "endpoints",
            "127.0.0.1:0",
            "endpoints (11 bytes) is not a comma-separated list of host:port",
        ),
        (
            "endpoints",
            "-oProxy:5432",
            "endpoints (12 bytes) is not a comma-separated list of host:port",
        ),
        (
            "password",
            "pw\nnext",
            "password (7 bytes) holds a control character",
        ),
        (
            "secret-user",
            "--label=x",
            "secret-user (9 bytes) is not a secret URI",
        ),
    ] {
        let mut data = vec![
            ("endpoints", "127.0.0.1:5432"),
            ("username", "u"),
            ("password", "pw"),
        ];
        data.retain(|(k, _)| *k != key);
        data.push((key, value));
        let relation = Relation::new("database")
            .with_remote_app("postgresql")
            .with_remote_app_data(data);
        let state = State::default().with_relation(relation.clone());
        ctx.run(ctx.on.relation_changed(&relation), &state).unwrap();
        let Some(Received::Invalid(e)) = &ctx.charm().unwrap().read else {
            panic!("{key}: not refused");
        };
        assert_eq!(e.to_string(), expected);
    }
}

#[test]
fn an_endless_endpoint_list_is_refused() {
    let many = vec!["127.0.0.1:5432"; 257].join(",");
    let err = Answer::from_bag(&bag(&[
        ("endpoints", &many),
        ("username", "u"),
        ("password", "pw"),
    ]))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "endpoints ({} bytes) is not a list of at most 256 host:port",
            many.len()
        )
    );
}

#[test]
fn unreadable_read_only_endpoints_are_left_out_not_refused() {
    let answer = Answer::from_bag(&bag(&[
        ("endpoints", "127.0.0.1:5432"),
        ("read-only-endpoints", "127.0.0.1:x"),
        ("username", "u"),
        ("password", "pw"),
    ]))
    .unwrap()
    .unwrap();
    assert!(answer.read_only_endpoints.is_empty());
}

#[test]
fn debug_never_shows_a_password_or_uri() {
    let answer = Answer::new(vec![Endpoint::new("127.0.0.1", 5432)]).with_credentials(
        Credentials::new("u", "hunter2")
            .with_uris("postgresql://u:hunter2@127.0.0.1:5432/db")
            .with_read_only_uris("postgresql://u:hunter2@127.0.0.1:5432/db_ro"),
    );
    let shown = format!("{answer:?} {:?}", Received::Ready(answer.clone()));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("\"u\""));
}

// ---- property tests of the parsers of remote data --------------------

proptest! {
    #[test]
    fn prop_answers_never_panic_and_refusals_never_quote(
        endpoints in "\\PC{0,40}",
        username in "\\PC{0,70}",
        password in "[a-z\\n\\t\\x00]{0,20}",
        tls_ca in "\\PC{0,20}",
    ) {
        let bag = bag(&[
            ("endpoints", &endpoints),
            ("username", &username),
            ("password", &password),
            ("tls-ca", &tls_ca),
        ]);
        match Answer::from_bag(&bag) {
            Ok(Some(answer)) => {
                // Whatever is accepted is printable as it was given.
                let written: Vec<String> = answer.endpoints.iter().map(Endpoint::to_string).collect();
                prop_assert_eq!(written.join(","), endpoints.split(',').map(str::trim).collect::<Vec<_>>().join(","));
                prop_assert!(!username.contains(char::is_control));
            }
            Ok(None) => {}
            Err(e) => {
                let shown = e.to_string();
                for value in [&endpoints, &username, &password] {
                    if value.len() > 3 {
                        prop_assert!(!shown.contains(value.as_str()), "{}", shown);
                    }
                }
            }
        }
    }

    #[test]
    fn prop_written_endpoints_read_back(
        hosts in proptest::collection::vec("[a-z0-9][a-z0-9.-]{0,20}", 1..4),
        ports in proptest::collection::vec(1u16.., 4),
    ) {
        let list: Vec<Endpoint> = hosts.iter().zip(&ports).map(|(h, p)| Endpoint::new(h, *p)).collect();
        let answer = Answer::new(list.clone()).with_credentials(Credentials::new("u", "p"));
        let fields: BTreeMap<String, String> = answer
            .fields()
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let read = Answer::from_bag(&fields).unwrap().unwrap();
        prop_assert_eq!(read.endpoints, list);
    }

    #[test]
    fn prop_requests_never_panic_and_refusals_never_quote(
        database in "\\PC{0,80}",
        roles in "\\PC{0,20}",
        requested in "\\PC{0,40}",
    ) {
        let bag = bag(&[
            ("database", &database),
            ("extra-user-roles", &roles),
            ("requested-secrets", &requested),
        ]);
        match DatabaseRequest::from_bag(&bag) {
            Ok(Some(request)) => {
                prop_assert!(request.database.len() <= 63);
                prop_assert!(!request.database.contains(char::is_control));
            }
            Ok(None) => prop_assert!(database.is_empty()),
            Err(e) => {
                let shown = e.to_string();
                for value in [&database, &roles, &requested] {
                    if value.len() > 3 {
                        prop_assert!(!shown.contains(value.as_str()), "{}", shown);
                    }
                }
            }
        }
    }
}
