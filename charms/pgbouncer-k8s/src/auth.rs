//! PgBouncer's auth file (`"<user>" "<secret>"` lines) and passwords.
//!
//! PgBouncer authenticates clients with `auth_type = scram-sha-256`. A
//! line's secret is one of:
//! - a SCRAM-SHA-256 verifier (`SCRAM-SHA-256$<iterations>:<salt>$<stored
//!   key>:<server key>`, as PostgreSQL stores it): the admin user's, made
//!   with [`AuthFile::set_user`]. It lets PgBouncer check a client's
//!   password, never log in anywhere by itself;
//! - the password in clear: the auth user's, set with
//!   [`AuthFile::set_plain`]. PgBouncer logs in to PostgreSQL as the
//!   `auth_user` by itself to run its `auth_query`, and a SCRAM verifier
//!   cannot do that (PgBouncer reuses a SCRAM verifier to log in to the
//!   server only for a client that authenticated with SCRAM through it), so
//!   that one line holds the password itself. The file is therefore written
//!   mode 0400 for PgBouncer's user alone and travels in a Juju secret,
//!   never in a databag;
//! - an md5 hash (`md5` + 32 hex digits), which older revisions wrote:
//!   still read, so that an upgraded charm can use and replace its file.
//!
//! Neither the file's content nor a password ever reaches a log: errors name
//! a line number and the kind of problem only, and `Debug` shows user names
//! only.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use md5::{Digest, Md5};

use crate::names::BackendUser;

/// The prefix of every auth user: `pgbouncer_auth_<backend user>`.
pub const AUTH_USER_PREFIX: &str = "pgbouncer_auth_";
/// How long generated passwords are.
pub const PASSWORD_LENGTH: usize = 24;
/// The characters of generated passwords.
const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// The OS's secure random source.
const RANDOM_SOURCE: &str = "/dev/urandom";

/// What is wrong with a line of an auth file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFileProblem {
    /// The line does not start with `"`.
    #[error("expected a double-quoted user name")]
    ExpectedUser,
    /// The user name's closing quote is missing.
    #[error("the user name is not closed")]
    UnterminatedUser,
    /// No `"` after the user name.
    #[error("expected a double-quoted password hash after the user name")]
    ExpectedHash,
    /// The hash's closing quote is missing.
    #[error("the password hash is not closed")]
    UnterminatedHash,
    /// Something after the hash.
    #[error("unexpected text after the password hash")]
    TrailingText,
    /// `""` as the user name.
    #[error("empty user name")]
    EmptyUser,
    /// The user is on an earlier line too.
    #[error("user listed twice")]
    RepeatedUser,
    /// A control character (a tab, a line break) in a user name or hash.
    #[error("a control character in a user name or password hash")]
    ControlCharacter,
    /// A double quote in a user name or hash (written `""`, it is valid
    /// syntax, but no user the charm makes has one: refused).
    #[error("a double quote in a user name or password hash")]
    Quote,
    /// A secret that starts as a verifier (`SCRAM-SHA-256$`, or `md5` and
    /// 35 characters long) but is not a well-formed one.
    #[error("a malformed verifier (it starts as a SCRAM or md5 one)")]
    InvalidVerifier,
    /// A clear password that would read back as a verifier.
    #[error("a clear password that has the form of a verifier")]
    PasswordLooksLikeVerifier,
    /// A verifier could not be made: the operating system gave no random
    /// bytes for its salt.
    #[error("no random bytes for a SCRAM salt")]
    NoRandomSalt,
}

/// What a line of the auth file holds for its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The password in clear (the auth user's).
    Clear,
    /// `md5` + hex(md5(password + user)), from an older revision.
    Md5,
    /// A SCRAM-SHA-256 verifier.
    Scram,
}

/// The prefix of a SCRAM-SHA-256 verifier.
pub use postgres_scram::PREFIX as SCRAM_PREFIX;

fn is_md5_verifier(secret: &str) -> bool {
    secret.len() == 35
        && secret.starts_with("md5")
        && secret[3..]
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// The kind of a secret, as PgBouncer reads it (`md5` and 35 characters:
/// md5; `SCRAM-SHA-256$...`: SCRAM; anything else: clear), or the problem
/// with one that looks like a verifier but is not well formed (PgBouncer
/// would take it as a clear password; refused here).
pub fn secret_kind(secret: &str) -> Result<SecretKind, AuthFileProblem> {
    if secret.starts_with(SCRAM_PREFIX) {
        postgres_scram::is_verifier(secret)
            .then_some(SecretKind::Scram)
            .ok_or(AuthFileProblem::InvalidVerifier)
    } else if secret.len() == 35 && secret.starts_with("md5") {
        if is_md5_verifier(secret) {
            Ok(SecretKind::Md5)
        } else {
            Err(AuthFileProblem::InvalidVerifier)
        }
    } else {
        Ok(SecretKind::Clear)
    }
}

/// A new SCRAM-SHA-256 verifier of `password`, as PostgreSQL makes it
/// ([`postgres_scram::verifier`]) with a random 16-byte salt.
/// [`PasswordError::Salt`] if the operating system gives no random bytes
/// for the salt.
pub fn scram_verifier(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| PasswordError::Salt)?;
    Ok(postgres_scram::verifier(password, &salt))
}

/// Whether `verifier` is a SCRAM-SHA-256 verifier of `password`
/// ([`postgres_scram::matches`]: about half a millisecond at PostgreSQL's
/// 4096 iterations; false for anything that is not a verifier, and for one
/// of more than [`postgres_scram::MAX_CHECKED_ITERATIONS`] iterations).
pub use postgres_scram::matches as scram_matches;

/// Equality that takes as long whatever the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What is wrong with a user name or secret, if anything (a secret that
/// looks like a verifier must be a well-formed one).
fn field_problem(user: &str, secret: &str) -> Option<AuthFileProblem> {
    if user.is_empty() {
        Some(AuthFileProblem::EmptyUser)
    } else if user.contains(char::is_control) || secret.contains(char::is_control) {
        Some(AuthFileProblem::ControlCharacter)
    } else if user.contains('"') || secret.contains('"') {
        Some(AuthFileProblem::Quote)
    } else {
        secret_kind(secret).err()
    }
}

/// An auth file that cannot be read or written. The message never contains
/// the file's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auth file line {line}: {problem}")]
pub struct AuthFileError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub problem: AuthFileProblem,
}

impl AuthFileError {
    /// The error as text that is safe to log (it never holds the content).
    pub fn kind_without_content(&self) -> String {
        self.to_string()
    }
}

/// A password could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The random source could not be opened or read.
    #[error("cannot read random bytes from {path}: {source}")]
    RandomSource {
        /// The source.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The operating system gave no random bytes for a SCRAM salt.
    #[error("the operating system gave no random bytes for a SCRAM salt")]
    Salt,
}

/// The auth file: each user's secret (a verifier, or the auth user's
/// password in clear: see the [module](self)), in user order.
///
/// ```
/// use pgbouncer_k8s::auth::{AuthFile, SecretKind};
///
/// let mut auth = AuthFile::default();
/// auth.set_user("juju_admin", "admin-password").unwrap();
/// auth.set_plain("pgbouncer_auth_app", "auth-password").unwrap();
/// let text = auth.render();
/// assert!(text.starts_with("\"juju_admin\" \"SCRAM-SHA-256$4096:"));
/// assert!(text.ends_with("\n\"pgbouncer_auth_app\" \"auth-password\"\n"));
/// let read = AuthFile::parse(&text).unwrap();
/// assert!(read.verify("juju_admin", "admin-password"));
/// assert_eq!(read.kind_of("juju_admin"), Some(SecretKind::Scram));
/// assert_eq!(read.plain_password("pgbouncer_auth_app"), Some("auth-password"));
/// assert_eq!(read.plain_password("juju_admin"), None);
/// assert_eq!(read, auth);
/// ```
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
    format!("md5{}", md5_hex(&[password.as_bytes(), user.as_bytes()]))
}

/// The MD5 digest of `parts`, one after the other, in lowercase hex.
pub(crate) fn md5_hex(parts: &[&[u8]]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(2 * digest.len());
    for byte in digest.iter() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

/// The auth user for a (validated) backend user: `pgbouncer_auth_<user>`,
/// at most 55 bytes (so `<auth user>_clients` fits PostgreSQL's 63).
///
/// ```
/// use pgbouncer_k8s::names::BackendUser;
///
/// let user = BackendUser::parse("relation_id_3").unwrap();
/// assert_eq!(pgbouncer_k8s::auth::auth_user_for(&user), "pgbouncer_auth_relation_id_3");
/// ```
pub fn auth_user_for(backend_user: &BackendUser) -> String {
    format!("{AUTH_USER_PREFIX}{backend_user}")
}

/// [`PASSWORD_LENGTH`] characters of `[A-Za-z0-9]` from the OS's secure
/// random source (`/dev/urandom`), with rejection sampling so that every
/// character is equally likely.
pub fn generate_password() -> Result<String, PasswordError> {
    generate_password_from(Path::new(RANDOM_SOURCE))
}

fn generate_password_from(source: &Path) -> Result<String, PasswordError> {
    let failed = |e: std::io::Error| PasswordError::RandomSource {
        path: source.display().to_string(),
        source: e,
    };
    let mut random = std::fs::File::open(source).map_err(failed)?;
    let mut password = String::with_capacity(PASSWORD_LENGTH);
    // 64 bytes give 24 characters but with a chance of about 1e-13 (each
    // byte is rejected with probability 8/256); then read more.
    let mut buffer = [0u8; 64];
    while password.len() < PASSWORD_LENGTH {
        random.read_exact(&mut buffer).map_err(failed)?;
        let wanted = PASSWORD_LENGTH - password.len();
        password.extend(buffer.iter().filter_map(|&b| alphanumeric(b)).take(wanted));
    }
    Ok(password)
}

/// The character for a random byte, or `None` for the 8 bytes at or above
/// 248, the largest multiple of 62 that fits in a byte: each of the 62
/// characters then comes from exactly 4 byte values.
fn alphanumeric(byte: u8) -> Option<char> {
    const LIMIT: usize = 256 / ALPHABET.len() * ALPHABET.len();
    let byte = usize::from(byte);
    (byte < LIMIT).then(|| char::from(ALPHABET[byte % ALPHABET.len()]))
}

/// A double-quoted field at the start of `text` (`""` is a quote inside):
/// `None` if `text` does not start with `"`, `Some(None)` if the field is not
/// closed, else the field and the text after it.
fn quoted_field(text: &str) -> Option<Option<(String, &str)>> {
    let rest = text.strip_prefix('"')?;
    let mut field = String::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '"' {
            field.push(c);
        } else if chars.next_if(|&(_, next)| next == '"').is_some() {
            field.push('"');
        } else {
            return Some(Some((field, &rest[i + 1..])));
        }
    }
    Some(None)
}

fn quote(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

impl AuthFile {
    /// Parses the file: one `"<user>" "<secret>"` line per user, `""` for a
    /// quote inside either; blank lines and lines starting with `;` are
    /// skipped. A secret is a SCRAM-SHA-256 verifier, an md5 hash (an older
    /// revision's file) or a clear password ([`secret_kind`]). Stricter
    /// than PgBouncer, which ignores whatever follows the secret, keeps the
    /// last of repeated users and takes a malformed verifier for a clear
    /// password: all three are errors here.
    pub fn parse(text: &str) -> Result<Self, AuthFileError> {
        let mut users = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let fail = |problem| AuthFileError {
                line: i + 1,
                problem,
            };
            let line = raw.trim();
            if line.is_empty() || line.starts_with(';') {
                continue;
            }
            let (user, rest) = quoted_field(line)
                .ok_or(fail(AuthFileProblem::ExpectedUser))?
                .ok_or(fail(AuthFileProblem::UnterminatedUser))?;
            let (hash, rest) = quoted_field(rest.trim_start())
                .ok_or(fail(AuthFileProblem::ExpectedHash))?
                .ok_or(fail(AuthFileProblem::UnterminatedHash))?;
            if !rest.trim().is_empty() {
                return Err(fail(AuthFileProblem::TrailingText));
            }
            if let Some(problem) = field_problem(&user, &hash) {
                return Err(fail(problem));
            }
            if users.insert(user, hash).is_some() {
                return Err(fail(AuthFileProblem::RepeatedUser));
            }
        }
        Ok(Self { users })
    }

    /// The file's text: one line per user, sorted by user.
    pub fn render(&self) -> String {
        self.users
            .iter()
            .map(|(user, hash)| format!("{} {}\n", quote(user), quote(hash)))
            .collect()
    }

    /// Whether [`render`](Self::render) gives a file that reads back the
    /// same and that [`parse`](Self::parse) accepts: no empty user name, no
    /// control character, no double quote, no malformed verifier. The
    /// error's line is the user's line in the rendered file.
    pub fn validate(&self) -> Result<(), AuthFileError> {
        for (i, (user, hash)) in self.users.iter().enumerate() {
            if let Some(problem) = field_problem(user, hash) {
                return Err(AuthFileError {
                    line: i + 1,
                    problem,
                });
            }
        }
        Ok(())
    }

    /// Adds or replaces a user with a new SCRAM-SHA-256 verifier of its
    /// password ([`scram_verifier`]: a new random salt each time). Refuses,
    /// changing nothing, an empty user name or one with a control character
    /// or a double quote.
    ///
    /// ```
    /// use pgbouncer_k8s::auth::{AuthFile, AuthFileProblem};
    ///
    /// let mut auth = AuthFile::default();
    /// assert_eq!(auth.set_user("a\" \"md5x\" \"b", "pw"), Err(AuthFileProblem::Quote));
    /// assert_eq!(auth.set_user("a\nb", "pw"), Err(AuthFileProblem::ControlCharacter));
    /// assert!(auth.is_empty());
    /// ```
    pub fn set_user(&mut self, user: &str, password: &str) -> Result<(), AuthFileProblem> {
        if let Some(problem) = field_problem(user, "") {
            return Err(problem);
        }
        let verifier = scram_verifier(password).map_err(|_| AuthFileProblem::NoRandomSalt)?;
        self.users.insert(user.to_string(), verifier);
        Ok(())
    }

    /// Adds or replaces a user with its password in clear: the auth user's
    /// line, which PgBouncer logs in to PostgreSQL with (see the
    /// [module](self)). Refuses, changing nothing, what [`set_user`](Self::set_user)
    /// refuses, and a password with a control character or a double quote
    /// or one that would read back as a verifier (`SCRAM-SHA-256$...`, or
    /// `md5` and 35 characters).
    ///
    /// ```
    /// use pgbouncer_k8s::auth::{AuthFile, AuthFileProblem};
    ///
    /// let mut auth = AuthFile::default();
    /// let md5_like = format!("md5{}", "0".repeat(32));
    /// assert_eq!(auth.set_plain("u", &md5_like), Err(AuthFileProblem::PasswordLooksLikeVerifier));
    /// assert_eq!(auth.set_plain("u", "a\"b"), Err(AuthFileProblem::Quote));
    /// assert!(auth.is_empty());
    /// ```
    pub fn set_plain(&mut self, user: &str, password: &str) -> Result<(), AuthFileProblem> {
        match field_problem(user, password) {
            Some(AuthFileProblem::InvalidVerifier) => {
                return Err(AuthFileProblem::PasswordLooksLikeVerifier);
            }
            Some(problem) => return Err(problem),
            None if secret_kind(password) != Ok(SecretKind::Clear) => {
                return Err(AuthFileProblem::PasswordLooksLikeVerifier);
            }
            None => {}
        }
        self.users.insert(user.to_string(), password.to_string());
        Ok(())
    }

    /// Removes a user; true if it was there.
    pub fn remove_user(&mut self, user: &str) -> bool {
        self.users.remove(user).is_some()
    }

    /// A user's verifier (SCRAM-SHA-256 or md5), as PostgreSQL stores it;
    /// `None` for a user that is not there or whose line is in clear.
    pub fn hash_of(&self, user: &str) -> Option<&str> {
        self.users
            .get(user)
            .map(String::as_str)
            .filter(|secret| secret_kind(secret) != Ok(SecretKind::Clear))
    }

    /// A user's password, if its line holds it in clear (the auth user's,
    /// [`set_plain`](Self::set_plain)); `None` for a verifier line or a
    /// user that is not there.
    pub fn plain_password(&self, user: &str) -> Option<&str> {
        self.users
            .get(user)
            .map(String::as_str)
            .filter(|secret| secret_kind(secret) == Ok(SecretKind::Clear))
    }

    /// What a user's line holds, if the user is there.
    pub fn kind_of(&self, user: &str) -> Option<SecretKind> {
        self.users
            .get(user)
            .and_then(|secret| secret_kind(secret).ok())
    }

    /// Whether the user is in the file.
    pub fn contains_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Whether `password` is the user's password, whatever its line holds:
    /// a SCRAM-SHA-256 verifier (hashed again with its salt and iteration
    /// count: a few milliseconds at PostgreSQL's 4096 iterations, false
    /// beyond [`postgres_scram::MAX_CHECKED_ITERATIONS`]), an md5 hash or the
    /// clear password.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let Some(secret) = self.users.get(user) else {
            return false;
        };
        match secret_kind(secret) {
            Ok(SecretKind::Scram) => scram_matches(secret, password),
            Ok(SecretKind::Md5) => {
                same_bytes(secret.as_bytes(), md5_password(user, password).as_bytes())
            }
            Ok(SecretKind::Clear) => same_bytes(secret.as_bytes(), password.as_bytes()),
            Err(_) => false,
        }
    }

    /// The users, sorted.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;

    const SPEC_LINE: &str =
        "\"pgbouncer_auth_relation_id_3\" \"md5aad46d9afbcc8c8248d254d567b577c1\"";

    #[test]
    fn md5_scheme_matches_postgresql() {
        // Computed independently:
        // python3 -c 'import hashlib; print(hashlib.md5(b"pw" + b"user").hexdigest())'
        for (user, password, hex) in [
            ("user", "pw", "871c429757b7a0bf1654fad112b77bd4"),
            (
                "pgbouncer_auth_relation_id_3",
                "s3cr3t",
                "7b322e7755411c466c6ab780ed772440",
            ),
            ("u\"q", "pässwörd", "aae84ca00c4ac7e6927678934c316250"),
            (
                "pgbouncer_auth_app",
                "a-password",
                "622ddf84d352da91a4157a66cffe3643",
            ),
        ] {
            assert_eq!(md5_password(user, password), format!("md5{hex}"));
        }
    }

    #[test]
    fn the_spec_example_reads_and_renders_back() {
        let auth = AuthFile::parse(SPEC_LINE).unwrap();
        assert_eq!(
            auth.users().collect::<Vec<_>>(),
            ["pgbouncer_auth_relation_id_3"]
        );
        assert_eq!(
            auth.hash_of("pgbouncer_auth_relation_id_3"),
            Some("md5aad46d9afbcc8c8248d254d567b577c1")
        );
        assert_eq!(auth.render(), format!("{SPEC_LINE}\n"));
        assert!(!auth.verify("pgbouncer_auth_relation_id_3", "s3cr3t"));
    }

    #[test]
    fn auth_user_is_prefixed_and_fits_with_its_marker_role() {
        let user = |u: &str| BackendUser::parse(u).unwrap();
        assert_eq!(
            auth_user_for(&user("relation_id_3")),
            "pgbouncer_auth_relation_id_3"
        );
        let longest = auth_user_for(&user(&"u".repeat(crate::names::MAX_BACKEND_USER)));
        assert!(longest.len() + "_clients".len() <= crate::names::MAX_IDENTIFIER);
    }

    /// Computed independently of this crate (Python's `hashlib.pbkdf2_hmac`
    /// and `hmac`), password `auth-pw-s3cr3t`, salt bytes 0..16, 4096
    /// iterations.
    const KNOWN_SCRAM: &str = "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$\
        OhGmorJxQO+isX1yNGiEs4d4MZ1o/dOmzDvzeDh4MZI=:NPL8iJUIisla75JW4jYriGKDE9yQWVFKfPUNjY+YK84=";
    /// The same, password `x`, salt `salt`, one iteration.
    const KNOWN_SCRAM_1: &str = "SCRAM-SHA-256$1:c2FsdA==$\
        LzZnpJx9nyllHcButE6xdMfvR0D6Q/nY1+IfZB/t0N0=:DHjdQWhf2UfGb66KdZjVrwxEI6+FrasCnM9Yoswga4o=";

    #[test]
    fn new_verifiers_are_salted_and_check() {
        let one = scram_verifier("pässwörd").unwrap();
        let two = scram_verifier("pässwörd").unwrap();
        assert_ne!(one, two, "a new salt each time");
        for verifier in [&one, &two] {
            assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
            assert_eq!(secret_kind(verifier), Ok(SecretKind::Scram));
            assert!(scram_matches(verifier, "pässwörd"));
            assert!(!scram_matches(verifier, "passwort"));
        }
    }

    #[test]
    fn too_many_iterations_are_not_computed() {
        // Well formed, so the file reads, but never hashed for minutes:
        // though this one is of `x` (computed as KNOWN_SCRAM_1 was, with
        // 1,000,001 iterations), it is not checked.
        let huge = "SCRAM-SHA-256$1000001:c2FsdA==$\
            k39VgVU1QMYa9tqP9AG81Ixn+p5mo3MA/wmV7d5jOxQ=:iMkq0WTGC/5BEwAqew/ZaGnuSwiAfjRFLJTPY4VRLJM=";
        assert_eq!(secret_kind(huge), Ok(SecretKind::Scram));
        let auth = AuthFile::parse(&format!("\"u\" \"{huge}\"\n")).unwrap();
        assert!(!auth.verify("u", "x"));
    }

    #[test]
    fn secret_kinds_follow_pgbouncer() {
        use AuthFileProblem::InvalidVerifier;
        let md5 = md5_password("u", "p");
        for (secret, kind) in [
            ("", Ok(SecretKind::Clear)),
            ("a password", Ok(SecretKind::Clear)),
            ("md5abc", Ok(SecretKind::Clear)),
            (md5.as_str(), Ok(SecretKind::Md5)),
            (KNOWN_SCRAM, Ok(SecretKind::Scram)),
            ("md5zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", Err(InvalidVerifier)),
            ("md5AAD46D9AFBCC8C8248D254D567B577C1", Err(InvalidVerifier)),
            ("SCRAM-SHA-256$", Err(InvalidVerifier)),
            ("SCRAM-SHA-256$4096:c2FsdA==$", Err(InvalidVerifier)),
            ("SCRAM-SHA-256$0:c2FsdA==$a:b", Err(InvalidVerifier)),
        ] {
            assert_eq!(secret_kind(secret), kind, "{secret:?}");
        }
        // Each field of a SCRAM verifier is checked.
        for broken in [
            KNOWN_SCRAM_1.replace("$1:", "$0:"),
            KNOWN_SCRAM_1.replace("$1:", "$+1:"),
            KNOWN_SCRAM_1.replace("$1:", "$x:"),
            KNOWN_SCRAM_1.replace("$1:", "$99999999999:"),
            KNOWN_SCRAM_1.replace("c2FsdA==", ""),
            KNOWN_SCRAM_1.replace("c2FsdA==", "c2Fsd!=="),
            KNOWN_SCRAM_1.replace("LzZn", "LzZ"),
            KNOWN_SCRAM_1.replace("DHjd", "DH"),
            KNOWN_SCRAM_1.replace(":DHjd", "DHjd"),
            KNOWN_SCRAM_1.replace("SCRAM-SHA-256$", "SCRAM-SHA-256$$"),
        ] {
            assert_eq!(secret_kind(&broken), Err(InvalidVerifier), "{broken}");
        }
    }

    #[test]
    fn verify_reads_every_kind_of_line() {
        let text = format!(
            "\"scram\" \"{KNOWN_SCRAM}\"\n\"md5\" \"{}\"\n\"clear\" \"pw-c\"\n",
            md5_password("md5", "pw-m")
        );
        let auth = AuthFile::parse(&text).unwrap();
        assert!(auth.verify("scram", "auth-pw-s3cr3t"));
        assert!(!auth.verify("scram", "pw-c"));
        assert!(auth.verify("md5", "pw-m"));
        assert!(!auth.verify("md5", "pw-M"));
        assert!(auth.verify("clear", "pw-c"));
        assert!(!auth.verify("clear", "pw-"));
        assert!(!auth.verify("nobody", "pw-c"));
        assert_eq!(auth.kind_of("scram"), Some(SecretKind::Scram));
        assert_eq!(auth.kind_of("md5"), Some(SecretKind::Md5));
        assert_eq!(auth.kind_of("clear"), Some(SecretKind::Clear));
        assert_eq!(auth.kind_of("nobody"), None);
        assert_eq!(auth.hash_of("scram"), Some(KNOWN_SCRAM));
        assert_eq!(
            auth.hash_of("md5"),
            Some(md5_password("md5", "pw-m").as_str())
        );
        assert_eq!(auth.hash_of("clear"), None);
        assert_eq!(auth.plain_password("clear"), Some("pw-c"));
        assert_eq!(auth.plain_password("scram"), None);
        assert_eq!(auth.plain_password("md5"), None);
        assert_eq!(auth.plain_password("nobody"), None);
        assert_eq!(auth.render(), {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort();
            lines.iter().map(|l| format!("{l}\n")).collect::<String>()
        });
    }

    #[test]
    fn set_plain_keeps_the_password_and_refuses_what_would_not_read_back() {
        use AuthFileProblem::*;
        let mut auth = AuthFile::default();
        auth.set_plain("auth", "one").unwrap();
        auth.set_plain("auth", "two").unwrap();
        assert_eq!(auth.plain_password("auth"), Some("two"));
        assert_eq!(auth.kind_of("auth"), Some(SecretKind::Clear));
        assert!(auth.verify("auth", "two"));
        let md5_like = md5_password("x", "y");
        for (user, password, problem) in [
            ("", "pw", EmptyUser),
            ("a\"b", "pw", Quote),
            ("a\nb", "pw", ControlCharacter),
            ("u", "p\"w", Quote),
            ("u", "p\nw", ControlCharacter),
            ("u", md5_like.as_str(), PasswordLooksLikeVerifier),
            ("u", KNOWN_SCRAM, PasswordLooksLikeVerifier),
            ("u", "SCRAM-SHA-256$x", PasswordLooksLikeVerifier),
            (
                "u",
                "md5zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
                PasswordLooksLikeVerifier,
            ),
        ] {
            assert_eq!(auth.set_plain(user, password), Err(problem), "{password:?}");
        }
        assert_eq!(auth.users().collect::<Vec<_>>(), ["auth"]);
        // A verifier line replaced by a clear one, and back.
        auth.set_user("auth", "three").unwrap();
        assert_eq!(auth.plain_password("auth"), None);
        assert_eq!(auth.kind_of("auth"), Some(SecretKind::Scram));
        assert!(auth.verify("auth", "three"));
    }

    #[test]
    fn round_trip_sorted() {
        let mut auth = AuthFile::default();
        assert!(auth.is_empty());
        assert_eq!(auth.render(), "");
        auth.set_user("zed", "a").unwrap();
        auth.set_user("amy", "b").unwrap();
        auth.set_plain("wé ird", "c").unwrap();
        let text = auth.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("\"amy\" \"SCRAM-SHA-256$4096:"));
        assert_eq!(lines[1], "\"wé ird\" \"c\"");
        assert!(lines[2].starts_with("\"zed\" \"SCRAM-SHA-256$4096:"));
        let read = AuthFile::parse(&text).unwrap();
        assert_eq!(read, auth);
        assert_eq!(read.render(), text);
        assert_eq!(read.len(), 3);
        assert!(read.verify("amy", "b") && !read.verify("amy", "a"));
        assert!(read.verify("wé ird", "c"));
        assert!(!read.verify("nobody", "b"));
        auth.validate().unwrap();
    }

    #[test]
    fn parse_skips_blank_lines_and_comments() {
        let text = format!("; a comment\r\n\r\n   {SPEC_LINE}  \r\n\t\n\"a\" \"\"\n");
        let auth = AuthFile::parse(&text).unwrap();
        assert_eq!(
            auth.users().collect::<Vec<_>>(),
            ["a", "pgbouncer_auth_relation_id_3"]
        );
        assert_eq!(auth.plain_password("a"), Some(""));
        assert_eq!(AuthFile::parse("").unwrap(), AuthFile::default());
    }

    #[test]
    fn set_and_remove_users() {
        let mut auth = AuthFile::default();
        auth.set_user("u", "one").unwrap();
        auth.set_user("u", "two").unwrap();
        assert_eq!(auth.len(), 1);
        assert!(auth.verify("u", "two"));
        assert!(auth.contains_user("u"));
        assert!(auth.remove_user("u"));
        assert!(!auth.remove_user("u"));
        assert!(!auth.contains_user("u"));
        assert_eq!(auth.hash_of("u"), None);
    }

    #[test]
    fn errors_name_the_line_never_the_content() {
        use AuthFileProblem::*;
        for (text, line, problem) in [
            ("\"a\" \"md5x\"\nsecret-password\n", 2, ExpectedUser),
            ("\"a\"\n", 1, ExpectedHash),
            ("\"a\" secret\n", 1, ExpectedHash),
            ("\"secret \"md5x\"\n", 1, ExpectedHash),
            ("\"secret\n", 1, UnterminatedUser),
            ("\n\"a\" \"secret\n", 2, UnterminatedHash),
            ("\"a\" \"h\" trailing-secret\n", 1, TrailingText),
            ("\"a\" \"h\"\"secret\n", 1, UnterminatedHash),
            ("\"a\" \"h\"\n; c\n\"a\" \"h2\"\n", 3, RepeatedUser),
            ("\"\" \"secret\"\n", 1, EmptyUser),
            ("\"a\tsecret\" \"h\"\n", 1, ControlCharacter),
            ("\"a\" \"secret\u{7}\"\n", 1, ControlCharacter),
            ("\"we\"\"ird-secret\" \"h\"\n", 1, Quote),
            ("\"a\" \"md5\"\"secret\"\n", 1, Quote),
            ("\"a\" \"SCRAM-SHA-256$secret\"\n", 1, InvalidVerifier),
            (
                "\"a\" \"md5secretsecretsecretsecretsecret00\"\n",
                1,
                InvalidVerifier,
            ),
        ] {
            let err = AuthFile::parse(text).unwrap_err();
            assert_eq!(err, AuthFileError { line, problem }, "{text:?}");
            for shown in [
                err.kind_without_content(),
                err.to_string(),
                format!("{err:?}"),
            ] {
                assert!(
                    !shown.contains("secret") && !shown.contains("md5x"),
                    "{shown}"
                );
            }
            assert!(
                err.to_string()
                    .starts_with(&format!("auth file line {line}: "))
            );
        }
    }

    #[test]
    fn validate_finds_what_cannot_be_written() {
        let mut auth = AuthFile::default();
        auth.set_user("b", "p").unwrap();
        auth.validate().unwrap();
        for (user, problem) in [
            ("a\nb", AuthFileProblem::ControlCharacter),
            ("a\tb", AuthFileProblem::ControlCharacter),
            ("", AuthFileProblem::EmptyUser),
            ("a\"b", AuthFileProblem::Quote),
        ] {
            assert_eq!(auth.set_user(user, "p"), Err(problem), "{user:?}");
            let mut raw = auth.clone();
            raw.users.insert(user.to_string(), "h".to_string());
            assert_eq!(
                raw.validate(),
                Err(AuthFileError { line: 1, problem }),
                "{user:?}"
            );
        }
        assert_eq!(auth.users().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn debug_hides_every_secret() {
        let mut auth = AuthFile::parse(&format!(
            "\"old\" \"{}\"\n\"known\" \"{KNOWN_SCRAM}\"\n",
            md5_password("old", "p")
        ))
        .unwrap();
        auth.set_user("u", "p").unwrap();
        auth.set_plain("auth", "clear-secret").unwrap();
        let shown = format!("{auth:?}");
        for user in ["\"u\"", "\"auth\"", "\"old\"", "\"known\""] {
            assert!(shown.contains(user), "{shown}");
        }
        for secret in ["md5", "SCRAM", "clear-secret", "OhGm", "=", "$"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn every_character_comes_from_four_bytes() {
        let mut counts = std::collections::BTreeMap::new();
        let mut rejected = 0;
        for byte in 0..=u8::MAX {
            match alphanumeric(byte) {
                Some(c) => *counts.entry(c).or_insert(0) += 1,
                None => rejected += 1,
            }
        }
        assert_eq!(rejected, 8);
        assert_eq!(counts.len(), 62);
        assert!(counts.values().all(|&n| n == 4));
        assert!(counts.keys().all(char::is_ascii_alphanumeric));
        assert_eq!(alphanumeric(0), Some('A'));
        assert_eq!(alphanumeric(61), Some('9'));
        assert_eq!(alphanumeric(62), Some('A'));
        assert_eq!(alphanumeric(247), Some('9'));
        assert_eq!(alphanumeric(248), None);
        assert_eq!(alphanumeric(255), None);
    }

    #[test]
    fn passwords_are_24_alphanumerics_and_differ() {
        let mut seen = std::collections::BTreeSet::new();
        let mut passwords = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let password = generate_password().unwrap();
            assert_eq!(password.len(), PASSWORD_LENGTH);
            assert!(password.bytes().all(|c| c.is_ascii_alphanumeric()));
            seen.extend(password.chars());
            passwords.insert(password);
        }
        assert_eq!(passwords.len(), 200);
        // 4,800 draws miss one of 62 characters with a chance below 1e-30.
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn an_unreadable_random_source_is_an_error() {
        for source in ["/dev/null", "/nonexistent/random"] {
            let err = generate_password_from(Path::new(source)).unwrap_err();
            let PasswordError::RandomSource { path, .. } = &err else {
                panic!("{err:?}");
            };
            assert_eq!(path, source);
            assert!(
                err.to_string()
                    .starts_with(&format!("cannot read random bytes from {source}: ")),
                "{err}"
            );
            assert!(std::error::Error::source(&err).is_some());
        }
    }

    use crate::test_support::leaked;

    fn tricky() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => matching("[a-z_0-9]{1,8}"),
                1 => Just("\"".to_string()),
                1 => Just("\"\"".to_string()),
                1 => Just("\n".to_string()),
                1 => Just("\r".to_string()),
                1 => Just("\t".to_string()),
                1 => Just(" ".to_string()),
                1 => Just(";".to_string()),
                1 => Just("\u{7f}".to_string()),
                1 => matching("\\PC"),
            ],
            0..8,
        )
        .prop_map(|parts| parts.concat())
    }

    use crate::test_support::matching;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::test_support::proptest_config())]

        #[test]
        fn prop_authfile_roundtrip(
            users in prop::collection::vec((tricky(), matching("[ -~]{0,12}"), any::<bool>()), 0..6)
        ) {
            let mut auth = AuthFile::default();
            for (user, password, plain) in &users {
                let before = auth.clone();
                let set = if *plain {
                    auth.set_plain(user, password)
                } else {
                    auth.set_user(user, password)
                };
                match set {
                    // Clear lines are checked here; SCRAM ones (milliseconds
                    // each) by their kind, and their check in the tests above.
                    Ok(()) if *plain => {
                        prop_assert!(auth.verify(user, password));
                        prop_assert_eq!(auth.plain_password(user), Some(password.as_str()));
                    }
                    Ok(()) => prop_assert_eq!(auth.kind_of(user), Some(SecretKind::Scram)),
                    Err(problem) => {
                        prop_assert_eq!(&auth, &before);
                        prop_assert_eq!(leaked(user, &problem.to_string()), None);
                    }
                }
            }
            auth.validate().unwrap();
            let text = auth.render();
            prop_assert_eq!(text.lines().count(), auth.len());
            let read = AuthFile::parse(&text).unwrap();
            prop_assert_eq!(&read, &auth);
            prop_assert_eq!(read.render(), text);
        }

        #[test]
        fn prop_authfile_parse_errors_never_hold_the_input(
            text in matching("\\PC{0,120}|[\"a-z ;\n\t]{0,120}|(\"[a-z_]{8,12}\" \"md5[0-9a-f]{8,32}\"?\n?){1,3}\
                     |(\"[a-z_]{8,12}\" \"(md5[0-9a-fA-Z]{32}|SCRAM-SHA-256\\$[0-9]{0,5}:[A-Za-z0-9+/=]{0,24}\\$\
                       [A-Za-z0-9+/=]{0,46}:?[A-Za-z0-9+/=]{0,46}|[a-zA-Z0-9$:+/=]{0,40})\"\n){1,3}")
        ) {
            match AuthFile::parse(&text) {
                Ok(auth) => {
                    auth.validate().unwrap();
                    prop_assert_eq!(AuthFile::parse(&auth.render()).unwrap(), auth);
                }
                Err(e) => {
                    for shown in [e.to_string(), format!("{e:?}"), e.kind_without_content()] {
                        prop_assert_eq!(leaked(&text, &shown), None, "{}", shown);
                    }
                }
            }
        }

        /// A secret's kind decides whether its line reads, and a well-formed
        /// verifier reads whatever its salt and keys: a SCRAM line as SCRAM,
        /// an md5 line as md5, anything else without quotes or control
        /// characters as a clear password.
        #[test]
        fn prop_authfile_reads_each_kind_of_secret(
            secret in matching("\\PC{0,60}|SCRAM-SHA-256\\$[0-9]{1,4}:[A-Za-z0-9+/]{0,30}={0,2}\\$[A-Za-z0-9+/=]{40,48}:[A-Za-z0-9+/=]{40,48}|md5[0-9a-f]{32}"),
            iterations in 1u32..100_000,
            salt in prop::collection::vec(any::<u8>(), 1..32),
            keys in (prop::array::uniform32(any::<u8>()), prop::array::uniform32(any::<u8>())),
        ) {
            let line = |secret: &str| format!("\"u\" \"{secret}\"\n");
            match (secret_kind(&secret), AuthFile::parse(&line(&secret))) {
                (Ok(kind), Ok(auth)) => {
                    prop_assert_eq!(auth.kind_of("u"), Some(kind));
                    prop_assert_eq!(auth.plain_password("u").is_some(), kind == SecretKind::Clear);
                    prop_assert_eq!(auth.hash_of("u").is_some(), kind != SecretKind::Clear);
                }
                // Only what the line's syntax cannot hold.
                (Ok(_), Err(e)) => prop_assert!(
                    secret.contains(|c: char| c == '"' || c.is_control()),
                    "{:?}", e
                ),
                (Err(problem), Err(e)) => prop_assert_eq!(e.problem, problem),
                (Err(problem), Ok(_)) => prop_assert!(false, "{:?} but it parsed", problem),
            }
            let verifier = format!(
                "SCRAM-SHA-256${iterations}:{}${}:{}",
                BASE64.encode(&salt),
                BASE64.encode(keys.0),
                BASE64.encode(keys.1)
            );
            let auth = AuthFile::parse(&line(&verifier)).unwrap();
            prop_assert_eq!(auth.kind_of("u"), Some(SecretKind::Scram));
            prop_assert_eq!(auth.hash_of("u"), Some(verifier.as_str()));
            prop_assert_eq!(auth.render(), line(&verifier));
        }
    }
}
