//! Keeping values out of errors, logs, `Debug` and argv.
//!
//! Remote databag values, config, action parameters, stored state and secret
//! content may hold credentials, and a remote application controls what its
//! bags hold. Errors name the tool, the key and the kind of failure; these
//! helpers remove the values serde quotes in its messages, and cap free text
//! before it becomes a hook tool's argument.

/// The most bytes of free text (a status message, an action result or
/// message, an application version) that ops puts in one argv argument.
pub const MAX_TEXT: usize = 1024;

/// What replaces a value quoted in an error message.
pub(crate) const VALUE_WITHHELD: &str = "<value withheld>";

/// serde's (or serde_json's) message with every quoted value removed.
///
/// serde quotes values as `string "…"`, `` integer `5` ``, `` unknown variant `x` ``;
/// field names follow `field`, and are kept (a key is not a value).
pub(crate) fn serde_reason(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let quote = from.as_bytes()[0] as char;
        let body = &from[1..];
        // The end of the quoted text: the next unescaped quote of the same kind.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' && quote == '"' {
                escaped = true;
            } else if c == quote {
                end = Some(i);
                break;
            }
        }
        let Some(end) = end else {
            // An unterminated quote: drop everything after it.
            out.push_str(VALUE_WITHHELD);
            return out;
        };
        if before.ends_with("field ") {
            out.push_str(&from[..end + 2]);
        } else {
            out.push_str(VALUE_WITHHELD);
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// What kind of JSON value `value` is, for errors that must not show it.
///
/// ```
/// use serde_json::json;
/// assert_eq!(ops::redact::json_kind(&json!(6432)), "an integer");
/// assert_eq!(ops::redact::json_kind(&json!(0.5)), "a float");
/// assert_eq!(ops::redact::json_kind(&json!("hunter2")), "a string");
/// ```
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        serde_json::Value::Number(_) => "a float",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a map",
    }
}

/// `text` fit for one argv argument: control characters other than newline
/// and tab removed, and cut to at most `max` bytes (on a character boundary,
/// ending in `…` when cut).
pub fn bounded_text(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    if clean.len() <= max {
        return clean;
    }
    const ELLIPSIS: &str = "…";
    let mut cut = max.saturating_sub(ELLIPSIS.len());
    while !clean.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ELLIPSIS}", &clean[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn serde_values_are_removed_and_field_names_kept() {
        let cases = [
            (
                r#"invalid type: string "hunter2", expected u32"#,
                "invalid type: string <value withheld>, expected u32",
            ),
            (
                "invalid value: integer `77`, expected u8",
                "invalid value: integer <value withheld>, expected u8",
            ),
            (
                "unknown variant `hunter2`, expected `a` or `b`",
                "unknown variant <value withheld>, expected <value withheld> or <value withheld>",
            ),
            ("missing field `port`", "missing field `port`"),
            (
                r#"invalid type: string "a\"b`c", expected a map at line 1 column 9"#,
                "invalid type: string <value withheld>, expected a map at line 1 column 9",
            ),
            (r#"oops "unterminated hunter2"#, "oops <value withheld>"),
        ];
        for (message, expected) in cases {
            assert_eq!(serde_reason(message), expected, "{message}");
        }
    }

    #[test]
    fn text_is_cleaned_and_capped() {
        assert_eq!(
            bounded_text("a\u{0}b\u{1b}[31mc\nd\te", 100),
            "ab[31mc\nd\te"
        );
        let long = "é".repeat(2000);
        let cut = bounded_text(&long, MAX_TEXT);
        assert!(cut.len() <= MAX_TEXT, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert_eq!(bounded_text("short", MAX_TEXT), "short");
    }

    proptest! {
        #[test]
        fn prop_bounded_text_fits_and_has_no_control_characters(text in ".{0,3000}", max in 8usize..2048) {
            let out = bounded_text(&text, max);
            prop_assert!(out.len() <= max);
            prop_assert!(out.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'));
        }

        #[test]
        fn prop_serde_reason_never_shows_a_quoted_string(value in "[a-z0-9]{6,20}") {
            let err = serde_json::from_value::<u32>(serde_json::Value::String(value.clone())).unwrap_err();
            prop_assert!(!serde_reason(&err.to_string()).contains(&value));
        }
    }
}
