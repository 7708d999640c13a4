//! PgBouncer's auth file: `"<user>" "md5<hex>"` lines, and passwords.
//!
//! Neither the file's content nor a password ever reaches a log: errors name
//! a line number and the kind of problem only, and `Debug` hides hashes.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use md5::{Digest, Md5};

/// The prefix of every auth user: `pgbouncer_auth_<backend user>`.
pub const AUTH_USER_PREFIX: &str = "pgbouncer_auth_";
/// How long generated passwords are.
pub const PASSWORD_LENGTH: usize = 24;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// An auth file that cannot be read. The message never contains the file's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auth file line {line}: {problem}")]
pub struct AuthFileError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl AuthFileError {
    /// The error as text that is safe to log (it never holds the content).
    pub fn kind_without_content(&self) -> String {
        self.to_string()
    }
}

/// The auth file: each user's password hash, in user order.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AuthFile {
    users: BTreeMap<String, String>,
}

impl fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFile")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// `"md5" + hex(md5(password + user))`, PgBouncer's and PostgreSQL's md5 scheme.
///
/// ```
/// assert_eq!(
///     pgbouncer_k8s::auth::md5_password("user", "pw"),
///     "md5871c429757b7a0bf1654fad112b77bd4",
/// );
/// ```
pub fn md5_password(user: &str, password: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(password.as_bytes());
    hasher.update(user.as_bytes());
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(35);
    hex.push_str("md5");
    for byte in digest.iter() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The auth user for a backend user: `pgbouncer_auth_<user>`, `-` → `_`.
pub fn auth_user_for(backend_username: &str) -> String {
    format!("{AUTH_USER_PREFIX}{}", backend_username.replace('-', "_"))
}

/// 24 characters of `[A-Za-z0-9]` from the OS's secure random source, with
/// rejection sampling so that every character is equally likely.
pub fn generate_password() -> Result<String, std::io::Error> {
    let mut urandom = std::fs::File::open("/dev/urandom")?;
    let mut password = String::with_capacity(PASSWORD_LENGTH);
    // The largest multiple of the alphabet's size that fits in a byte.
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut buffer = [0u8; 64];
    while password.len() < PASSWORD_LENGTH {
        urandom.read_exact(&mut buffer)?;
        for byte in buffer {
            if byte < limit && password.len() < PASSWORD_LENGTH {
                password.push(ALPHABET[usize::from(byte) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(password)
}

fn quoted(field: &str) -> Option<(&str, &str)> {
    let rest = field.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some((&rest[..end], rest[end + 1..].trim_start()))
}

impl AuthFile {
    /// Parses the file; blank lines are allowed.
    pub fn parse(text: &str) -> Result<Self, AuthFileError> {
        let mut users = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (user, rest) = quoted(line).ok_or(AuthFileError {
                line: line_no,
                problem: "expected a double-quoted user name",
            })?;
            let (hash, rest) = quoted(rest).ok_or(AuthFileError {
                line: line_no,
                problem: "expected a double-quoted password hash after the user",
            })?;
            if !rest.trim().is_empty() {
                return Err(AuthFileError {
                    line: line_no,
                    problem: "unexpected text after the password hash",
                });
            }
            if user.is_empty() {
                return Err(AuthFileError {
                    line: line_no,
                    problem: "empty user name",
                });
            }
            if users.insert(user.to_string(), hash.to_string()).is_some() {
                return Err(AuthFileError {
                    line: line_no,
                    problem: "user listed twice",
                });
            }
        }
        Ok(Self { users })
    }

    /// The file's text: one line per user, sorted by user.
    pub fn render(&self) -> String {
        self.users
            .iter()
            .map(|(user, hash)| format!("\"{user}\" \"{hash}\"\n"))
            .collect()
    }

    /// Adds or replaces a user with the md5 hash of its password.
    pub fn set_user(&mut self, user: &str, password: &str) {
        self.users
            .insert(user.to_string(), md5_password(user, password));
    }

    /// Removes a user.
    pub fn remove_user(&mut self, user: &str) -> bool {
        self.users.remove(user).is_some()
    }

    /// A user's md5 hash, as PostgreSQL stores it.
    pub fn hash_of(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }

    /// Whether the user is in the file.
    pub fn contains_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Whether `password` is the user's password.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        self.users
            .get(user)
            .is_some_and(|h| *h == md5_password(user, password))
    }

    /// The users, sorted.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_scheme_matches_postgresql() {
        // python3 -c 'import hashlib;print(hashlib.md5(b"pw"+b"user").hexdigest())'
        assert_eq!(
            md5_password("user", "pw"),
            "md5871c429757b7a0bf1654fad112b77bd4"
        );
    }

    #[test]
    fn auth_user_replaces_dashes() {
        assert_eq!(
            auth_user_for("relation-id-3"),
            "pgbouncer_auth_relation_id_3"
        );
        assert_eq!(
            auth_user_for("relation_id_3"),
            "pgbouncer_auth_relation_id_3"
        );
    }

    #[test]
    fn round_trip_sorted() {
        let mut auth = AuthFile::default();
        auth.set_user("zed", "a");
        auth.set_user("amy", "b");
        let text = auth.render();
        assert!(text.starts_with("\"amy\" \"md5"));
        assert_eq!(AuthFile::parse(&text).unwrap(), auth);
        assert_eq!(AuthFile::parse(&text).unwrap().render(), text);
        assert!(auth.verify("amy", "b") && !auth.verify("amy", "a"));
    }

    #[test]
    fn errors_name_the_line_never_the_content() {
        for (text, line) in [
            ("\"a\" \"md5x\"\nsecret-password\n", 2),
            ("\"a\"\n", 1),
            ("\"a\" \"h\" trailing-secret\n", 1),
            ("\"a\" \"h\"\n\"a\" \"h2\"\n", 2),
            ("\"\" \"h\"\n", 1),
        ] {
            let err = AuthFile::parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}");
            let shown = err.kind_without_content();
            assert!(
                !shown.contains("secret") && !shown.contains("md5x"),
                "{shown}"
            );
        }
    }

    #[test]
    fn debug_hides_hashes() {
        let mut auth = AuthFile::default();
        auth.set_user("u", "p");
        assert!(!format!("{auth:?}").contains("md5"));
    }

    #[test]
    fn passwords_are_24_alphanumerics_and_differ() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), PASSWORD_LENGTH);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
