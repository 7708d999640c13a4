//! RFC 3339 times as Juju writes them (`2025-01-31T12:00:00Z`, with an
//! optional fraction and a `Z` or `±hh:mm` offset), parsed strictly into a
//! `SystemTime`. Times before 1970 are refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time `text` names, or `None` if it is not an RFC 3339 date-time.
pub(crate) fn parse(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let sep = |i: usize, ok: &[u8]| b.get(i).is_some_and(|c| ok.contains(c));
    if b.len() < 20
        || !sep(4, b"-")
        || !sep(7, b"-")
        || !sep(10, b"Tt")
        || !sep(13, b":")
        || !sep(16, b":")
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=month_days).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Nanoseconds: the first nine digits, the rest dropped.
        for (i, c) in fraction[..n.min(9)].iter().enumerate() {
            nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &fraction[n..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (h, m) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'-' {
                -(h * 3600 + m * 60)
            } else {
                h * 3600 + m * 60
            }
        }
        _ => return None,
    };
    let secs =
        days_since_epoch(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(UNIX_EPOCH + Duration::new(u64::try_from(secs).ok()?, nanos))
}

/// `time` in UTC, to the nanosecond (`2025-01-31T12:00:00.000000000Z`),
/// as Pebble reads it. Times before 1970 are shown as 1970.
pub(crate) fn format(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // From days to a date: the era algorithm of `days_since_epoch`, backwards.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_nanos()
    )
}

/// Days from 1970-01-01 to a proleptic Gregorian date (the era algorithm:
/// 400-year eras of 146 097 days, years starting in March).
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let march_month = (month + 9) % 12;
    let day_of_year = (153 * march_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: u64, nanos: u32) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::new(secs, nanos))
    }

    #[test]
    fn juju_times_parse() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), at(0, 0));
        assert_eq!(parse("2025-01-31T12:00:00Z"), at(1_738_324_800, 0));
        assert_eq!(parse("2025-01-31T14:00:00+02:00"), at(1_738_324_800, 0));
        assert_eq!(parse("2025-01-31T11:30:00-00:30"), at(1_738_324_800, 0));
        assert_eq!(
            parse("2025-01-31T12:00:00.123456789123Z"),
            at(1_738_324_800, 123_456_789)
        );
        assert_eq!(parse("2024-02-29T00:00:00z"), at(1_709_164_800, 0));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "2025-01-31",
            "2025-01-31 12:00:00Z",
            "2025-01-31T12:00:00",
            "2025-01-31T12:00:00+0200",
            "2025-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-01-31T24:00:00Z",
            "2025-01-31T12:60:00Z",
            "2025-01-31T12:00:60Z",
            "2025-01-31T12:00:00.Z",
            "2025-01-31T12:00:00+24:00",
            "1969-12-31T23:59:59Z",
            "２025-01-31T12:00:00Z",
            "+025-01-31T12:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    /// The inverse of `days_since_epoch`, written differently: counting
    /// whole years, then months.
    fn civil(mut days: i64) -> (i64, i64, i64) {
        let mut year = 1970;
        loop {
            let len = if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) {
                366
            } else {
                365
            };
            if days < len {
                break;
            }
            days -= len;
            year += 1;
        }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let lens = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut month = 1;
        for len in lens {
            if days < len {
                break;
            }
            days -= len;
            month += 1;
        }
        (year, month, days + 1)
    }

    #[test]
    fn format_is_utc_to_the_nanosecond() {
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format(UNIX_EPOCH + Duration::new(1_709_164_800 + 3661, 5)),
            "2024-02-29T01:01:01.000000005Z"
        );
    }

    proptest! {
        #[test]
        fn prop_format_parses_back(secs in 0u64..253_402_300_800, nanos in 0u32..1_000_000_000) {
            let time = UNIX_EPOCH + Duration::new(secs, nanos);
            prop_assert_eq!(parse(&format(time)), Some(time));
        }

        #[test]
        fn prop_formatted_times_parse_back(secs in 0u64..253_402_300_800, nanos in 0u32..1_000_000_000, offset_min in -1439i64..=1439) {
            let local = secs as i64 + offset_min * 60;
            prop_assume!(local >= 0);
            let (y, mo, d) = civil(local.div_euclid(86_400));
            let s = local.rem_euclid(86_400);
            prop_assume!(y <= 9999);
            let sign = if offset_min < 0 { '-' } else { '+' };
            let text = format!(
                "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}{sign}{:02}:{:02}",
                s / 3600, s % 3600 / 60, s % 60, offset_min.abs() / 60, offset_min.abs() % 60
            );
            prop_assert_eq!(parse(&text), at(secs, nanos), "{}", text);
        }
    }
}
