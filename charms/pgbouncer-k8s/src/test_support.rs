//! What the crate's own tests share.

/// An 8-byte window of `input` (at char boundaries) that `message` holds:
/// the check that an error or a log line does not carry a value from
/// outside.
pub(crate) fn leaked<'a>(input: &'a str, message: &str) -> Option<&'a str> {
    input.char_indices().find_map(|(start, _)| {
        let end = start + 8;
        (end <= input.len() && input.is_char_boundary(end))
            .then(|| &input[start..end])
            .filter(|w| message.contains(*w))
    })
}

/// Cases per property test when `PROPTEST_CASES` is not set: enough to
/// catch a broken parser in every `cargo test`, cheap enough that the
/// crate's unit tests stay under a millisecond a test. `.ci/run` runs the
/// `prop_` tests again with `PROPTEST_CASES` set for depth (docs/testing.md,
/// "Property tests").
const DEFAULT_PROPTEST_CASES: u32 = 64;

/// The property tests' configuration: `PROPTEST_CASES` cases when it is
/// set (proptest's own variable), else [`DEFAULT_PROPTEST_CASES`].
pub(crate) fn proptest_config() -> proptest::prelude::ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_PROPTEST_CASES);
    proptest::prelude::ProptestConfig::with_cases(cases)
}

/// The strings that match `pattern`, as proptest's `&str` strategy makes
/// them, with the pattern compiled once. A `&str` used as a strategy
/// compiles its regex again for every value it makes (`\\PC`, every
/// printable character, is a large class to build): that, and the
/// allocations it made, were most of these property tests' time, where
/// the charm's own code was 2% (`perf record` of the `prop_` tests).
///
/// # Panics
///
/// If `pattern` is not a regex proptest can generate from (a test's bug).
pub(crate) fn matching(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(pattern)
        .unwrap_or_else(|e| panic!("{pattern:?} is not a regex proptest generates from: {e}"))
}
