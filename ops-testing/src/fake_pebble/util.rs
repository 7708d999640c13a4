//! The fake Pebble's names for the shared formats (`crate::formats`), in
//! the shapes its handlers use, and random tokens.

use std::time::{Duration, SystemTime};

use crate::formats;

/// RFC 3339 in UTC; with `nanos`, as Go's `time.Time` marshals to JSON.
pub(crate) fn rfc3339(time: SystemTime, nanos: bool) -> String {
    formats::format_rfc3339(time, nanos)
}

/// Parses an RFC 3339 time as Go's `time.Parse(time.RFC3339, ...)` does.
pub(crate) fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    formats::parse_rfc3339(text).map_err(|e| e.to_string())
}

/// A duration as Go's `time.Duration.String` shows it.
pub(crate) fn format_go_duration(duration: Duration) -> String {
    formats::format_go_duration(duration)
}

/// Parses a Go duration as `time.ParseDuration` does. Every duration the
/// fake takes (timeouts, check periods) is one Pebble would not run with
/// if negative, so a negative one is refused here rather than by each
/// caller.
pub(crate) fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let nanos = formats::parse_go_duration(text).map_err(|e| e.to_string())?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| format!("time: negative duration {text:?}"))
}

/// `count` random hex digits, for ids and names that must not repeat
/// (boot ids, multipart boundaries, temporary files). Not secret, so
/// fastrand's generator (seeded per thread from the OS's hasher keys)
/// serves.
pub(crate) fn random_hex(count: usize) -> String {
    (0..count)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect()
}

#[cfg(test)]
mod tests {
    //! The formats themselves are tested in `crate::formats`; here, what
    //! the fake Pebble's shapes add.

    use super::*;

    #[test]
    fn negative_durations_are_refused() {
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_go_duration("-0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_go_duration("-1s").unwrap_err(),
            "time: negative duration \"-1s\""
        );
        assert_eq!(
            parse_go_duration("1x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"1x\""
        );
        assert!(
            parse_rfc3339("soon")
                .unwrap_err()
                .starts_with("parsing time \"soon\"")
        );
    }

    #[test]
    fn random_tokens_differ() {
        let a = random_hex(60);
        assert_eq!(a.len(), 60);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_hex(60));
        assert!(random_hex(0).is_empty());
    }
}
