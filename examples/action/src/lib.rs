//! `action`: one action, `convert`, with typed parameters, results, a
//! progress message and failure.
//!
//! - Parameters come as a typed struct (`Model::action_params_as`); one
//!   that does not fit fails the action with a message naming it.
//! - Results are a JSON map; nested maps become dotted keys
//!   (`kelvin.value`), as Juju wants them.
//! - A temperature below absolute zero fails the action (`action-fail`):
//!   the handler still returns `Ok`, so the hook succeeds and the failure
//!   is the action's, reported to whoever ran it.

use ops::events::{ActionEvent, CollectUnitStatus};
use ops::{Charm, Ctx, Framework, HandlerError, HandlerResult, ModelError, Status};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Absolute zero, in degrees Celsius.
pub const ABSOLUTE_ZERO: f64 = -273.15;

/// `convert`'s parameters.
#[derive(Debug, Deserialize)]
pub struct ConvertParams {
    /// The temperature.
    pub celsius: f64,
    /// Decimals in the results (Juju fills in the default; so does serde).
    #[serde(default = "one")]
    pub decimals: u8,
}

fn one() -> u8 {
    1
}

/// The charm.
pub struct Action;

impl Charm for Action {
    fn new(fw: &mut Framework<Self>) -> Result<Self, HandlerError> {
        fw.observe_action("convert", Self::on_convert)?
            .observe(Self::on_collect_status)?;
        Ok(Action)
    }
}

/// The results of a conversion, or why there are none.
pub fn convert(params: &ConvertParams) -> Result<Map<String, Value>, String> {
    if !params.celsius.is_finite() || params.celsius < ABSOLUTE_ZERO {
        return Err(format!(
            "{} °C is below absolute zero ({ABSOLUTE_ZERO} °C)",
            params.celsius
        ));
    }
    let decimals = usize::from(params.decimals.min(6));
    let fahrenheit = params.celsius * 9.0 / 5.0 + 32.0;
    let kelvin = params.celsius - ABSOLUTE_ZERO;
    let mut results = Map::new();
    results.insert(
        "fahrenheit".into(),
        format!("{fahrenheit:.decimals$}").into(),
    );
    results.insert(
        "kelvin".into(),
        json!({"value": format!("{kelvin:.decimals$}"), "unit": "K"}),
    );
    Ok(results)
}

impl Action {
    fn on_convert(&mut self, _: &ActionEvent, ctx: &mut Ctx) -> HandlerResult {
        let model = ctx.model();
        let params = match model.action_params_as::<ConvertParams>() {
            Ok(params) => params,
            Err(ModelError::ActionParams { key, .. }) => {
                model.action_fail(&format!("parameter {key:?} is missing or not valid"))?;
                return Ok(());
            }
            Err(other) => return Err(other.into()),
        };
        model.action_log(&format!("converting {} °C", params.celsius))?;
        match convert(&params) {
            Ok(results) => model.action_set_results(results)?,
            Err(why) => model.action_fail(&why)?,
        }
        Ok(())
    }

    fn on_collect_status(&mut self, _: &CollectUnitStatus, _: &mut Ctx) -> HandlerResult<Status> {
        Ok(Status::active("ready to convert"))
    }
}
