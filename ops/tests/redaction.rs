//! Values (secrets, remote data, stored state, action parameters) never
//! reach `Debug` or an error message.

use std::collections::BTreeMap;

use ops::backend::{SecretAddArgs, SecretSetArgs};
use ops::events::ActionEvent;
use ops::storage::{Notice, PersistedState};

const SECRET: &str = "hunter2-very-secret";

#[track_caller]
fn assert_hidden(shown: &str, must_show: &str) {
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains(must_show), "{shown}");
}

#[test]
fn secret_args_debug_shows_keys_not_values() {
    let content = BTreeMap::from([("password".to_string(), SECRET.to_string())]);
    let add = SecretAddArgs {
        content: content.clone(),
        label: Some("db".into()),
        ..Default::default()
    };
    assert_hidden(&format!("{add:?}"), "password");
    let set = SecretSetArgs {
        content: Some(content),
        ..Default::default()
    };
    assert_hidden(&format!("{set:?}"), "password");
}

#[test]
fn persisted_state_debug_shows_keys_not_values() {
    let mut state = PersistedState::default();
    state.stored.insert(
        "C/StoredState[s]".into(),
        serde_json::json!({ "password": SECRET }),
    );
    state.notices.push(Notice {
        handle: "C/on/db_ready[3]".into(),
        observer: "C::on_db_ready".into(),
        event: "db_ready".into(),
        snapshot: serde_json::json!({ "password": SECRET }),
    });
    let shown = format!("{state:?}");
    assert_hidden(&shown, "C/StoredState[s]");
    assert_hidden(&shown, "C::on_db_ready");
}

#[test]
fn action_event_debug_and_param_errors_show_names_not_values() {
    let mut params = serde_json::Map::new();
    params.insert("password".into(), serde_json::json!(SECRET));
    let event = ActionEvent {
        name: "set-password".into(),
        id: Some("1".into()),
        params,
    };
    assert_hidden(&format!("{event:?}"), "password");
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wants {
        password: u32,
    }
    let err = event.params_as::<Wants>().unwrap_err();
    assert_hidden(&format!("{err} {err:?}"), "password");
}

#[test]
fn a_corrupt_state_file_error_names_the_file_not_what_it_holds() {
    use ops::storage::{LocalStateFile, STATE_FILE_NAME, StateStore};
    let dir = tempfile::tempdir().unwrap();
    // A value of the wrong type where serde would quote it back.
    std::fs::write(
        dir.path().join(STATE_FILE_NAME),
        format!(r#"{{"format": 1, "event_count": "{SECRET}", "notices": [], "stored": {{}}}}"#),
    )
    .unwrap();
    let error = LocalStateFile::in_charm_dir(dir.path()).load().unwrap_err();
    assert_hidden(&format!("{error} {error:?}"), STATE_FILE_NAME);
}
