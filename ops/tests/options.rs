//! The options and info structs that will gain fields are `#[non_exhaustive]`:
//! outside ops they are built with `new()` and the `with_*` methods, which
//! these tests use from outside the crate, as a charm does.

use std::time::{Duration, UNIX_EPOCH};

use ops::model::{SecretExpiry, SecretInfo, SecretOptions, SecretOwner, SecretRotate};
use ops::pebble::{ExecOptions, PushOptions};
use ops::{MainOptions, StateLocation};

#[test]
fn secret_options_set_every_field() {
    let options = SecretOptions::new();
    assert_eq!(options.label, None);
    assert_eq!(options.owner, SecretOwner::default());
    let options = SecretOptions::new()
        .with_label("db")
        .with_description("the database's password")
        .with_expire(UNIX_EPOCH + Duration::from_secs(1_893_456_000))
        .with_rotate(SecretRotate::Weekly)
        .with_owner(SecretOwner::Application);
    assert_eq!(options.label.as_deref(), Some("db"));
    assert_eq!(
        options.description.as_deref(),
        Some("the database's password")
    );
    assert_eq!(
        options.expire.map(SecretExpiry::to_juju).as_deref(),
        Some("2030-01-01T00:00:00Z")
    );
    let after = SecretOptions::new().with_expire(Duration::from_millis(1_500));
    assert_eq!(
        after.expire,
        Some(SecretExpiry::After(Duration::from_millis(1_500)))
    );
    assert_eq!(after.expire.unwrap().to_juju(), "1500ms");
    assert_eq!(options.rotate, Some(SecretRotate::Weekly));
    assert_eq!(options.owner, SecretOwner::Application);
}

#[test]
fn push_options_set_every_field() {
    assert_eq!(PushOptions::new(), PushOptions::default());
    let options = PushOptions::new()
        .with_make_dirs(true)
        .with_permissions(0o600)
        .with_user_id(70)
        .with_user("postgres")
        .with_group_id(71)
        .with_group("postgres");
    assert!(options.make_dirs);
    assert_eq!(options.permissions, Some(0o600));
    assert_eq!(options.user_id, Some(70));
    assert_eq!(options.user.as_deref(), Some("postgres"));
    assert_eq!(options.group_id, Some(71));
    assert_eq!(options.group.as_deref(), Some("postgres"));
}

#[test]
fn exec_options_set_every_field_and_add_environment_variables() {
    assert_eq!(ExecOptions::new(), ExecOptions::default());
    let options = ExecOptions::new()
        .with_service_context("db")
        .with_env("A", "1")
        .with_env("B", "2")
        .with_env("A", "3")
        .with_working_dir("/srv")
        .with_timeout(Duration::from_secs(5))
        .with_user_id(0)
        .with_user("root")
        .with_group_id(0)
        .with_group("root")
        .with_stdin(b"input".to_vec())
        .with_combine_stderr(true);
    assert_eq!(options.service_context.as_deref(), Some("db"));
    assert_eq!(options.environment.len(), 2);
    assert_eq!(options.environment["A"], "3", "a later value replaces");
    assert_eq!(options.environment["B"], "2");
    assert_eq!(options.working_dir.as_deref(), Some("/srv"));
    assert_eq!(options.timeout, Some(Duration::from_secs(5)));
    assert_eq!(options.user_id, Some(0));
    assert_eq!(options.user.as_deref(), Some("root"));
    assert_eq!(options.group_id, Some(0));
    assert_eq!(options.group.as_deref(), Some("root"));
    assert_eq!(options.stdin.as_deref(), Some(&b"input"[..]));
    assert!(options.combine_stderr);
}

#[test]
fn exec_options_debug_still_hides_values() {
    let options = ExecOptions::new()
        .with_env("PGPASSWORD", "hunter2-value")
        .with_stdin(b"hunter2-input".to_vec());
    let debug = format!("{options:?}");
    assert!(debug.contains("PGPASSWORD"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn main_options_set_every_field() {
    let options = MainOptions::new();
    assert_eq!(options.state, StateLocation::default());
    assert_eq!(options.compiled_meta, None);
    let options = MainOptions::new()
        .with_state(StateLocation::Juju)
        .with_compiled_meta("{}");
    assert_eq!(options.state, StateLocation::Juju);
    assert_eq!(options.compiled_meta, Some("{}"));
}

#[test]
fn secret_info_new_knows_only_the_id() {
    let mut info = SecretInfo::new("secret:abc");
    assert_eq!(info.id, "secret:abc");
    assert_eq!(info.revision, 0);
    assert_eq!(
        (
            &info.label,
            &info.description,
            &info.rotation,
            &info.expiry,
            &info.owner
        ),
        (&None, &None, &None, &None, &None)
    );
    info.revision = 3;
    assert_eq!(info.revision, 3);
}
