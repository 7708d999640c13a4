//! PostgreSQL's SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677), as
//! PostgreSQL stores them in `pg_authid` and PgBouncer reads them from its
//! auth file:
//!
//! ```text
//! SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
//! ```
//!
//! A verifier lets a server check a password, never log in with it.
//! [`verifier`] makes one, [`is_verifier`] tells a well-formed one from
//! anything else, and [`matches()`] checks a password against one.
//!
//! ```
//! let salt = [7u8; 16];
//! let verifier = postgres_scram::verifier("pässwörd", &salt);
//! assert!(verifier.starts_with("SCRAM-SHA-256$4096:"));
//! assert!(postgres_scram::is_verifier(&verifier));
//! assert!(postgres_scram::matches(&verifier, "pässwörd"));
//! assert!(!postgres_scram::matches(&verifier, "passwort"));
//! assert!(!postgres_scram::is_verifier("SCRAM-SHA-256$not one"));
//! ```

use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The prefix of every SCRAM-SHA-256 verifier.
pub const PREFIX: &str = "SCRAM-SHA-256$";

/// PostgreSQL's iteration count for the verifiers it makes (its
/// `scram_iterations` default), used by [`verifier`].
pub const ITERATIONS: u32 = 4096;

/// The most PBKDF2 iterations [`matches()`] computes: a verifier asking for
/// more is not checked (false), so that a foreign verifier cannot make a
/// check run for minutes. PostgreSQL's default is [`ITERATIONS`].
pub const MAX_CHECKED_ITERATIONS: u32 = 1_000_000;

/// A parsed verifier.
struct Parsed {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<stored key>:<server key>`: decimal
/// digits only for the iterations (at least one), base64 fields, a salt
/// that is not empty, 32-byte keys; `None` otherwise.
fn parse(text: &str) -> Option<Parsed> {
    let rest = text.strip_prefix(PREFIX)?;
    let (head, keys) = rest.split_once('$')?;
    let (iterations, salt) = head.split_once(':')?;
    let (stored_key, server_key) = keys.split_once(':')?;
    if !iterations.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let iterations = iterations.parse().ok().and_then(NonZeroU32::new)?;
    let salt = BASE64.decode(salt).ok().filter(|s| !s.is_empty())?;
    let stored_key = BASE64.decode(stored_key).ok().filter(|k| k.len() == 32)?;
    let server_key = BASE64.decode(server_key).ok().filter(|k| k.len() == 32)?;
    Some(Parsed {
        iterations,
        salt,
        stored_key,
        server_key,
    })
}

/// Whether `text` is a well-formed SCRAM-SHA-256 verifier.
pub fn is_verifier(text: &str) -> bool {
    parse(text).is_some()
}

/// The verifier of `password` with `salt` and [`ITERATIONS`] iterations,
/// the password SASLprep'd as PostgreSQL does. The salt is the caller's:
/// PostgreSQL uses 16 random bytes, a new salt for every verifier.
pub fn verifier(password: &str, salt: &[u8]) -> String {
    const ROUNDS: NonZeroU32 = NonZeroU32::new(ITERATIONS).expect("PostgreSQL's count is not 0");
    let keys = keys(&sasl_prepared(password), salt, ROUNDS);
    format!(
        "{PREFIX}{ITERATIONS}:{}${}:{}",
        BASE64.encode(salt),
        BASE64.encode(keys.stored_key),
        BASE64.encode(keys.server_key)
    )
}

/// Whether `verifier` is a SCRAM-SHA-256 verifier of `password`: the
/// password is hashed again with the verifier's salt and iteration count
/// (about half a millisecond at 4096 iterations). False for anything that
/// is not a well-formed verifier, and for one of more than
/// [`MAX_CHECKED_ITERATIONS`] iterations.
pub fn matches(verifier: &str, password: &str) -> bool {
    let Some(parsed) = parse(verifier) else {
        return false;
    };
    if parsed.iterations.get() > MAX_CHECKED_ITERATIONS {
        return false;
    }
    let keys = keys(&sasl_prepared(password), &parsed.salt, parsed.iterations);
    same_bytes(&keys.stored_key, &parsed.stored_key)
        && same_bytes(&keys.server_key, &parsed.server_key)
}

/// The password as SCRAM hashes it: SASLprep'd (RFC 4013) when it is valid
/// for it, else its bytes as they are (what PostgreSQL and libpq do).
fn sasl_prepared(password: &str) -> Vec<u8> {
    match stringprep::saslprep(password) {
        Ok(prepared) => prepared.into_owned().into_bytes(),
        Err(_) => password.as_bytes().to_vec(),
    }
}

/// The two keys a verifier stores (RFC 5802, section 3).
struct Keys {
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

/// `SaltedPassword := Hi(password, salt, i)` (PBKDF2-HMAC-SHA-256 with one
/// output block), then `StoredKey := H(HMAC(SaltedPassword, "Client Key"))`
/// and `ServerKey := HMAC(SaltedPassword, "Server Key")`. RustCrypto's
/// PBKDF2 keys the HMAC once for all iterations (half the SHA-256 blocks of
/// re-keying it each round), and its SHA-256 uses the CPU's SHA
/// instructions where there are some.
fn keys(password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Keys {
    use hmac::{KeyInit, Mac};
    use sha2::{Digest, Sha256};
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations.get(), &mut salted);
    // HMAC pads a key shorter than the hash's 64-byte block with zeros
    // (RFC 2104); padding it here gives the key type that cannot be refused.
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(&salted);
    let keyed = hmac::Hmac::<Sha256>::new(&key.into());
    let sign = |message: &[u8]| {
        let mut mac = keyed.clone();
        mac.update(message);
        <[u8; 32]>::from(mac.finalize().into_bytes())
    };
    Keys {
        stored_key: Sha256::digest(sign(b"Client Key")).into(),
        server_key: sign(b"Server Key"),
    }
}

/// Equality that takes as long whatever the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently of this crate (Python's `hashlib.pbkdf2_hmac`
    /// and `hmac`), password `auth-pw-s3cr3t`, salt bytes 0..16, 4096
    /// iterations.
    const KNOWN: &str = "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$\
        OhGmorJxQO+isX1yNGiEs4d4MZ1o/dOmzDvzeDh4MZI=:NPL8iJUIisla75JW4jYriGKDE9yQWVFKfPUNjY+YK84=";
    /// The same, password `x`, salt `salt`, one iteration.
    const KNOWN_1: &str = "SCRAM-SHA-256$1:c2FsdA==$\
        LzZnpJx9nyllHcButE6xdMfvR0D6Q/nY1+IfZB/t0N0=:DHjdQWhf2UfGb66KdZjVrwxEI6+FrasCnM9Yoswga4o=";

    #[test]
    fn checks_against_independently_computed_verifiers() {
        assert!(matches(KNOWN, "auth-pw-s3cr3t"));
        assert!(!matches(KNOWN, "auth-pw-s3cr3T"));
        assert!(!matches(KNOWN, ""));
        assert!(matches(KNOWN_1, "x"));
        assert!(!matches(KNOWN_1, "y"));
        // A changed stored key or server key no longer matches.
        assert!(!matches(&KNOWN.replace("OhGm", "OhGn"), "auth-pw-s3cr3t"));
        assert!(!matches(&KNOWN.replace("NPL8", "NPL9"), "auth-pw-s3cr3t"));
        // Not verifiers at all.
        for other in ["", "auth-pw-s3cr3t", "md5aad46d9afbcc8c8248d254d567b577c1"] {
            assert!(!matches(other, other));
        }
    }

    #[test]
    fn verifiers_are_postgresqls() {
        // postgres-protocol is another implementation of PostgreSQL's
        // verifier: what it makes, ours checks, for a plain, a SASLprep'd
        // and an unprepareable password; and ours, with the salt of the
        // independently computed KNOWN, is that text.
        for password in [
            "auth-pw-s3cr3t",
            "pa\u{00AD}ss\u{2003}w\u{00F6}rd",
            "\u{0007}bell",
            "",
        ] {
            let theirs = postgres_protocol::password::scram_sha_256(password.as_bytes());
            assert!(matches(&theirs, password), "{password:?}");
            assert!(!matches(&theirs, "other"), "{password:?}");
        }
        let salt: Vec<u8> = (0..16).collect();
        assert_eq!(verifier("auth-pw-s3cr3t", &salt), KNOWN);
    }

    #[test]
    fn too_many_iterations_are_not_computed() {
        // Well formed, but never hashed for minutes: though this one is of
        // `x` (computed as KNOWN_1 was, with 1,000,001 iterations), it is
        // not checked.
        let huge = "SCRAM-SHA-256$1000001:c2FsdA==$\
            k39VgVU1QMYa9tqP9AG81Ixn+p5mo3MA/wmV7d5jOxQ=:iMkq0WTGC/5BEwAqew/ZaGnuSwiAfjRFLJTPY4VRLJM=";
        assert!(is_verifier(huge));
        assert!(!matches(huge, "x"));
    }

    #[test]
    fn malformed_verifiers_are_not_verifiers() {
        assert!(is_verifier(KNOWN_1));
        for bad in [
            KNOWN_1.replace("$1:", "$0:"),
            KNOWN_1.replace("$1:", "$+1:"),
            KNOWN_1.replace("$1:", "$x:"),
            KNOWN_1.replace("$1:", "$99999999999:"),
            KNOWN_1.replace("c2FsdA==", ""),
            KNOWN_1.replace("c2FsdA==", "c2Fsd!=="),
            KNOWN_1.replace("LzZn", "LzZ"),
            KNOWN_1.replace("DHjd", "DH"),
            KNOWN_1.replace(":DHjd", "DHjd"),
            KNOWN_1.replace("SCRAM-SHA-256$", "SCRAM-SHA-256$$"),
            KNOWN_1.replace("SCRAM-SHA-256$", "scram-sha-256$"),
        ] {
            assert!(!is_verifier(&bad), "{bad}");
            assert!(!matches(&bad, "x"), "{bad}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// What `verifier` makes is well formed and checks its own
            /// password only.
            #[test]
            fn prop_a_verifier_checks_its_password(
                password in "\\PC{0,24}",
                other in "\\PC{0,24}",
                salt in proptest::collection::vec(any::<u8>(), 1..32),
            ) {
                let made = verifier(&password, &salt);
                prop_assert!(is_verifier(&made));
                prop_assert!(matches(&made, &password));
                if sasl_prepared(&other) != sasl_prepared(&password) {
                    prop_assert!(!matches(&made, &other));
                }
            }

            /// Outside text (a foreign auth file, a role's stored password)
            /// is read without a panic, and a verifier changed anywhere no
            /// longer checks its password: every field counts.
            #[test]
            fn prop_a_changed_verifier_does_not_check(
                at in 0..KNOWN_1.len(),
                with in any::<char>(),
            ) {
                let mut changed: Vec<char> = KNOWN_1.chars().collect();
                changed[at] = with;
                let changed: String = changed.into_iter().collect();
                prop_assume!(changed != KNOWN_1);
                prop_assert!(!matches(&changed, "x"), "{changed}");
                if is_verifier(&changed) {
                    prop_assert!(changed.starts_with(PREFIX));
                }
            }
        }
    }
}
