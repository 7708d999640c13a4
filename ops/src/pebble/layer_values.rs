//! The closed sets of words some fields of a layer take: a service's
//! `startup` and its actions (`on-success`, `on-failure`,
//! `on-check-failure`), a check's `level` and `startup`, and every item's
//! `override`. Spellings are Pebble's (`internals/plan/plan.go`).
//!
//! Each enum also has an `Other` variant holding a word it does not know,
//! as sent. A newer Pebble may add words, and the plan, services and checks
//! read back from it should stay readable, with the new word kept so that
//! a service read from the plan can be written back in a layer unchanged.
//! Text a charm gives as a layer ([`Layer::from_yaml`](super::Layer::from_yaml))
//! is held to the words listed here instead: a typo there is an error, not
//! a service that silently never starts.
//!
//! Pebble treats an empty word as unset and leaves unset fields out of the
//! YAML it renders; a layer field is `None` then, and an empty word read
//! into one is `None` too.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines one of the enums: its known words, `Other`, `as_str`,
/// `Display`, and serde as the bare word (lenient: an unknown word is
/// `Other`, never an error, so that remote data never fails to parse
/// because of it).
macro_rules! layer_value {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $word:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
            /// A word this client does not know, kept as sent. Read from
            /// Pebble (a newer Pebble's word, say), it is this rather than
            /// an error, so the rest still reads and it goes back into a
            /// layer unchanged; [`Layer::from_yaml`](super::Layer::from_yaml)
            /// refuses it in a charm's own text.
            Other(String),
        }

        impl $name {
            /// Pebble's word for it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $word,)+
                    Self::Other(word) => word,
                }
            }
        }

        impl From<String> for $name {
            fn from(word: String) -> Self {
                match word.as_str() {
                    $($word => Self::$variant,)+
                    _ => Self::Other(word),
                }
            }
        }

        impl From<&str> for $name {
            fn from(word: &str) -> Self {
                Self::from(word.to_string())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::from)
            }
        }

        impl LayerWord for $name {
            const WORDS: &'static [&'static str] = &[$($word),+];

            fn is_other(&self) -> bool {
                matches!(self, Self::Other(_))
            }
        }
    };
}

/// What [`Layer::from_yaml`]'s check of a charm's own text asks of a value.
///
/// [`Layer::from_yaml`]: super::Layer::from_yaml
pub(crate) trait LayerWord {
    /// The words the enum knows, for the error that lists them.
    const WORDS: &'static [&'static str];

    /// Whether it is `Other`.
    fn is_other(&self) -> bool;
}

layer_value! {
    /// Whether a service starts on replan and when Pebble starts (a
    /// service's `startup`; Python's `ServiceStartup`).
    ///
    /// In a layer, unset (`None`) is Pebble's default: the service does
    /// not start by itself. [`ServiceInfo::startup`](super::ServiceInfo::startup)
    /// reports that as [`Disabled`](Self::Disabled).
    ///
    /// ```
    /// use ops::pebble::{Service, ServiceStartup};
    ///
    /// let web = Service { startup: Some(ServiceStartup::Enabled), ..Default::default() };
    /// assert_eq!(web.startup.unwrap().as_str(), "enabled");
    /// assert_eq!(ServiceStartup::from("disabled"), ServiceStartup::Disabled);
    /// assert_eq!(ServiceStartup::from("later"), ServiceStartup::Other("later".into()));
    /// ```
    ServiceStartup {
        /// `enabled`: started by replan and when Pebble starts.
        Enabled = "enabled",
        /// `disabled`: started only when asked.
        Disabled = "disabled",
    }
}

layer_value! {
    /// Whether a check runs from when its layer is added and on replan (a
    /// check's `startup`).
    ///
    /// In a layer, unset (`None`) is Pebble's default, enabled;
    /// [`CheckInfo::startup`](super::CheckInfo::startup) reports it as
    /// [`Enabled`](Self::Enabled).
    ///
    /// ```
    /// use ops::pebble::CheckStartup;
    ///
    /// assert_eq!(CheckStartup::Disabled.to_string(), "disabled");
    /// ```
    CheckStartup {
        /// `enabled`: runs from when it is added.
        Enabled = "enabled",
        /// `disabled`: inactive until started with
        /// [`Client::start_checks`](super::Client::start_checks).
        Disabled = "disabled",
    }
}

layer_value! {
    /// How a service, check or log target in a layer combines with the
    /// same one in the layers below (its `override`, which every item of a
    /// layer must set).
    ///
    /// ```
    /// use ops::pebble::{Override, Service};
    ///
    /// // Only the environment changes; the command and the rest stay.
    /// let mut web = Service { override_: Some(Override::Merge), ..Default::default() };
    /// web.environment.insert("MODE".into(), "fast".into());
    /// assert!(Override::Replace.to_string() == "replace");
    /// ```
    Override {
        /// `merge`: the fields set here change the item below; lists and
        /// maps are added to.
        Merge = "merge",
        /// `replace`: this item replaces the one below entirely.
        Replace = "replace",
    }
}

layer_value! {
    /// What Pebble does when a service exits or one of its checks fails (a
    /// service's `on-success`, `on-failure`, and the values of its
    /// `on-check-failure`).
    ///
    /// Unset (`None`, or an action left out of `on-check-failure`) is
    /// [`Restart`](Self::Restart) for `on-success` and `on-failure`, and
    /// [`Ignore`](Self::Ignore) for a check. Pebble takes
    /// [`FailureShutdown`](Self::FailureShutdown) only in `on-success`, and
    /// [`SuccessShutdown`](Self::SuccessShutdown) only in `on-failure` and
    /// `on-check-failure`, and refuses a layer that has them elsewhere.
    ///
    /// ```
    /// use ops::pebble::{Service, ServiceAction};
    ///
    /// let mut web = Service { on_success: Some(ServiceAction::Ignore), ..Default::default() };
    /// web.on_check_failure.insert("up".into(), ServiceAction::Restart);
    /// assert_eq!(ServiceAction::from("success-shutdown"), ServiceAction::SuccessShutdown);
    /// ```
    ServiceAction {
        /// `restart`: restart the service (after its backoff delay).
        Restart = "restart",
        /// `shutdown`: shut Pebble down, with an exit code that says
        /// failure for `on-failure` and success for `on-success`.
        Shutdown = "shutdown",
        /// `success-shutdown`: shut Pebble down with exit code 0.
        SuccessShutdown = "success-shutdown",
        /// `failure-shutdown`: shut Pebble down with a non-zero exit code.
        FailureShutdown = "failure-shutdown",
        /// `ignore`: leave the service as it is.
        Ignore = "ignore",
    }
}

layer_value! {
    /// A check's `level` (Python's `CheckLevel`): what its failure means.
    ///
    /// Unset (`None`) is a check of neither level: it counts for neither
    /// `/v1/health?level=alive` nor `?level=ready`, only for a health
    /// query of no level.
    ///
    /// ```
    /// use ops::pebble::{Check, CheckLevel};
    ///
    /// let up = Check { level: Some(CheckLevel::Ready), ..Default::default() };
    /// assert_eq!(up.level.as_ref().map(CheckLevel::as_str), Some("ready"));
    /// ```
    CheckLevel {
        /// `alive`: the workload is broken when it fails.
        Alive = "alive",
        /// `ready`: the workload cannot take work when it fails; a failing
        /// `alive` check also makes it not ready.
        Ready = "ready",
    }
}

/// Reads an optional field as Pebble does: an empty word is unset.
pub(crate) fn unset_if_empty<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    Ok(Option::<String>::deserialize(deserializer)?
        .filter(|word| !word.is_empty())
        .map(T::from))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::pebble::{Check, Layer, LogTarget, Plan, Service};

    /// Every known word, as Pebble spells it, with its variant.
    fn startups() -> [(ServiceStartup, &'static str); 2] {
        [
            (ServiceStartup::Enabled, "enabled"),
            (ServiceStartup::Disabled, "disabled"),
        ]
    }

    fn check_startups() -> [(CheckStartup, &'static str); 2] {
        [
            (CheckStartup::Enabled, "enabled"),
            (CheckStartup::Disabled, "disabled"),
        ]
    }

    fn overrides() -> [(Override, &'static str); 2] {
        [(Override::Merge, "merge"), (Override::Replace, "replace")]
    }

    fn actions() -> [(ServiceAction, &'static str); 5] {
        [
            (ServiceAction::Restart, "restart"),
            (ServiceAction::Shutdown, "shutdown"),
            (ServiceAction::SuccessShutdown, "success-shutdown"),
            (ServiceAction::FailureShutdown, "failure-shutdown"),
            (ServiceAction::Ignore, "ignore"),
        ]
    }

    fn levels() -> [(CheckLevel, &'static str); 2] {
        [(CheckLevel::Alive, "alive"), (CheckLevel::Ready, "ready")]
    }

    #[test]
    fn every_word_round_trips_through_a_layer_as_pebble_spells_it() {
        for (startup, word) in startups() {
            for (override_, override_word) in overrides() {
                for (action, action_word) in actions() {
                    let service = Service {
                        startup: Some(startup.clone()),
                        override_: Some(override_.clone()),
                        on_success: Some(action.clone()),
                        on_failure: Some(action.clone()),
                        on_check_failure: [("up".to_string(), action.clone())].into(),
                        ..Default::default()
                    };
                    let layer = Layer {
                        services: [("s".to_string(), service)].into(),
                        ..Default::default()
                    };
                    let yaml = layer.to_yaml().unwrap();
                    for line in [
                        format!("startup: {word}"),
                        format!("override: {override_word}"),
                        format!("on-success: {action_word}"),
                        format!("on-failure: {action_word}"),
                        format!("up: {action_word}"),
                    ] {
                        assert!(yaml.contains(&line), "{line:?} not in\n{yaml}");
                    }
                    assert_eq!(Layer::from_yaml(&yaml).unwrap(), layer);
                }
            }
        }
        for (startup, word) in check_startups() {
            for (level, level_word) in levels() {
                let check = Check {
                    startup: Some(startup.clone()),
                    level: Some(level.clone()),
                    override_: Some(Override::Replace),
                    ..Default::default()
                };
                let layer = Layer {
                    checks: [("c".to_string(), check)].into(),
                    log_targets: [(
                        "t".to_string(),
                        LogTarget {
                            override_: Some(Override::Merge),
                            ..Default::default()
                        },
                    )]
                    .into(),
                    ..Default::default()
                };
                let yaml = layer.to_yaml().unwrap();
                assert!(yaml.contains(&format!("startup: {word}")), "{yaml}");
                assert!(yaml.contains(&format!("level: {level_word}")), "{yaml}");
                assert!(yaml.contains("override: merge"), "{yaml}");
                assert_eq!(Layer::from_yaml(&yaml).unwrap(), layer);
            }
        }
    }

    #[test]
    fn display_and_as_str_are_pebbles_word_and_debug_names_the_variant() {
        /// Each variant is its word both ways, and every known word is listed.
        fn words<T: From<&'static str> + fmt::Display + fmt::Debug + PartialEq + LayerWord>(
            pairs: &[(T, &'static str)],
        ) {
            for (value, word) in pairs {
                assert_eq!(value.to_string(), *word);
                assert_eq!(&T::from(*word), value);
            }
            let listed: Vec<&str> = pairs.iter().map(|(_, word)| *word).collect();
            assert_eq!(listed, T::WORDS);
        }
        words(&startups());
        words(&check_startups());
        words(&overrides());
        words(&actions());
        words(&levels());
        assert_eq!(ServiceAction::FailureShutdown.as_str(), "failure-shutdown");
        assert_eq!(
            format!("{:?}", ServiceAction::SuccessShutdown),
            "SuccessShutdown"
        );
        assert_eq!(format!("{:?}", Some(CheckLevel::Alive)), "Some(Alive)");
        let other = ServiceStartup::from("later");
        assert_eq!(format!("{other:?}"), "Other(\"later\")");
        assert_eq!(other.to_string(), "later", "kept as sent");
    }

    #[test]
    fn an_empty_word_is_unset_as_in_pebble() {
        let layer = Layer::from_yaml(
            "services:\n  s:\n    override: replace\n    startup: ''\n    on-failure: ''\n\
             checks:\n  c:\n    override: replace\n    level: ''\n    startup: ''\n",
        )
        .unwrap();
        assert_eq!(layer.services["s"].startup, None);
        assert_eq!(layer.services["s"].on_failure, None);
        assert_eq!(layer.checks["c"].level, None);
        assert_eq!(layer.checks["c"].startup, None);
        let yaml = layer.to_yaml().unwrap();
        assert!(
            !yaml.contains("startup") && !yaml.contains("level"),
            "{yaml}"
        );
    }

    /// Where each enum sits in a layer, and the words it takes there.
    const FIELDS: [(&str, &str, &[&str]); 9] = [
        ("services", "startup", ServiceStartup::WORDS),
        ("services", "override", Override::WORDS),
        ("services", "on-success", ServiceAction::WORDS),
        ("services", "on-failure", ServiceAction::WORDS),
        ("services", "on-check-failure", ServiceAction::WORDS),
        ("checks", "override", Override::WORDS),
        ("checks", "level", CheckLevel::WORDS),
        ("checks", "startup", CheckStartup::WORDS),
        ("log-targets", "override", Override::WORDS),
    ];

    fn word() -> impl Strategy<Value = String> {
        let known: Vec<&str> = FIELDS
            .iter()
            .flat_map(|(_, _, words)| words.iter().copied())
            .collect();
        prop_oneof![
            proptest::sample::select(known).prop_map(str::to_string),
            "[a-z-]{0,12}",
            any::<String>(),
        ]
    }

    proptest! {
        /// Any word in any of these fields, from outside: Pebble's plan
        /// always reads and keeps it (an empty one unset); a charm's layer
        /// reads if Pebble knows it, and is otherwise refused by an error
        /// that names the item and field, and says nothing of the word.
        #[test]
        fn prop_outside_words_are_kept_from_pebble_and_checked_from_a_charm(
            word in word(),
            field in 0..FIELDS.len(),
        ) {
            let (section, key, words) = FIELDS[field];
            let mut item = serde_json::json!({"override": "replace"});
            if key == "on-check-failure" {
                item[key] = serde_json::json!({"up": word});
            } else {
                item[key] = serde_json::json!(word);
            }
            let text = crate::yaml::to_string(&serde_json::json!({section: {"x": item}})).unwrap();

            let plan = Plan::from_yaml(&text).unwrap();
            let read = serde_json::to_value(&plan).unwrap();
            let read = &read[section]["x"][key];
            let read = if key == "on-check-failure" { &read["up"] } else { read };
            if word.is_empty() && key != "on-check-failure" {
                prop_assert!(read.is_null(), "{read}");
            } else {
                prop_assert_eq!(read.as_str(), Some(word.as_str()));
            }

            let known = words.contains(&word.as_str()) || (word.is_empty() && key != "on-check-failure");
            match Layer::from_yaml(&text) {
                Ok(layer) => {
                    prop_assert!(known, "{word:?} taken in {key}");
                    prop_assert_eq!(serde_json::to_value(&layer).unwrap(), serde_json::to_value(&plan).unwrap());
                }
                Err(err) => {
                    prop_assert!(!known, "{word:?} refused in {key}: {err}");
                    let item = match section {
                        "services" => "service",
                        "checks" => "check",
                        _ => "log target",
                    };
                    prop_assert_eq!(
                        err.to_string(),
                        format!("{item} \"x\": unknown {key} value (Pebble takes {})", words.join(", "))
                    );
                }
            }
        }
    }
}
