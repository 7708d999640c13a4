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
