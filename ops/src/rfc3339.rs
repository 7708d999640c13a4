//! RFC 3339 times as Juju and Pebble (both Go) write and read them: one
//! implementation for ops (secret expiry, Pebble notices and warnings) and
//! for ops-testing's fakes. Hidden from the docs: not part of ops' API.
//!
//! Nothing here panics on its input: a time or an error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A time as RFC 3339 in UTC. With `nanos`, the fraction is kept to the
/// nanosecond with its trailing zeros dropped, as Go's `time.Time`
/// marshals to JSON (`RFC3339Nano`); without, to the second. Times before
/// 1970 are shown as 1970 (nothing Juju or Pebble gives a charm is older).
pub fn format(time: SystemTime, nanos: bool) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX / 2));
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos && since.subsec_nanos() > 0 {
        let fraction = format!("{:09}", since.subsec_nanos());
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Why a time is not RFC 3339; shown as Go's `time.Parse` error starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parsing time {text:?} as \"2006-01-02T15:04:05Z07:00\"{problem}")]
pub struct TimeError {
    text: String,
    /// Empty, or `": <what>"`.
    problem: &'static str,
}

/// Parses an RFC 3339 time as Go's `time.Parse(time.RFC3339, ...)` takes
/// it: `2024-12-27T04:31:26Z`, a fraction of any length (digits past the
/// nanosecond dropped, as Go does), `Z` or a numeric offset such as
/// `+08:00`. Times before 1970 are refused (a `SystemTime` could hold them,
/// but nothing the fakes read is older, and one is surely a mistake).
pub fn parse(text: &str) -> Result<SystemTime, TimeError> {
    let fail = |problem: &'static str| TimeError {
        text: text.to_string(),
        problem,
    };
    let bytes = text.as_bytes();
    let at = |i: usize| bytes.get(i).copied();
    if at(4) != Some(b'-')
        || at(7) != Some(b'-')
        || !matches!(at(10), Some(b'T' | b't'))
        || at(13) != Some(b':')
        || at(16) != Some(b':')
    {
        return Err(fail(""));
    }
    // Every field is ASCII digits, so the slicing after them is at a
    // character boundary.
    let number =
        |range: std::ops::Range<usize>| bytes.get(range).and_then(digits).ok_or_else(|| fail(""));
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(fail(": value out of range"));
    }
    let mut rest = &bytes[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if count == 0 {
            return Err(fail(""));
        }
        for (i, digit) in fraction[..count].iter().take(9).enumerate() {
            nanos += u32::from(digit - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &fraction[count..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2]).ok_or_else(|| fail(""))?;
            let minutes = digits(&[*m1, *m2]).ok_or_else(|| fail(""))?;
            if hours > 23 || minutes > 59 {
                return Err(fail(": time zone offset out of range"));
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return Err(fail("")),
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let secs = u64::try_from(secs).map_err(|_| fail(": before 1970"))?;
    Ok(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// The value of a run of ASCII digits (at most four here); `None` if any
/// byte is not one.
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01, the inverse of
/// [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_ok(text: &str) -> Option<SystemTime> {
        parse(text).ok()
    }

    fn at(secs: u64, nanos: u32) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::new(secs, nanos))
    }

    #[test]
    fn juju_times_parse() {
        assert_eq!(parse_ok("1970-01-01T00:00:00Z"), at(0, 0));
        assert_eq!(parse_ok("2025-01-31T12:00:00Z"), at(1_738_324_800, 0));
        assert_eq!(parse_ok("2025-01-31T14:00:00+02:00"), at(1_738_324_800, 0));
        assert_eq!(parse_ok("2025-01-31T11:30:00-00:30"), at(1_738_324_800, 0));
        assert_eq!(
            parse_ok("2025-01-31T12:00:00.123456789123Z"),
            at(1_738_324_800, 123_456_789)
        );
        assert_eq!(parse_ok("2024-02-29T00:00:00z"), at(1_709_164_800, 0));
    }

    #[test]
    fn rfc3339_formats_seconds_and_nanoseconds() {
        assert_eq!(format(UNIX_EPOCH, true), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_735_273_886, 673_287_000);
        assert_eq!(format(t, true), "2024-12-27T04:31:26.673287Z");
        assert_eq!(format(t, false), "2024-12-27T04:31:26Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(format(leap, false), "2000-02-29T00:00:00Z");
        let old = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(format(old, false), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn rfc3339_parses_offsets_and_fractions() {
        let t = UNIX_EPOCH + Duration::new(1_735_273_886, 673_287_868);
        for text in [
            "2024-12-27T04:31:26.673287868Z",
            "2024-12-27t04:31:26.673287868z",
            "2024-12-27T12:31:26.673287868+08:00",
            "2024-12-26T23:01:26.673287868-05:30",
            // Go drops the digits past the nanosecond.
            "2024-12-27T04:31:26.67328786899999Z",
        ] {
            assert_eq!(parse(text).unwrap(), t, "{text}");
        }
        assert_eq!(parse("1970-01-01T00:00:00Z").unwrap(), UNIX_EPOCH);
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(parse("2000-02-29T00:00:00Z").unwrap(), leap);
        assert_eq!(
            parse("2024-01-01T00:00:00.5Z").unwrap(),
            UNIX_EPOCH + Duration::new(1_704_067_200, 500_000_000)
        );
        for (bad, problem) in [
            ("", ""),
            ("yesterday", ""),
            ("2024-12-27", ""),
            ("2024-12-27T04:31:26", ""),
            ("2024-12-27 04:31:26Z", ""),
            ("2024-12-27T04:31:26.Z", ""),
            ("2024-12-27T04:31:26+8:00", ""),
            ("2024-12-27T04:31:26+-8:00", ""),
            ("2024-12-27T04:31:26+08:0é", ""),
            ("+024-12-27T04:31:26Z", ""),
            ("2024-12-27T04:31:26ZZ", ""),
            ("2023-02-29T00:00:00Z", "value out of range"),
            ("2024-12-27T24:00:00Z", "value out of range"),
            ("2024-12-27T23:59:60Z", "value out of range"),
            ("2024-12-27T04:31:26+24:00", "offset out of range"),
            ("1969-12-31T23:59:59Z", "before 1970"),
            ("1970-01-01T00:00:00+00:01", "before 1970"),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("parsing time {bad:?}")), "{err}");
            assert!(err.ends_with(problem), "{bad:?}: {err}");
        }
    }

    proptest! {
        #[test]
        fn prop_rfc3339_round_trips(
            secs in 0u64..253_402_300_800, // to the end of year 9999
            nanos in 0u32..1_000_000_000,
        ) {
            let time = UNIX_EPOCH + Duration::new(secs, nanos);
            prop_assert_eq!(parse(&format(time, true)), Ok(time));
            prop_assert_eq!(
                parse(&format(time, false)),
                Ok(UNIX_EPOCH + Duration::from_secs(secs))
            );
        }

        /// An offset moves the instant by exactly itself.
        #[test]
        fn prop_rfc3339_offsets_shift_the_instant(
            secs in 86_400u64..253_402_214_400,
            hours in 0i64..24,
            minutes in 0i64..60,
            west in any::<bool>(),
        ) {
            let utc = format(UNIX_EPOCH + Duration::from_secs(secs), false);
            let offset = hours * 3600 + minutes * 60;
            let sign = if west { '-' } else { '+' };
            let text = format!("{}{sign}{hours:02}:{minutes:02}", &utc[..19]);
            let expected = if west { secs + offset as u64 } else { secs - offset as u64 };
            prop_assert_eq!(
                parse(&text),
                Ok(UNIX_EPOCH + Duration::from_secs(expected))
            );
        }

        /// Cut and spliced times (the shapes that reach the edge cases)
        /// and any text: a time or an error, never a panic.
        #[test]
        fn prop_rfc3339_never_panics(
            secs in 0u64..253_402_300_800,
            nanos in 0u32..1_000_000_000,
            cut in 0usize..40,
            junk in "\\PC{0,3}|[0-9:.+-]{0,3}",
            any_text in "\\PC{0,40}",
        ) {
            let mut text = format(UNIX_EPOCH + Duration::new(secs, nanos), true);
            text.replace_range(text.len().min(cut).., &junk);
            let _ = parse(&text);
            let _ = parse(&format!("{text}+05:30"));
            let _ = parse(&any_text);
        }
    }
}
