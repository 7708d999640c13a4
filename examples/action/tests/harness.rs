//! action through the Harness: results, the progress message, and the two
//! ways the action fails.

use action::Action;
use ops_testing::Harness;
use serde_json::{Map, Value, json};

fn run(params: Value) -> ops_testing::ActionOutput {
    let mut h = Harness::<Action>::from_charm_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    h.begin_with_initial_hooks().unwrap();
    let params: Map<String, Value> = params.as_object().unwrap().clone();
    h.run_action("convert", params).unwrap()
}

#[test]
fn results_are_flattened_and_rounded() {
    let out = run(json!({"celsius": 21.5}));
    assert_eq!(out.failure, None);
    assert_eq!(out.results["fahrenheit"], "70.7");
    assert_eq!(out.results["kelvin.value"], "294.6");
    assert_eq!(out.results["kelvin.unit"], "K");
    assert_eq!(out.results.len(), 3, "{:?}", out.results);
    assert_eq!(out.logs, ["converting 21.5 °C"]);

    let out = run(json!({"celsius": 100, "decimals": 3}));
    assert_eq!(out.results["fahrenheit"], "212.000");
    assert_eq!(out.results["kelvin.value"], "373.150");
}

#[test]
fn below_absolute_zero_fails_the_action_not_the_hook() {
    let out = run(json!({"celsius": -300}));
    assert_eq!(
        out.failure.as_deref(),
        Some("-300 °C is below absolute zero (-273.15 °C)")
    );
    assert!(out.results.is_empty(), "{:?}", out.results);
    // Absolute zero itself is fine.
    let out = run(json!({"celsius": -273.15, "decimals": 0}));
    assert_eq!(out.failure, None);
    assert_eq!(out.results["kelvin.value"], "0");
}

#[test]
fn a_parameter_that_does_not_fit_fails_the_action_and_names_it() {
    let out = run(json!({"celsius": "warm"}));
    assert_eq!(
        out.failure.as_deref(),
        Some("parameter \"celsius\" is missing or not valid")
    );
    let out = run(json!({}));
    assert_eq!(
        out.failure.as_deref(),
        Some("parameter \"celsius\" is missing or not valid")
    );
    assert!(out.logs.is_empty());
}
