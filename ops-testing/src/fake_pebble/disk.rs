//! Where a fake Pebble keeps its container's files: in a host directory
//! (the container's `/etc/x` is `<root>/etc/x`), or in memory until a test
//! asks for them on the host.
//!
//! Both answer the same few system calls with the same `io::Error` kinds
//! (missing, not a directory, is a directory, exists, not empty), so the
//! file API above them ([`super::files::Fs`]) has one set of rules and one
//! set of error messages, whichever holds the files. In-process tests
//! (the Harness and `Context`) start in memory: no directory per
//! container, no file written or removed on a disk, unless a test asks
//! for the host path ([`super::FakePebble::root`]), mounts a host
//! directory or runs a command on the host; then the tree is written out
//! once and the host directory holds the files from there on.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, ErrorKind};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What kind of thing is at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    Socket,
    Fifo,
    Device,
    Unknown,
}

/// What the file API needs to know of a path.
#[derive(Debug, Clone)]
pub(crate) struct Stat {
    pub kind: Kind,
    /// Permission bits (and set-id and sticky bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub modified: SystemTime,
    pub len: u64,
}

impl Stat {
    fn of(meta: &fs::Metadata) -> Self {
        let kind = meta.file_type();
        let kind = if kind.is_file() {
            Kind::File
        } else if kind.is_dir() {
            Kind::Dir
        } else if kind.is_symlink() {
            Kind::Symlink
        } else if kind.is_socket() {
            Kind::Socket
        } else if kind.is_fifo() {
            Kind::Fifo
        } else if kind.is_block_device() || kind.is_char_device() {
            Kind::Device
        } else {
            Kind::Unknown
        };
        Self {
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            len: meta.len(),
        }
    }
}

/// One file or directory held in memory.
#[derive(Clone)]
struct Node {
    /// The content of a file; `None` for a directory.
    content: Option<Vec<u8>>,
    mode: u32,
    modified: SystemTime,
}

/// A container's files in memory, by cleaned container path; `/` is
/// always there. Everything belongs to the user running the fake, as a
/// host directory's files would.
#[derive(Clone)]
pub(crate) struct MemoryTree {
    nodes: BTreeMap<String, Node>,
    uid: u32,
    gid: u32,
}

impl std::fmt::Debug for MemoryTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Paths only: a container's files may be secrets.
        f.debug_struct("MemoryTree")
            .field("paths", &self.nodes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for MemoryTree {
    fn default() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "/".to_string(),
            Node {
                content: None,
                mode: 0o755,
                modified: SystemTime::now(),
            },
        );
        Self {
            nodes,
            uid: rustix::process::getuid().as_raw(),
            gid: rustix::process::getgid().as_raw(),
        }
    }
}

/// The parent of a cleaned path (`/` for `/` itself).
pub(crate) fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The paths strictly under the directory `dir` start with this.
fn children_prefix(dir: &str) -> String {
    format!("{}/", dir.trim_end_matches('/'))
}

impl MemoryTree {
    fn node(&self, path: &str) -> io::Result<&Node> {
        if let Some(node) = self.nodes.get(path) {
            return Ok(node);
        }
        // A path through a file is "not a directory", as the kernel says.
        let mut up = parent_of(path);
        loop {
            match self.nodes.get(up) {
                Some(node) if node.content.is_some() => {
                    return Err(ErrorKind::NotADirectory.into());
                }
                Some(_) => return Err(ErrorKind::NotFound.into()),
                None if up == "/" => return Err(ErrorKind::NotFound.into()),
                None => up = parent_of(up),
            }
        }
    }

    /// Fails unless `path`'s parent is a directory.
    fn parent_is_dir(&self, path: &str) -> io::Result<()> {
        match self.node(parent_of(path))?.content {
            None => Ok(()),
            Some(_) => Err(ErrorKind::NotADirectory.into()),
        }
    }

    fn stat(&self, path: &str) -> io::Result<Stat> {
        let node = self.node(path)?;
        Ok(Stat {
            kind: if node.content.is_some() {
                Kind::File
            } else {
                Kind::Dir
            },
            mode: node.mode,
            uid: self.uid,
            gid: self.gid,
            modified: node.modified,
            len: node.content.as_ref().map_or(4096, |c| c.len() as u64),
        })
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        match &self.node(path)?.content {
            Some(content) => Ok(content.clone()),
            None => Err(ErrorKind::IsADirectory.into()),
        }
    }

    /// Creates or truncates a file (a new one as `umask 022` makes it; the
    /// caller sets the mode it wants).
    fn write(&mut self, path: &str, content: &[u8]) -> io::Result<()> {
        match self.node(path) {
            Ok(node) if node.content.is_none() => return Err(ErrorKind::IsADirectory.into()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => self.parent_is_dir(path)?,
            Err(e) => return Err(e),
        }
        let mode = self.nodes.get(path).map_or(0o644, |n| n.mode);
        self.nodes.insert(
            path.to_string(),
            Node {
                content: Some(content.to_vec()),
                mode,
                modified: SystemTime::now(),
            },
        );
        Ok(())
    }

    fn set_mode(&mut self, path: &str, mode: u32) -> io::Result<()> {
        self.node(path)?;
        if let Some(node) = self.nodes.get_mut(path) {
            node.mode = mode & 0o7777;
        }
        Ok(())
    }

    /// `rename(2)`: a file over a file, or a directory (and everything
    /// under it) over an empty directory or nothing.
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        // The kernel resolves both parents before it looks at either entry.
        self.parent_is_dir(from)?;
        self.parent_is_dir(to)?;
        let moving_dir = self.node(from)?.content.is_none();
        if from == to {
            // rename(2) of a path onto itself does nothing.
            return Ok(());
        }
        if moving_dir && to.starts_with(&children_prefix(from)) {
            // Into itself: refused before the target is looked at.
            return Err(ErrorKind::InvalidInput.into());
        }
        if from.starts_with(&children_prefix(to)) {
            // Onto a directory above it, which holds it: not empty.
            return Err(ErrorKind::DirectoryNotEmpty.into());
        }
        match self.node(to) {
            Ok(target) => match (moving_dir, target.content.is_none()) {
                (false, true) => return Err(ErrorKind::IsADirectory.into()),
                (true, false) => return Err(ErrorKind::NotADirectory.into()),
                (true, true) if self.has_children(to) => {
                    return Err(ErrorKind::DirectoryNotEmpty.into());
                }
                _ => {}
            },
            Err(e) if e.kind() == ErrorKind::NotFound => self.parent_is_dir(to)?,
            Err(e) => return Err(e),
        }
        let prefix = children_prefix(from);
        let moved: Vec<String> = self
            .nodes
            .keys()
            .filter(|p| *p == from || p.starts_with(&prefix))
            .cloned()
            .collect();
        self.nodes.remove(to);
        for old in moved {
            if let Some(node) = self.nodes.remove(&old) {
                self.nodes
                    .insert(format!("{to}{}", &old[from.len()..]), node);
            }
        }
        Ok(())
    }

    fn has_children(&self, dir: &str) -> bool {
        let prefix = children_prefix(dir);
        // `/`'s prefix is itself.
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .any(|(p, _)| p != dir)
    }

    fn create_dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        match self.node(path) {
            Ok(_) => return Err(ErrorKind::AlreadyExists.into()),
            Err(e) if e.kind() == ErrorKind::NotFound => self.parent_is_dir(path)?,
            Err(e) => return Err(e),
        }
        self.nodes.insert(
            path.to_string(),
            Node {
                content: None,
                mode,
                modified: SystemTime::now(),
            },
        );
        self.touch(parent_of(path));
        Ok(())
    }

    /// A directory's modification time moves when an entry is added or
    /// removed, as on a disk.
    fn touch(&mut self, dir: &str) {
        if let Some(node) = self.nodes.get_mut(dir) {
            node.modified = SystemTime::now();
        }
    }

    fn remove_file(&mut self, path: &str) -> io::Result<()> {
        if self.node(path)?.content.is_none() {
            return Err(ErrorKind::IsADirectory.into());
        }
        self.nodes.remove(path);
        self.touch(parent_of(path));
        Ok(())
    }

    fn remove_dir(&mut self, path: &str) -> io::Result<()> {
        if self.node(path)?.content.is_some() {
            return Err(ErrorKind::NotADirectory.into());
        }
        if path == "/" {
            return Err(ErrorKind::ResourceBusy.into());
        }
        if self.has_children(path) {
            return Err(ErrorKind::DirectoryNotEmpty.into());
        }
        self.nodes.remove(path);
        self.touch(parent_of(path));
        Ok(())
    }

    fn remove_dir_all(&mut self, path: &str) -> io::Result<()> {
        if self.node(path)?.content.is_some() {
            return Err(ErrorKind::NotADirectory.into());
        }
        let prefix = children_prefix(path);
        self.nodes
            .retain(|p, _| p == "/" || (p != path && !p.starts_with(&prefix)));
        self.touch(parent_of(path));
        Ok(())
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        if self.node(path)?.content.is_some() {
            return Err(ErrorKind::NotADirectory.into());
        }
        let prefix = children_prefix(path);
        Ok(self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| &p[prefix.len()..])
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_string)
            .collect())
    }

    /// Writes the tree under `root` (created if missing), modes and
    /// files' modification times included. Directories get their modes
    /// last, deepest first, so that one without write permission still
    /// gets its entries.
    pub fn write_out(&self, root: &Path) -> io::Result<()> {
        fs::create_dir_all(root)?;
        for (path, node) in &self.nodes {
            let host = host_path(root, path);
            match &node.content {
                None => fs::create_dir_all(&host)?,
                Some(content) => {
                    fs::write(&host, content)?;
                    fs::set_permissions(&host, fs::Permissions::from_mode(node.mode))?;
                    fs::File::options()
                        .write(true)
                        .open(&host)
                        .and_then(|f| f.set_modified(node.modified))
                        .or_else(|e| match e.kind() {
                            // A file its owner may not write keeps the
                            // time it was written out at.
                            ErrorKind::PermissionDenied => Ok(()),
                            _ => Err(e),
                        })?;
                }
            }
        }
        for (path, node) in self.nodes.iter().rev() {
            if node.content.is_none() && path != "/" {
                let host = host_path(root, path);
                fs::set_permissions(&host, fs::Permissions::from_mode(node.mode))?;
            }
        }
        Ok(())
    }

    /// Every file and every empty directory.
    fn contents(&self) -> Contents {
        let mut contents = Contents::default();
        for (path, node) in &self.nodes {
            match &node.content {
                Some(content) => contents
                    .files
                    .push((path.clone(), content.clone(), node.mode)),
                None if path != "/" && !self.has_children(path) => {
                    contents.empty_dirs.push(path.clone());
                }
                None => {}
            }
        }
        contents
    }
}

/// What a container holds: each file (its path, content and mode) and
/// each empty directory (a directory with something in it is implied).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Contents {
    pub files: Vec<(String, Vec<u8>, u32)>,
    pub empty_dirs: Vec<String>,
}

/// The files and empty directories under a host directory, by container
/// path; links (a mounted host directory) are not followed.
fn host_contents(root: &Path) -> io::Result<Contents> {
    let mut contents = Contents::default();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let name = format!("/{}", relative.display());
            let meta = fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                if fs::read_dir(&path)?.next().is_none() {
                    contents.empty_dirs.push(name);
                }
                pending.push(path);
            } else if meta.is_file() {
                // Mode first: the charm may have made a file unreadable to
                // its owner (0o000), which the test still wants to see.
                let mode = meta.permissions().mode() & 0o7777;
                if mode & 0o400 == 0 {
                    fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o400))?;
                }
                contents.files.push((name, fs::read(&path)?, mode));
            }
        }
    }
    contents.files.sort();
    contents.empty_dirs.sort();
    Ok(contents)
}

/// The host path of a cleaned container path.
pub(crate) fn host_path(root: &Path, clean_path: &str) -> PathBuf {
    root.join(clean_path.trim_start_matches('/'))
}

/// The system calls the file API makes, on a host directory or in memory.
/// Paths are cleaned container paths.
pub(crate) enum Disk<'a> {
    Host(&'a Path),
    Memory(&'a mut MemoryTree),
}

impl Disk<'_> {
    /// `stat(2)` (links followed).
    pub fn stat(&self, path: &str) -> io::Result<Stat> {
        match self {
            Disk::Host(root) => fs::metadata(host_path(root, path)).map(|m| Stat::of(&m)),
            Disk::Memory(tree) => tree.stat(path),
        }
    }

    /// `lstat(2)` (a link is itself; memory holds none).
    pub fn lstat(&self, path: &str) -> io::Result<Stat> {
        match self {
            Disk::Host(root) => fs::symlink_metadata(host_path(root, path)).map(|m| Stat::of(&m)),
            Disk::Memory(tree) => tree.stat(path),
        }
    }

    pub fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        match self {
            Disk::Host(root) => fs::read(host_path(root, path)),
            Disk::Memory(tree) => tree.read(path),
        }
    }

    /// Creates or truncates a file (the caller sets its mode).
    pub fn write(&mut self, path: &str, content: &[u8]) -> io::Result<()> {
        match self {
            Disk::Host(root) => fs::write(host_path(root, path), content),
            Disk::Memory(tree) => tree.write(path, content),
        }
    }

    pub fn set_mode(&mut self, path: &str, mode: u32) -> io::Result<()> {
        match self {
            Disk::Host(root) => {
                fs::set_permissions(host_path(root, path), fs::Permissions::from_mode(mode))
            }
            Disk::Memory(tree) => tree.set_mode(path, mode),
        }
    }

    pub fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        match self {
            Disk::Host(root) => fs::rename(host_path(root, from), host_path(root, to)),
            Disk::Memory(tree) => tree.rename(from, to),
        }
    }

    /// `mkdir(2)` with `mode` applied as given (no umask).
    pub fn create_dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        match self {
            Disk::Host(root) => {
                let host = host_path(root, path);
                fs::create_dir(&host)?;
                fs::set_permissions(&host, fs::Permissions::from_mode(mode))
            }
            Disk::Memory(tree) => tree.create_dir(path, mode),
        }
    }

    pub fn remove_file(&mut self, path: &str) -> io::Result<()> {
        match self {
            Disk::Host(root) => fs::remove_file(host_path(root, path)),
            Disk::Memory(tree) => tree.remove_file(path),
        }
    }

    pub fn remove_dir(&mut self, path: &str) -> io::Result<()> {
        match self {
            Disk::Host(root) => fs::remove_dir(host_path(root, path)),
            Disk::Memory(tree) => tree.remove_dir(path),
        }
    }

    pub fn remove_dir_all(&mut self, path: &str) -> io::Result<()> {
        match self {
            Disk::Host(root) => fs::remove_dir_all(host_path(root, path)),
            Disk::Memory(tree) => tree.remove_dir_all(path),
        }
    }

    /// Every file and empty directory.
    pub fn contents(&self) -> io::Result<Contents> {
        match self {
            Disk::Host(root) => host_contents(root),
            Disk::Memory(tree) => Ok(tree.contents()),
        }
    }

    /// The names in a directory, sorted.
    pub fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        match self {
            Disk::Host(root) => {
                let mut names: Vec<String> = fs::read_dir(host_path(root, path))?
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                Ok(names)
            }
            Disk::Memory(tree) => tree.read_dir(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same calls on a host directory and in memory, and what each
    /// answered: the two must agree.
    fn both(script: impl Fn(&mut Disk<'_>) -> Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let on_host = script(&mut Disk::Host(dir.path()));
        let mut tree = MemoryTree::default();
        let in_memory = script(&mut Disk::Memory(&mut tree));
        assert_eq!(in_memory, on_host);
    }

    fn outcome<T: std::fmt::Debug>(result: io::Result<T>) -> String {
        match result {
            Ok(value) => format!("ok {value:?}"),
            Err(e) => format!("{:?}", e.kind()),
        }
    }

    #[test]
    fn memory_answers_as_a_host_directory_does() {
        both(|disk| {
            vec![
                outcome(disk.create_dir("/etc", 0o755)),
                outcome(disk.create_dir("/etc", 0o755)),
                outcome(disk.create_dir("/missing/dir", 0o755)),
                outcome(disk.write("/etc/a.conf", b"one")),
                outcome(disk.write("/etc/a.conf", b"two")),
                outcome(disk.read("/etc/a.conf")),
                outcome(disk.stat("/etc/a.conf").map(|s| (s.kind, s.len))),
                outcome(disk.stat("/etc").map(|s| (s.kind, s.mode))),
                outcome(disk.read("/etc")),
                outcome(disk.read("/etc/a.conf/x")),
                outcome(disk.write("/etc/a.conf/x", b"")),
                outcome(disk.write("/etc", b"")),
                outcome(disk.write("/nowhere/x", b"")),
                outcome(disk.create_dir("/etc/a.conf/d", 0o755)),
                outcome(disk.create_dir("/etc/sub", 0o700)),
                outcome(disk.write("/etc/sub/b", b"b")),
                outcome(disk.read_dir("/etc")),
                outcome(disk.read_dir("/etc/a.conf")),
                outcome(disk.read_dir("/none")),
                outcome(disk.remove_dir("/etc/sub")),
                outcome(disk.remove_file("/etc/sub")),
                outcome(disk.remove_dir("/etc/a.conf")),
                outcome(disk.rename("/etc/a.conf", "/etc/sub")),
                outcome(disk.rename("/etc/a.conf", "/etc/c.conf")),
                outcome(disk.read("/etc/a.conf")),
                outcome(disk.read("/etc/c.conf")),
                outcome(disk.rename("/etc/sub", "/etc/moved")),
                outcome(disk.read("/etc/moved/b")),
                outcome(disk.set_mode("/etc/c.conf", 0o400)),
                outcome(disk.stat("/etc/c.conf").map(|s| s.mode)),
                outcome(disk.set_mode("/etc/none", 0o400)),
                outcome(disk.remove_file("/etc/none")),
                outcome(disk.remove_dir_all("/etc/moved")),
                outcome(disk.read_dir("/etc")),
                outcome(disk.remove_file("/etc/c.conf")),
                outcome(disk.remove_dir("/etc")),
                outcome(disk.read_dir("/")),
            ]
        });
    }

    /// One system call of a random script.
    #[derive(Debug, Clone)]
    enum Call {
        Stat(&'static str),
        Read(&'static str),
        Write(&'static str, Vec<u8>),
        SetMode(&'static str, u32),
        Rename(&'static str, &'static str),
        CreateDir(&'static str),
        RemoveFile(&'static str),
        RemoveDir(&'static str),
        RemoveDirAll(&'static str),
        ReadDir(&'static str),
    }

    fn call() -> impl proptest::strategy::Strategy<Value = Call> {
        use proptest::prelude::*;
        let path = proptest::sample::select(vec![
            "/a", "/a/b", "/a/b/c", "/a/c", "/b", "/b/a", "/b/a/b", "/c",
        ]);
        // Modes that keep the owner's rwx: a user other than root could
        // not look into a directory without them, in memory it could.
        let mode = proptest::sample::select(vec![0o700, 0o755, 0o750, 0o777]);
        prop_oneof![
            path.clone().prop_map(Call::Stat),
            path.clone().prop_map(Call::Read),
            (path.clone(), proptest::collection::vec(any::<u8>(), 0..4))
                .prop_map(|(p, c)| Call::Write(p, c)),
            (path.clone(), mode).prop_map(|(p, m)| Call::SetMode(p, m)),
            (path.clone(), path.clone()).prop_map(|(a, b)| Call::Rename(a, b)),
            path.clone().prop_map(Call::CreateDir),
            path.clone().prop_map(Call::RemoveFile),
            path.clone().prop_map(Call::RemoveDir),
            path.clone().prop_map(Call::RemoveDirAll),
            path.prop_map(Call::ReadDir),
        ]
    }

    fn run(disk: &mut Disk<'_>, calls: &[Call]) -> Vec<String> {
        let mut answers: Vec<String> = calls
            .iter()
            .map(|call| match call {
                // The owner's bits only: a new file's others are the umask's;
                // a file's size only: a directory's is the filesystem's own
                // (4096 on ext4, 40 on tmpfs), and Pebble does not report it.
                Call::Stat(p) => outcome(disk.stat(p).map(|s| {
                    let size = (s.kind == Kind::File).then_some(s.len);
                    (s.kind, s.mode & 0o700, size)
                })),
                Call::Read(p) => outcome(disk.read(p)),
                Call::Write(p, c) => outcome(disk.write(p, c)),
                Call::SetMode(p, m) => outcome(disk.set_mode(p, *m)),
                Call::Rename(a, b) => outcome(disk.rename(a, b)),
                Call::CreateDir(p) => outcome(disk.create_dir(p, 0o755)),
                Call::RemoveFile(p) => outcome(disk.remove_file(p)),
                Call::RemoveDir(p) => outcome(disk.remove_dir(p)),
                Call::RemoveDirAll(p) => outcome(disk.remove_dir_all(p)),
                Call::ReadDir(p) => outcome(disk.read_dir(p)),
            })
            .collect();
        answers.push(format!("{:?}", disk.contents()));
        answers
    }

    proptest::proptest! {
        /// Any script of calls answers the same, call by call, on a host
        /// directory and in memory, and leaves the same files.
        #[test]
        fn prop_memory_agrees_with_a_host_directory(
            calls in proptest::collection::vec(call(), 1..24)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let on_host = run(&mut Disk::Host(dir.path()), &calls);
            let mut tree = MemoryTree::default();
            let in_memory = run(&mut Disk::Memory(&mut tree), &calls);
            proptest::prop_assert_eq!(in_memory, on_host);
        }
    }

    /// The three orders `prop_memory_agrees_with_a_host_directory` found
    /// wrong, kept by name: both parents are resolved before either entry,
    /// a directory moved into itself is refused before the target is
    /// looked at, and a target above the source is not empty.
    #[test]
    fn renames_check_what_the_kernel_checks_first() {
        both(|disk| {
            vec![
                outcome(disk.write("/a", b"")),
                outcome(disk.rename("/c", "/a/b")),
            ]
        });
        both(|disk| {
            vec![
                outcome(disk.create_dir("/a", 0o755)),
                outcome(disk.write("/a/b", b"")),
                outcome(disk.rename("/a", "/a/b")),
            ]
        });
        both(|disk| {
            vec![
                outcome(disk.create_dir("/b", 0o755)),
                outcome(disk.write("/b/a", b"")),
                outcome(disk.rename("/b/a", "/b")),
            ]
        });
    }

    #[test]
    fn a_tree_written_out_is_the_same_tree() {
        let mut tree = MemoryTree::default();
        let mut disk = Disk::Memory(&mut tree);
        disk.create_dir("/etc", 0o755).unwrap();
        disk.create_dir("/etc/locked", 0o500).unwrap();
        disk.write("/etc/secret", b"s").unwrap();
        disk.set_mode("/etc/secret", 0o400).unwrap();
        disk.create_dir("/var", 0o755).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        tree.write_out(&root).unwrap();
        let host = Disk::Host(&root);
        assert_eq!(host.read("/etc/secret").unwrap(), b"s");
        assert_eq!(host.stat("/etc/secret").unwrap().mode, 0o400);
        assert_eq!(host.stat("/etc/locked").unwrap().mode, 0o500);
        assert_eq!(host.read_dir("/").unwrap(), ["etc", "var"]);
        let contents = tree.contents();
        assert_eq!(
            contents.files,
            [("/etc/secret".to_string(), b"s".to_vec(), 0o400)]
        );
        assert_eq!(contents.empty_dirs, ["/etc/locked", "/var"]);
        assert_eq!(host.contents().unwrap(), contents);
        fs::set_permissions(root.join("etc/locked"), fs::Permissions::from_mode(0o755)).unwrap();
    }
}
