//! Secret references as Juju reads them (`secret:<id>`,
//! `secret://<model-uuid>/<id>`, a bare xid): one reading for the model,
//! the config option kind `secret`, and the test kit's fake Juju.

/// The bare id a secret reference names, as Juju's `ParseURI` reads one:
/// `secret:<id>`, `secret://<model-uuid>/<id>`, or a bare `<id>` of twenty
/// lowercase letters and digits (an xid). After `secret:` any id is taken
/// (one Juju does not know is then "not found", not "invalid"). `None` for
/// anything else.
///
/// Shared with the test kit's fake Juju, so that both read references alike.
#[doc(hidden)]
pub fn secret_id_of(reference: &str) -> Option<&str> {
    let s = reference.trim();
    let id = if let Some(rest) = s.strip_prefix("secret://") {
        rest.rsplit('/').next().unwrap_or_default()
    } else if let Some(rest) = s.strip_prefix("secret:") {
        rest
    } else {
        let xid_like = s.len() == 20
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !xid_like {
            return None;
        }
        s
    };
    (!id.is_empty() && !id.contains([':', '/', ' '])).then_some(id)
}
