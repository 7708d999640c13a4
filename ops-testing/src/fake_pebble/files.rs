//! The fake Pebble's file API over the container's filesystem (a host
//! directory or memory: [`super::disk`]); results and errors are shaped as
//! Pebble's `internals/daemon/api_files.go` makes them.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use super::FileOwner;
use super::disk::{Disk, Kind, Stat};
use super::state::State;
use super::util::{random_hex, rfc3339};

/// A failed file operation: Pebble's `kind` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileError {
    pub kind: &'static str,
    pub message: String,
}

impl FileError {
    fn generic(message: impl Into<String>) -> Self {
        Self {
            kind: "generic-file-error",
            message: message.into(),
        }
    }

    /// The HTTP status Pebble gives a listing that failed this way.
    pub fn status(&self) -> u16 {
        match self.kind {
            "not-found" => 404,
            "permission-denied" => 403,
            _ => 400,
        }
    }
}

/// Pebble's error as an `io::Error` for the fake's own API: a missing path
/// is [`io::ErrorKind::NotFound`], the message Pebble's.
impl From<FileError> for io::Error {
    fn from(e: FileError) -> Self {
        let kind = match e.kind {
            "not-found" => io::ErrorKind::NotFound,
            "permission-denied" => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.message)
    }
}

/// An OS error as Go prints it: `<op> <path>: <strerror>`.
fn os_error(op: &str, path: &str, error: &io::Error) -> FileError {
    let kind = match error.kind() {
        io::ErrorKind::NotFound => "not-found",
        io::ErrorKind::PermissionDenied => "permission-denied",
        _ => "generic-file-error",
    };
    let text = match error.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::AlreadyExists => "file exists".to_string(),
        io::ErrorKind::DirectoryNotEmpty => "directory not empty".to_string(),
        io::ErrorKind::NotADirectory => "not a directory".to_string(),
        io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => {
            let text = error.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            let mut chars = text.chars();
            chars
                .next()
                .map(|c| c.to_lowercase().chain(chars).collect())
                .unwrap_or_default()
        }
    };
    FileError {
        kind,
        message: format!("{op} {path}: {text}"),
    }
}

/// `{"path": p}` or `{"path": p, "error": {"message": m, "kind": k}}`.
pub(crate) fn result_entry(path: &str, outcome: &Result<(), FileError>) -> Value {
    match outcome {
        Ok(()) => json!({"path": path}),
        Err(e) => json!({"path": path, "error": {"message": e.message, "kind": e.kind}}),
    }
}

/// A container path, cleaned as Go's `path.Clean`; `None` if relative.
pub(crate) fn clean(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

fn parent(clean_path: &str) -> String {
    match clean_path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => clean_path[..i].to_string(),
    }
}

fn base(clean_path: &str) -> &str {
    match clean_path.rsplit('/').next() {
        Some("") | None => "/",
        Some(name) => name,
    }
}

fn not_absolute(path: &str) -> FileError {
    FileError::generic(format!("paths must be absolute, got {path:?}"))
}

/// The owner fields of a write or mkdir request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub(crate) struct OwnerSpec {
    pub permissions: String,
    pub user_id: Option<u32>,
    pub user: String,
    pub group_id: Option<u32>,
    pub group: String,
}

impl OwnerSpec {
    /// The owner to record, as Pebble's `NormalizeUidGid` accepts it
    /// (a group only with a user).
    fn owner(&self) -> Result<Option<FileOwner>, FileError> {
        let has_user = self.user_id.is_some() || !self.user.is_empty();
        let has_group = self.group_id.is_some() || !self.group.is_empty();
        if !has_user && has_group {
            return Err(FileError::generic(
                "cannot look up user and group: must specify user, not just group",
            ));
        }
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Ok(has_user.then(|| FileOwner {
            user_id: self.user_id,
            user: nonempty(&self.user),
            group_id: self.group_id,
            group: nonempty(&self.group),
        }))
    }

    fn mode(&self, default: u32) -> Result<u32, FileError> {
        if self.permissions.is_empty() {
            return Ok(default);
        }
        match u32::from_str_radix(&self.permissions, 8) {
            Ok(mode) if self.permissions.len() == 3 => Ok(mode),
            _ => Err(FileError::generic(format!(
                "permissions must be a 3-digit octal string, got {:?}",
                self.permissions
            ))),
        }
    }
}

/// One entry of a write request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub(crate) struct WriteItem {
    pub path: String,
    pub make_dirs: bool,
    #[serde(flatten)]
    pub owner: OwnerSpec,
}

/// One entry of a make-dirs request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub(crate) struct MakeDirItem {
    pub path: String,
    pub make_parents: bool,
    #[serde(flatten)]
    pub owner: OwnerSpec,
}

/// One entry of a remove request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RemoveItem {
    pub path: String,
    pub recursive: bool,
}

/// The container's filesystem (on a host directory or in memory) with
/// its recorded owners.
pub(crate) struct Fs<'a> {
    pub disk: Disk<'a>,
    pub owners: &'a mut BTreeMap<String, FileOwner>,
}

impl<'a> Fs<'a> {
    /// The filesystem of a fake Pebble whose host directory is `root`:
    /// its memory tree while it has one, `root` otherwise.
    pub fn of(root: &'a Path, state: &'a mut State) -> Self {
        let disk = match &mut state.memory {
            Some(tree) => Disk::Memory(tree),
            None => Disk::Host(root),
        };
        Self {
            disk,
            owners: &mut state.owners,
        }
    }
}

impl Fs<'_> {
    /// Reads a regular file.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, FileError> {
        let clean_path = clean(path).ok_or_else(|| not_absolute(path))?;
        let stat = self
            .disk
            .stat(&clean_path)
            .map_err(|e| os_error("stat", path, &e))?;
        if stat.kind != Kind::File {
            return Err(FileError::generic(format!(
                "can only read a regular file: {path:?}"
            )));
        }
        self.disk
            .read(&clean_path)
            .map_err(|e| os_error("open", path, &e))
    }

    /// Writes a file atomically (a temporary file renamed over the target).
    pub fn write(&mut self, item: &WriteItem, content: &[u8]) -> Result<(), FileError> {
        let clean_path = clean(&item.path).ok_or_else(|| not_absolute(&item.path))?;
        let owner = item.owner.owner()?;
        if item.make_dirs {
            self.mkdir_all(&parent(&clean_path), 0o755, owner.as_ref())
                .map_err(|e| FileError {
                    kind: e.kind,
                    message: format!("cannot create directory: {}", e.message),
                })?;
        }
        let mode = item.owner.mode(0o644)?;
        let temp_name = format!("{}.{}~", base(&clean_path), random_hex(9));
        let temp = format!("{}/{temp_name}", parent(&clean_path).trim_end_matches('/'));
        self.disk
            .write(&temp, content)
            .map_err(|e| os_error("open", &temp, &e))?;
        let finish = self
            .disk
            .set_mode(&temp, mode)
            .map_err(|e| os_error("chmod", &temp, &e))
            .and_then(|()| {
                self.disk
                    .rename(&temp, &clean_path)
                    .map_err(|e| os_error("rename", &format!("{temp} {clean_path}"), &e))
            });
        if finish.is_err() {
            let _ = self.disk.remove_file(&temp);
        }
        finish?;
        match owner {
            Some(owner) => self.owners.insert(clean_path, owner),
            None => self.owners.remove(&clean_path),
        };
        Ok(())
    }

    /// `make-dirs` for one directory.
    pub fn make_dir(&mut self, item: &MakeDirItem) -> Result<(), FileError> {
        let clean_path = clean(&item.path).ok_or_else(|| not_absolute(&item.path))?;
        let mode = item.owner.mode(0o755)?;
        let owner = item.owner.owner()?;
        if item.make_parents {
            return self.mkdir_all(&clean_path, mode, owner.as_ref());
        }
        match self.disk.stat(&clean_path) {
            Ok(stat) if stat.kind == Kind::Dir => Err(FileError::generic(format!(
                "mkdir {clean_path}: file exists"
            ))),
            Ok(_) => Err(FileError::generic(format!(
                "mkdir {clean_path}: not a directory"
            ))),
            Err(_) => self.mkdir_one(&clean_path, mode, owner.as_ref()),
        }
    }

    /// Creates `clean_path` and missing parents; an existing directory is fine.
    fn mkdir_all(
        &mut self,
        clean_path: &str,
        mode: u32,
        owner: Option<&FileOwner>,
    ) -> Result<(), FileError> {
        if let Ok(stat) = self.disk.stat(clean_path) {
            return if stat.kind == Kind::Dir {
                Ok(())
            } else {
                Err(FileError::generic(format!(
                    "mkdir {clean_path}: not a directory"
                )))
            };
        }
        let up = parent(clean_path);
        if up != "/" {
            self.mkdir_all(&up, mode, owner)?;
        }
        self.mkdir_one(clean_path, mode, owner)
    }

    fn mkdir_one(
        &mut self,
        clean_path: &str,
        mode: u32,
        owner: Option<&FileOwner>,
    ) -> Result<(), FileError> {
        self.disk
            .create_dir(clean_path, mode)
            .map_err(|e| os_error("mkdir", &format!("{clean_path}.mkdir-new"), &e))?;
        if let Some(owner) = owner {
            self.owners.insert(clean_path.to_string(), owner.clone());
        }
        Ok(())
    }

    /// `remove` for one path.
    pub fn remove(&mut self, item: &RemoveItem) -> Result<(), FileError> {
        let clean_path = clean(&item.path).ok_or_else(|| not_absolute(&item.path))?;
        let outcome = match self.disk.lstat(&clean_path) {
            Err(e) if item.recursive && e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(os_error("remove", &item.path, &e)),
            Ok(stat) if stat.kind == Kind::Dir && item.recursive => self
                .disk
                .remove_dir_all(&clean_path)
                .map_err(|e| os_error("unlinkat", &item.path, &e)),
            Ok(stat) if stat.kind == Kind::Dir => self
                .disk
                .remove_dir(&clean_path)
                .map_err(|e| os_error("remove", &item.path, &e)),
            Ok(_) => self
                .disk
                .remove_file(&clean_path)
                .map_err(|e| os_error("remove", &item.path, &e)),
        };
        if outcome.is_ok() {
            let prefix = format!("{}/", clean_path.trim_end_matches('/'));
            self.owners
                .retain(|p, _| *p != clean_path && !p.starts_with(&prefix));
        }
        outcome
    }

    /// `list`: the entries of a directory, or the path itself.
    pub fn list(&self, path: &str, pattern: &str, itself: bool) -> Result<Vec<Value>, FileError> {
        let clean_path = clean(path).ok_or_else(|| not_absolute(path))?;
        if !pattern.is_empty() && !valid_pattern(pattern) {
            return Err(FileError::generic("syntax error in pattern"));
        }
        let stat = self
            .disk
            .stat(&clean_path)
            .map_err(|e| os_error("stat", path, &e))?;
        let mut entries: Vec<(String, Stat)> = Vec::new();
        if stat.kind != Kind::Dir || itself {
            entries.push((clean_path.clone(), stat));
        } else {
            let names = self
                .disk
                .read_dir(&clean_path)
                .map_err(|e| os_error("open", path, &e))?;
            for name in names {
                let full = format!("{}/{name}", clean_path.trim_end_matches('/'));
                let stat = self
                    .disk
                    .lstat(&full)
                    .map_err(|e| os_error("lstat", &full, &e))?;
                entries.push((full, stat));
            }
        }
        Ok(entries
            .into_iter()
            .filter(|(full, _)| pattern.is_empty() || glob_match(pattern, base(full)))
            .map(|(full, stat)| self.info(&full, &stat))
            .collect())
    }

    fn info(&self, full: &str, stat: &Stat) -> Value {
        let type_ = match stat.kind {
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Symlink => "symlink",
            Kind::Socket => "socket",
            Kind::Fifo => "named-pipe",
            Kind::Device => "device",
            Kind::Unknown => "unknown",
        };
        let owner = self.owners.get(full);
        let user = owner.and_then(|o| o.user.clone());
        let group = owner.and_then(|o| o.group.clone());
        let user_id = owner
            .and_then(|o| o.user_id)
            .or_else(|| {
                user.as_deref()
                    .and_then(|u| self.lookup("passwd", |f| f[0] == u, 2)?.parse().ok())
            })
            .unwrap_or(stat.uid);
        let group_id = owner
            .and_then(|o| o.group_id)
            .or_else(|| {
                group
                    .as_deref()
                    .and_then(|g| self.lookup("group", |f| f[0] == g, 2)?.parse().ok())
            })
            .unwrap_or(stat.gid);
        let user = user.unwrap_or_else(|| {
            self.lookup("passwd", |f| f[2] == user_id.to_string(), 0)
                .unwrap_or_default()
        });
        let group = group.unwrap_or_else(|| {
            self.lookup("group", |f| f[2] == group_id.to_string(), 0)
                .unwrap_or_default()
        });
        let mut info = json!({
            "path": full,
            "name": base(full),
            "type": type_,
            "permissions": format!("{:03o}", stat.mode & 0o777),
            "last-modified": rfc3339(stat.modified, false),
            "user-id": user_id,
            "user": user,
            "group-id": group_id,
            "group": group,
        });
        if stat.kind == Kind::File {
            info["size"] = stat.len.into();
        }
        info
    }

    /// A field of the first `/etc/<file>` line (the container's, then the
    /// host's) whose fields satisfy `matches`.
    fn lookup(
        &self,
        file: &str,
        matches: impl Fn(&[&str]) -> bool,
        field: usize,
    ) -> Option<String> {
        let in_container = self.disk.read(&format!("/etc/{file}")).ok();
        let on_host = fs::read(Path::new("/etc").join(file)).ok();
        [in_container, on_host]
            .into_iter()
            .flatten()
            .find_map(|bytes| {
                String::from_utf8_lossy(&bytes).lines().find_map(|line| {
                    let fields: Vec<&str> = line.split(':').collect();
                    (fields.len() > 2 && matches(&fields)).then(|| fields[field].to_string())
                })
            })
    }
}

/// Whether a Go `path.Match` pattern is well formed.
fn valid_pattern(pattern: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return false;
                }
                i += 2;
            }
            '[' => match class_end(&p, i) {
                Some(end) => i = end,
                None => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// Parses a `[...]` class at `start`: the index after it, or `None` if malformed.
fn class_end(p: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if p.get(i) == Some(&'^') {
        i += 1;
    }
    let mut ranges = 0;
    loop {
        match p.get(i)? {
            ']' if ranges > 0 => return Some(i + 1),
            _ => {
                i = class_char(p, i)?.1;
                if p.get(i) == Some(&'-') {
                    i = class_char(p, i + 1)?.1;
                }
                ranges += 1;
            }
        }
    }
}

/// One (possibly escaped) character of a class: it and the index after it.
fn class_char(p: &[char], i: usize) -> Option<(char, usize)> {
    match *p.get(i)? {
        '-' | ']' => None,
        '\\' => Some((*p.get(i + 1)?, i + 2)),
        c => Some((c, i + 1)),
    }
}

/// Go's `path.Match` for a well-formed pattern against one name.
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    matches_at(&p, &s)
}

fn matches_at(p: &[char], s: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return s.is_empty();
    };
    match first {
        '*' => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != '/')
            .any(|i| matches_at(&p[1..], &s[i..])),
        '?' => !s.is_empty() && s[0] != '/' && matches_at(&p[1..], &s[1..]),
        '[' => {
            let Some(end) = class_end(p, 0) else {
                return false;
            };
            let Some(&c) = s.first() else { return false };
            let negated = p.get(1) == Some(&'^');
            let mut i = if negated { 2 } else { 1 };
            let mut hit = false;
            while i < end - 1 {
                let Some((lo, next)) = class_char(p, i) else {
                    return false;
                };
                let (hi, next) = if p.get(next) == Some(&'-') {
                    match class_char(p, next + 1) {
                        Some(x) => x,
                        None => return false,
                    }
                } else {
                    (lo, next)
                };
                hit |= lo <= c && c <= hi;
                i = next;
            }
            hit != negated && matches_at(&p[end..], &s[1..])
        }
        '\\' => p.len() > 1 && !s.is_empty() && s[0] == p[1] && matches_at(&p[2..], &s[1..]),
        c => !s.is_empty() && s[0] == c && matches_at(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_clean_like_go() {
        assert_eq!(clean("/a//b/./c/../d/").as_deref(), Some("/a/b/d"));
        assert_eq!(clean("/../..").as_deref(), Some("/"));
        assert_eq!(clean("rel/x"), None);
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(base("/a/b"), "b");
        assert_eq!(base("/"), "/");
    }

    #[test]
    fn go_glob_semantics() {
        assert!(glob_match("*.conf", "pgbouncer.conf"));
        assert!(!glob_match("*.conf", "pgbouncer.ini"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("*", "a/b"));
        for bad in ["[", "[]", "[a-", "\\", "x[-a]"] {
            assert!(!valid_pattern(bad), "{bad:?}");
        }
        assert!(valid_pattern("[\\]]*"));
        assert!(glob_match("[\\]]*", "]x"));
    }

    #[test]
    fn os_errors_read_like_go() {
        let e = os_error("stat", "/x", &io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(
            e,
            FileError {
                kind: "not-found",
                message: "stat /x: no such file or directory".into()
            }
        );
        assert_eq!(e.status(), 404);
        let e = os_error("open", "/x", &io::Error::from_raw_os_error(13));
        assert_eq!(e.kind, "permission-denied");
        assert_eq!(e.status(), 403);
        let e = os_error("remove", "/d", &io::Error::from_raw_os_error(39));
        assert_eq!(e.message, "remove /d: directory not empty");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn owners_need_a_user_for_a_group() {
        let spec = OwnerSpec {
            group: "g".into(),
            ..Default::default()
        };
        assert!(
            spec.owner()
                .unwrap_err()
                .message
                .contains("must specify user, not just group")
        );
        let spec = OwnerSpec {
            user: "u".into(),
            group_id: Some(5),
            permissions: "640".into(),
            ..Default::default()
        };
        let owner = spec.owner().unwrap().unwrap();
        assert_eq!(owner.user.as_deref(), Some("u"));
        assert_eq!(owner.group_id, Some(5));
        assert_eq!(spec.mode(0o644).unwrap(), 0o640);
        let bad = OwnerSpec {
            permissions: "0640".into(),
            ..Default::default()
        };
        assert!(bad.mode(0o644).is_err());
    }
}
