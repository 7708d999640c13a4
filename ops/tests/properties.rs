//! Properties of what `ops` reads from outside, over arbitrary input: the
//! Juju environment, and the text forms of relation references, ports and
//! status names (which come back from hook tools and go into argv).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::str::FromStr;

use ops::JujuContext;
use ops::backend::{OpenedPort, PortProtocol, RelationRef, StatusName};
use proptest::prelude::*;

/// Names Juju sets, and a few others, so that generated environments hit
/// the parser's every branch.
const VARIABLES: &[&str] = &[
    "JUJU_DISPATCH_PATH",
    "JUJU_UNIT_NAME",
    "JUJU_CHARM_DIR",
    "JUJU_MODEL_NAME",
    "JUJU_MODEL_UUID",
    "JUJU_RELATION",
    "JUJU_RELATION_ID",
    "JUJU_REMOTE_UNIT",
    "JUJU_REMOTE_APP",
    "JUJU_DEPARTING_UNIT",
    "JUJU_ACTION_NAME",
    "JUJU_ACTION_UUID",
    "JUJU_SECRET_ID",
    "JUJU_SECRET_LABEL",
    "JUJU_SECRET_REVISION",
    "JUJU_STORAGE_ID",
    "JUJU_WORKLOAD_NAME",
    "JUJU_NOTICE_ID",
    "JUJU_NOTICE_TYPE",
    "JUJU_NOTICE_KEY",
    "JUJU_PEBBLE_CHECK_NAME",
    "JUJU_VERSION",
    "OPERATOR_DISPATCH",
    "PATH",
];

fn os_value() -> impl Strategy<Value = OsString> {
    prop_oneof![
        // Plausible values: what Juju sets, slightly wrong.
        "(hooks|actions)/[a-z-]{0,20}".prop_map(OsString::from),
        "[a-z-]{0,8}/[0-9]{0,3}".prop_map(OsString::from),
        "[a-z-]{0,8}:[0-9a-z]{0,4}".prop_map(OsString::from),
        "[0-9]{0,12}".prop_map(OsString::from),
        ".{0,40}".prop_map(OsString::from),
        // Bytes that are not UTF-8.
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(OsString::from_vec),
    ]
}

fn environment() -> impl Strategy<Value = Vec<(OsString, OsString)>> {
    proptest::collection::vec(
        (
            prop_oneof![
                proptest::sample::select(VARIABLES).prop_map(OsString::from),
                proptest::collection::vec(any::<u8>(), 0..12).prop_map(OsString::from_vec),
            ],
            os_value(),
        ),
        0..16,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the environment holds (non-UTF-8 included), reading it is a
    /// context or a typed error, never a panic; a context's event name comes
    /// from the dispatch path. (Its first run found this test's own mistake:
    /// an action's event name is `<name>_action`; the input is kept in
    /// `properties.proptest-regressions`.)
    #[test]
    fn prop_juju_context_from_any_environment_never_panics(vars in environment()) {
        if let Ok(ctx) = JujuContext::from_vars_os(vars.clone()) {
            let path = vars
                .iter()
                .rev()
                .find(|(k, _)| k == "JUJU_DISPATCH_PATH")
                .and_then(|(_, v)| v.clone().into_string().ok())
                .expect("a context needs JUJU_DISPATCH_PATH");
            let name = path.rsplit('/').next().unwrap_or_default().replace('-', "_");
            // An action's event is `<name>_action`, as Python ops names it.
            let expected = if path.starts_with("actions/") {
                format!("{name}_action")
            } else {
                name
            };
            prop_assert_eq!(ctx.event_name(), expected);
        }
    }

    /// `name:id` round-trips for every endpoint name and id.
    #[test]
    fn prop_relation_ref_display_parse_round_trip(name in "[a-z][a-z0-9-]{0,30}", id in any::<u32>()) {
        let relation = RelationRef { name, id };
        let text = relation.to_string();
        prop_assert_eq!(RelationRef::from_str(&text).ok(), Some(relation));
    }

    /// Arbitrary text parses as a relation reference or is refused: never a panic.
    #[test]
    fn prop_relation_ref_parse_any_text(text in ".{0,40}") {
        let _ = RelationRef::from_str(&text);
    }

    /// Ports and ranges round-trip through their `open-port` text.
    #[test]
    fn prop_opened_port_display_parse_round_trip(
        protocol in prop_oneof![Just(PortProtocol::Tcp), Just(PortProtocol::Udp)],
        port in 1u16..,
        span in proptest::option::of(0u16..1000),
    ) {
        let to_port = span.and_then(|s| port.checked_add(s)).filter(|to| *to > port);
        let opened = OpenedPort { protocol, port: Some(port), to_port };
        let text = opened.to_string();
        prop_assert_eq!(OpenedPort::from_str(&text).ok(), Some(opened), "{}", text);
    }

    /// Arbitrary text parses as a port or is refused: never a panic.
    #[test]
    fn prop_opened_port_parse_any_text(text in "[0-9a-z/-]{0,20}|.{0,20}") {
        let _ = OpenedPort::from_str(&text);
    }

    /// Status names round-trip; anything else is refused.
    #[test]
    fn prop_status_name_parse(text in "[a-z]{0,12}") {
        match StatusName::from_str(&text) {
            Ok(name) => prop_assert_eq!(name.to_string(), text),
            Err(_) => prop_assert!(
                !["active", "blocked", "maintenance", "waiting", "error", "unknown"]
                    .contains(&text.as_str())
            ),
        }
    }
}

#[test]
fn icmp_round_trips() {
    let icmp = OpenedPort {
        protocol: PortProtocol::Icmp,
        port: None,
        to_port: None,
    };
    assert_eq!(OpenedPort::from_str(&icmp.to_string()).ok(), Some(icmp));
}

#[test]
fn every_status_name_round_trips() {
    for name in [
        StatusName::Active,
        StatusName::Blocked,
        StatusName::Maintenance,
        StatusName::Waiting,
        StatusName::Error,
        StatusName::Unknown,
    ] {
        assert_eq!(StatusName::from_str(&name.to_string()).ok(), Some(name));
    }
}
