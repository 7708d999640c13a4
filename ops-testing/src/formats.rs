//! The text formats the fakes share with Juju and Pebble (both written in
//! Go): base64, RFC 3339 times (ops') and Go durations, in one place so that the
//! fake Juju and the fake Pebble read and write them alike.
//!
//! Nothing here panics on its input: text from a charm or a test is
//! either understood or an error.

use std::time::Duration;

/// RFC 3339 times are ops' (it reads them too: secret expiry, Pebble's
/// notices and warnings), so that there is one copy.
pub(crate) use ops::rfc3339::{format as format_rfc3339, parse as parse_rfc3339};

/// Standard base64 with padding (RFC 4648 section 4).
///
/// The encoder is ops' (its WebSocket handshake needs one, and ops cannot
/// depend on this crate), so that there is one copy.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    ops::pebble::websocket::base64(data)
}

/// Decodes standard base64 with padding, strictly: the length must be a
/// multiple of four, padding only at the end, and the bits the padding
/// leaves over zero, so that only what [`base64_encode`] writes is taken
/// (Go's `StdEncoding.Strict()`). `None` on anything else.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let padding = bytes.iter().rev().take_while(|b| **b == b'=').count();
    if padding > 2 {
        return None;
    }
    let digits = &bytes[..bytes.len() - padding];
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in digits.chunks(4) {
        let mut group = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            group |= base64_value(*c)? << (18 - 6 * i);
        }
        let kept = chunk.len() - 1; // bytes a chunk of n digits carries
        // The leftover low bits of a short last chunk must be zero.
        if group & (0x00FF_FFFF >> (8 * kept)) != 0 {
            return None;
        }
        out.extend_from_slice(&group.to_be_bytes()[1..=kept]);
    }
    Some(out)
}

fn base64_value(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// A duration as Go's `time.Duration.String` shows it (`0s`, `15ns`,
/// `1.5µs`, `300ms`, `1.5s`, `1h0m0s`). Any `Duration` is shown, even one
/// longer than Go's can be (292 years).
pub(crate) fn format_go_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    // The integer part, then the fraction with trailing zeros dropped.
    let scaled = |unit: u128, digits: usize| {
        let fraction = format!("{:0digits$}", nanos % unit);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            format!("{}", nanos / unit)
        } else {
            format!("{}.{fraction}", nanos / unit)
        }
    };
    match nanos {
        0 => "0s".to_string(),
        1..1_000 => format!("{nanos}ns"),
        1_000..1_000_000 => format!("{}µs", scaled(1_000, 3)),
        1_000_000..1_000_000_000 => format!("{}ms", scaled(1_000_000, 6)),
        _ => {
            let secs = nanos / 1_000_000_000;
            let (hours, minutes) = (secs / 3600, secs % 3600 / 60);
            let fraction = format!("{:09}", nanos % 1_000_000_000);
            let fraction = fraction.trim_end_matches('0');
            let seconds = if fraction.is_empty() {
                format!("{}s", secs % 60)
            } else {
                format!("{}.{fraction}s", secs % 60)
            };
            match (hours, minutes) {
                (0, 0) => seconds,
                (0, m) => format!("{m}m{seconds}"),
                (h, m) => format!("{h}h{m}m{seconds}"),
            }
        }
    }
}

/// Why a text is not a Go duration; the messages are Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DurationError {
    /// Not the grammar, or outside Go's range (±292 years).
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit (other than a lone `0`).
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit Go does not know.
    #[error("time: unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole text.
        text: String,
    },
}

/// The largest magnitude a Go duration's parts may reach, in nanoseconds
/// (`1 << 63`, which only a negative total may keep).
const GO_DURATION_LIMIT: u64 = 1 << 63;

/// Parses a Go duration as Go's `time.ParseDuration` does, to signed
/// nanoseconds (Go's `time.Duration`): an optional sign, then one or more
/// numbers with a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), as in
/// `1h30m`, `1.5s`, `.5s`, `5.s`, `300ms`, `-2m`; or a lone `0` (with any
/// sign). As Go: a whole part over 2^63 or a total outside the `i64`
/// range is an error; fraction digits past what 63 bits hold are dropped,
/// and the fraction is scaled through a 64-bit float, so `0.3333333333h`
/// style values come out as Go's do.
pub(crate) fn parse_go_duration(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(text.to_string());
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0u64;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let whole_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let whole = leading_int(&rest[..whole_len]).ok_or_else(invalid)?;
        rest = &rest[whole_len..];
        let (mut fraction, mut scale, mut fraction_len) = (0u64, 1f64, 0);
        if let Some(after_dot) = rest.strip_prefix('.') {
            fraction_len = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            (fraction, scale) = leading_fraction(&after_dot[..fraction_len]);
            rest = &after_dot[fraction_len..];
        }
        if whole_len == 0 && fraction_len == 0 {
            return Err(invalid()); // "." alone, or ".s"
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(text.to_string()));
        }
        let unit: u64 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            unit => {
                return Err(DurationError::UnknownUnit {
                    unit: unit.to_string(),
                    text: text.to_string(),
                });
            }
        };
        rest = &rest[unit_len..];
        let mut value = whole
            .checked_mul(unit)
            .filter(|v| *v <= GO_DURATION_LIMIT)
            .ok_or_else(invalid)?;
        if fraction > 0 {
            // Under one unit, so at most 3.6e12: the cast cannot saturate.
            let part = (fraction as f64 * (unit as f64 / scale)) as u64;
            value = value
                .checked_add(part)
                .filter(|v| *v <= GO_DURATION_LIMIT)
                .ok_or_else(invalid)?;
        }
        total = total
            .checked_add(value)
            .filter(|v| *v <= GO_DURATION_LIMIT)
            .ok_or_else(invalid)?;
    }
    if negative {
        // -(1 << 63) is i64::MIN: the one magnitude only a negative keeps.
        Ok(0i64.wrapping_sub_unsigned(total))
    } else {
        i64::try_from(total).map_err(|_| invalid())
    }
}

/// The value of a run of digits, `None` past 2^63 (Go's `leadingInt`
/// limit).
fn leading_int(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?
            .checked_add(u64::from(b - b'0'))
            .filter(|v| *v <= GO_DURATION_LIMIT)
    })
}

/// A fraction's digits as an integer and the power of ten it is over,
/// keeping digits while the integer stays within 2^63 and dropping the
/// rest (Go's `leadingFraction`).
fn leading_fraction(digits: &str) -> (u64, f64) {
    let (mut value, mut scale) = (0u64, 1f64);
    for b in digits.bytes() {
        let Some(next) = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .filter(|v| *v <= GO_DURATION_LIMIT)
        else {
            break;
        };
        value = next;
        scale *= 10.0;
    }
    (value, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_and_is_strict() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), output);
            assert_eq!(base64_decode(output).unwrap(), input.as_bytes(), "{output}");
        }
        assert_eq!(base64_decode("+/8=").unwrap(), [0xfb, 0xff]);
        for bad in [
            "a", "Zg", "Zg=", "Zm8", "Zg===", "====", "Zg==Zg==", "Z===", "Zh==", "Zm9=", "Zm9v\n",
            "Zm-v", "Zm_v", "Zm9v ", "é===",
        ] {
            assert_eq!(base64_decode(bad), None, "{bad:?}");
        }
    }

    const S: i64 = 1_000_000_000;

    #[test]
    fn go_durations_parse_as_go_parses_them() {
        for (text, nanos) in [
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("5s", 5 * S),
            ("+5s", 5 * S),
            ("-5s", -5 * S),
            ("-2m", -120 * S),
            ("5.s", 5 * S),
            (".5s", S / 2),
            ("1.5s", 3 * S / 2),
            ("1.004s", 1_004_000_000),
            ("100.00100s", 100_001_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("300ms", 300_000_000),
            ("1h30m", 5400 * S),
            ("1.5h", 5400 * S),
            ("3h30m", 12_600 * S),
            ("10.5s4m", 250 * S + S / 2),
            ("-2m3.4s", -(123 * S + 4 * S / 10)),
            ("1h2m3s4ms5us6ns", 3723 * S + 4_005_006),
            ("39h9m14.425s", 140_954_425_000_000),
            // Go scales the fraction through a float64.
            ("0.3333333333333333333h", 1200 * S),
            // Digits past 63 bits are dropped, as Go does.
            ("1.00000000000000000000000000000000001s", S),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036.854775807s", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("2562047h47m16.854775807s", i64::MAX),
        ] {
            assert_eq!(parse_go_duration(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn go_duration_errors_are_gos_and_overflow_is_one() {
        let invalid = |t: &str| DurationError::Invalid(t.into());
        for text in [
            "",
            "-",
            "+",
            ".",
            ".s",
            "s",
            "-.s",
            " 3s",
            "--5s",
            "-+5s",
            // Overflows: each an error, never a panic or a wrap.
            "9223372036854775808ns",
            "9223372036854775807ns1ns",
            "9223372036.854775808s",
            "9999999999999999999h",
            "9223372036854775807h",
            "99999999999999999999999999999999s",
            "2562048h",
            "106751d",
            "-9223372036854775809ns",
        ] {
            let err = parse_go_duration(text).unwrap_err();
            if text == "106751d" {
                assert!(matches!(err, DurationError::UnknownUnit { .. }), "{err}");
            } else {
                assert_eq!(err, invalid(text), "{text:?}");
            }
        }
        for text in ["4", "1.2.3s", "1s2"] {
            assert_eq!(
                parse_go_duration(text),
                Err(DurationError::MissingUnit(text.into()))
            );
        }
        // The unit is everything up to the next number, as in Go.
        assert_eq!(
            parse_go_duration("3s "),
            Err(DurationError::UnknownUnit {
                unit: "s ".into(),
                text: "3s ".into()
            })
        );
        assert_eq!(
            parse_go_duration("1x").unwrap_err().to_string(),
            "time: unknown unit \"x\" in duration \"1x\""
        );
        assert_eq!(
            parse_go_duration("1d").unwrap_err().to_string(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
    }

    /// The fake Juju's and the fake Pebble's parsers disagreed on these;
    /// both now take them as Go does.
    #[test]
    fn the_former_disagreements() {
        // Juju's refused a lone 0, a leading `+`, and the Greek mu.
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("+1s"), Ok(S));
        assert_eq!(parse_go_duration("3μs"), Ok(3000));
        // Pebble's refused a negative; Go takes it (callers that want a
        // positive one say so).
        assert_eq!(parse_go_duration("-1s"), Ok(-S));
        // Both summed floats: exact nanoseconds now, as Go's are.
        assert_eq!(parse_go_duration("0.1s"), Ok(100_000_000));
        assert_eq!(parse_go_duration("1h0.000000001s"), Ok(3600 * S + 1));
        assert_eq!(parse_go_duration("2562047h47m16.854775807s"), Ok(i64::MAX));
    }

    #[test]
    fn go_duration_strings() {
        for (duration, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(15), "15ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_millis(300), "300ms"),
            (Duration::from_millis(1_500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(3723), "1h2m3s"),
            (Duration::new(3723, 400_000_000), "1h2m3.4s"),
            (Duration::new(59, 999_999_999), "59.999999999s"),
            (Duration::from_secs(7 * 24 * 3600), "168h0m0s"),
            (
                Duration::from_nanos(i64::MAX as u64),
                "2562047h47m16.854775807s",
            ),
        ] {
            assert_eq!(format_go_duration(duration), text);
            let nanos = parse_go_duration(text).unwrap();
            assert_eq!(Duration::from_nanos(nanos as u64), duration, "{text}");
        }
        // Longer than Go's can be: still shown, not a panic.
        assert_eq!(
            format_go_duration(Duration::MAX),
            "5124095576030431h0m15.999999999s"
        );
    }
}

#[cfg(test)]
mod prop_tests {
    use super::*;
    use proptest::prelude::*;

    /// Text built from the duration grammar's pieces, long numbers
    /// included, and some that are not.
    fn duration_like() -> impl Strategy<Value = String> {
        let part = (
            "[0-9]{0,25}",
            proptest::option::of("[0-9]{0,25}"),
            prop_oneof![
                Just("ns"),
                Just("us"),
                Just("µs"),
                Just("μs"),
                Just("ms"),
                Just("s"),
                Just("m"),
                Just("h"),
                Just(""),
                Just("d"),
            ],
        )
            .prop_map(|(whole, fraction, unit)| match fraction {
                Some(f) => format!("{whole}.{f}{unit}"),
                None => format!("{whole}{unit}"),
            });
        ("[-+]?", proptest::collection::vec(part, 1..4))
            .prop_map(|(sign, parts)| format!("{sign}{}", parts.concat()))
    }

    proptest! {
        #[test]
        fn prop_base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = base64_encode(&bytes);
            prop_assert_eq!(text.len() % 4, 0);
            prop_assert_eq!(base64_decode(&text), Some(bytes));
        }

        /// Whatever decodes is exactly what the encoder writes for it.
        #[test]
        fn prop_base64_decodes_only_canonical_text(
            text in "([A-Za-z0-9+/]{4}){0,2}[A-Za-z0-9+/]{1,4}={0,3}|[A-Za-z0-9+/=]{0,12}|\\PC{0,12}",
        ) {
            if let Some(bytes) = base64_decode(&text) {
                prop_assert_eq!(base64_encode(&bytes), text);
            }
        }

        #[test]
        fn prop_go_duration_round_trips(nanos in 0i64..=i64::MAX) {
            let text = format_go_duration(Duration::from_nanos(nanos as u64));
            prop_assert_eq!(parse_go_duration(&text), Ok(nanos), "{}", text);
        }

        /// Any text is a duration or an error, never a panic.
        #[test]
        fn prop_go_duration_never_panics(
            text in prop_oneof![duration_like(), "\\PC{0,30}", "[0-9.a-zµ+-]{0,30}"],
        ) {
            let _ = parse_go_duration(&text);
        }

        /// A duration is near what a float reading of its text gives.
        #[test]
        fn prop_go_duration_agrees_with_a_float_reading(text in duration_like()) {
            let Ok(nanos) = parse_go_duration(&text) else { return Ok(()) };
            let approx = float_reading(&text);
            let tolerance = approx.abs() * 1e-9 + 4.0;
            prop_assert!(
                (nanos as f64 - approx).abs() <= tolerance,
                "{} = {} ns, a float reading says {}", text, nanos, approx
            );
        }
    }

    /// The duration in nanoseconds by summing floats: a rough second
    /// opinion, written independently of the parser above.
    fn float_reading(text: &str) -> f64 {
        let (sign, body) = match text.strip_prefix('-') {
            Some(rest) => (-1.0, rest),
            None => (1.0, text.strip_prefix('+').unwrap_or(text)),
        };
        let mut total = 0.0;
        let mut number = String::new();
        let mut unit = String::new();
        let mut flush = |number: &mut String, unit: &mut String| {
            let scale = match unit.as_str() {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => 0.0,
            };
            let value: f64 = if number.starts_with('.') {
                format!("0{number}").parse().unwrap_or(0.0)
            } else {
                number.trim_end_matches('.').parse().unwrap_or(0.0)
            };
            total += value * scale;
            number.clear();
            unit.clear();
        };
        for c in body.chars() {
            if c.is_ascii_digit() || c == '.' {
                if !unit.is_empty() {
                    flush(&mut number, &mut unit);
                }
                number.push(c);
            } else {
                unit.push(c);
            }
        }
        flush(&mut number, &mut unit);
        sign * total
    }
}
