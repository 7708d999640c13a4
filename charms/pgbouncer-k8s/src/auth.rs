//! PgBouncer's auth file (`"<user>" "md5<hex>"` lines) and passwords.
//!
//! Neither the file's content nor a password ever reaches a log: errors name
//! a line number and the kind of problem only, and `Debug` hides hashes.

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
}

/// What is wrong with a user name or hash, if anything.
fn field_problem(user: &str, hash: &str) -> Option<AuthFileProblem> {
    if user.is_empty() {
        Some(AuthFileProblem::EmptyUser)
    } else if user.contains(char::is_control) || hash.contains(char::is_control) {
        Some(AuthFileProblem::ControlCharacter)
    } else if user.contains('"') || hash.contains('"') {
        Some(AuthFileProblem::Quote)
    } else {
        None
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
}

/// The auth file: each user's password hash, in user order.
///
/// ```
/// use pgbouncer_k8s::auth::AuthFile;
///
/// let mut auth = AuthFile::default();
/// auth.set_user("pgbouncer_auth_app", "a-password").unwrap();
/// let text = auth.render();
/// assert_eq!(text, "\"pgbouncer_auth_app\" \"md5622ddf84d352da91a4157a66cffe3643\"\n");
/// let read = AuthFile::parse(&text).unwrap();
/// assert!(read.verify("pgbouncer_auth_app", "a-password"));
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
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Md5::new();
    hasher.update(password.as_bytes());
    hasher.update(user.as_bytes());
    let digest = hasher.finalize();
    let mut hash = String::with_capacity(35);
    hash.push_str("md5");
    for byte in digest.iter() {
        hash.push(char::from(HEX[usize::from(byte >> 4)]));
        hash.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hash
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
    /// Parses the file: one `"<user>" "<hash>"` line per user, `""` for a
    /// quote inside either; blank lines and lines starting with `;` are
    /// skipped. Stricter than PgBouncer, which ignores whatever follows the
    /// hash and keeps the last of repeated users: both are errors here.
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
    /// control character, no double quote. The error's line is the user's
    /// line in the rendered file.
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

    /// Adds or replaces a user with the md5 hash of its password. Refuses,
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
        let hash = md5_password(user, password);
        if let Some(problem) = field_problem(user, &hash) {
            return Err(problem);
        }
        self.users.insert(user.to_string(), hash);
        Ok(())
    }

    /// Removes a user; true if it was there.
    pub fn remove_user(&mut self, user: &str) -> bool {
        self.users.remove(user).is_some()
    }

    /// A user's password hash, as PostgreSQL stores it.
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

    #[test]
    fn round_trip_sorted() {
        let mut auth = AuthFile::default();
        assert!(auth.is_empty());
        assert_eq!(auth.render(), "");
        auth.set_user("zed", "a").unwrap();
        auth.set_user("amy", "b").unwrap();
        auth.set_user("wé ird", "c").unwrap();
        let text = auth.render();
        assert_eq!(
            text,
            format!(
                "\"amy\" \"{}\"\n\"wé ird\" \"{}\"\n\"zed\" \"{}\"\n",
                md5_password("amy", "b"),
                md5_password("wé ird", "c"),
                md5_password("zed", "a")
            )
        );
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
        assert_eq!(auth.hash_of("a"), Some(""));
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
    fn debug_hides_hashes() {
        let mut auth = AuthFile::default();
        auth.set_user("u", "p").unwrap();
        let shown = format!("{auth:?}");
        assert!(shown.contains("\"u\""), "{shown}");
        assert!(!shown.contains("md5"), "{shown}");
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
            let PasswordError::RandomSource { path, .. } = &err;
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
                4 => "[a-z_0-9]{1,8}",
                1 => Just("\"".to_string()),
                1 => Just("\"\"".to_string()),
                1 => Just("\n".to_string()),
                1 => Just("\r".to_string()),
                1 => Just("\t".to_string()),
                1 => Just(" ".to_string()),
                1 => Just(";".to_string()),
                1 => Just("\u{7f}".to_string()),
                1 => "\\PC",
            ],
            0..8,
        )
        .prop_map(|parts| parts.concat())
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_authfile_roundtrip(users in prop::collection::vec((tricky(), "[ -~]{0,12}"), 0..6)) {
            let mut auth = AuthFile::default();
            for (user, password) in &users {
                let before = auth.clone();
                match auth.set_user(user, password) {
                    Ok(()) => prop_assert!(auth.verify(user, password)),
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
            text in "\\PC{0,120}|[\"a-z ;\n\t]{0,120}|(\"[a-z_]{8,12}\" \"md5[0-9a-f]{8,32}\"?\n?){1,3}"
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
    }
}
