//! Files a host's applications read and write: the zone a DNS server
//! serves, the documents of an HTTP server, what `curl -o` saves.
//!
//! In the simulator every host has its own in-memory file system
//! ([`MemFs`]), filled from the scenario's `[[file]]` entries; the TUN
//! runtime gives its host the real one. Applications see only the
//! [`FileSystem`] trait, so the same code runs on both.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::rc::Rc;

/// What a host's applications may do with files.
pub trait FileSystem {
    /// The whole content of a file.
    fn read(&self, path: &str) -> io::Result<Rc<[u8]>>;
    /// The first `limit` bytes of a file at most (a key file named by
    /// mistake as /dev/zero or a huge file is not read whole).
    fn read_prefix(&self, path: &str, limit: usize) -> io::Result<Vec<u8>> {
        self.read(path).map(|b| b[..b.len().min(limit)].to_vec())
    }
    /// Create or replace a file.
    fn write(&self, path: &str, data: &[u8]) -> io::Result<()>;
    /// Add `data` to the end of a file, making it if it is not there
    /// (`open(2)` with `O_APPEND | O_CREAT`): a writer that adds as it goes
    /// (`tcpdump -w`) holds only what it has not yet written.
    fn append(&self, path: &str, data: &[u8]) -> io::Result<()>;
    /// Create or replace a file only its owner may read (mode 0600, as
    /// openssl writes private keys).
    fn write_private(&self, path: &str, data: &[u8]) -> io::Result<()> {
        self.write(path, data)
    }
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &str) -> bool;
    /// Paths of the files below directory `path`, at any depth, sorted.
    fn list(&self, path: &str) -> Vec<String>;
}

/// Make `path` absolute and clean (`/a/./b/../c` → `/a/c`), relative to `/`.
/// `None` if it climbs above the root.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// An in-memory file system: a map from absolute paths to contents.
/// Directories are those of a fresh Debian host that applications write
/// into (`/tmp`, `/etc/ssl`, `/srv`, ...), those the scenario's files were
/// created in, and any with a file below; an application writing into any
/// other fails as `open(2)` does (ENOENT).
#[derive(Debug)]
pub struct MemFs {
    files: RefCell<BTreeMap<String, Content>>,
    dirs: RefCell<BTreeSet<String>>,
    disk: Rc<Disk>,
}

/// A file's bytes: shared with its readers, or (while a writer appends to
/// it) growing in place. A read of a growing file makes it shared again
/// (one copy); an append to a shared one makes it growing (one copy).
#[derive(Debug)]
enum Content {
    Shared(Rc<[u8]>),
    Growing(Vec<u8>),
}

impl Content {
    fn len(&self) -> usize {
        match self {
            Content::Shared(b) => b.len(),
            Content::Growing(v) => v.len(),
        }
    }
}

/// The space the files of one or more [`MemFs`] share: memory, so it is
/// bounded — a write that would pass the capacity fails as a full disk
/// does (ENOSPC), whatever a scenario's tools do (copy a big file again
/// and again, capture a long transfer). It counts the bytes files hold;
/// the memory behind them is within a small factor of it (a file growing
/// in place keeps room to grow, a reader's copy of a file still being
/// written lives beside it).
#[derive(Debug)]
pub struct Disk {
    capacity: u64,
    used: Cell<u64>,
}

impl Disk {
    /// A disk of `capacity` bytes, empty.
    pub fn new(capacity: u64) -> Disk {
        Disk {
            capacity,
            used: Cell::new(0),
        }
    }

    /// The bytes its files hold now.
    pub fn used(&self) -> u64 {
        self.used.get()
    }
}

/// A host's disk when nothing else is said: 1 GiB.
pub const DEFAULT_DISK: u64 = 1 << 30;

/// Whether `path` (normalized) is one of the directories every host
/// starts with, which no file can replace.
pub fn is_skeleton_dir(path: &str) -> bool {
    SKELETON.contains(&path)
}

/// The directories every simulated host starts with.
const SKELETON: &[&str] = &[
    "/dev",
    "/etc",
    "/etc/ssl",
    "/etc/ssl/certs",
    "/etc/ssl/private",
    "/home",
    "/root",
    "/run",
    "/srv",
    "/tmp",
    "/usr",
    "/usr/share",
    "/var",
    "/var/log",
    "/var/run",
    "/var/tmp",
    "/var/www",
];

impl Default for MemFs {
    fn default() -> MemFs {
        MemFs::on(Rc::new(Disk::new(DEFAULT_DISK)))
    }
}

impl MemFs {
    pub fn new() -> MemFs {
        MemFs::default()
    }

    /// A file system whose files take their space from `disk` (which
    /// several may share).
    pub fn on(disk: Rc<Disk>) -> MemFs {
        MemFs {
            files: RefCell::default(),
            dirs: RefCell::new(SKELETON.iter().map(|d| d.to_string()).collect()),
            disk,
        }
    }

    /// Create a file and every directory above it (`mkdir -p`, then
    /// write): how a scenario's `[[file]]` entries are made.
    pub fn create(&self, path: &str, data: impl Into<Rc<[u8]>>) -> io::Result<()> {
        let p = normalize(path).ok_or_else(|| not_found(path))?;
        let mut at = 0;
        while let Some(i) = p[at + 1..].find('/') {
            at += 1 + i;
            if self.files.borrow().contains_key(&p[..at]) {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{path}: Not a directory"),
                ));
            }
            self.dirs.borrow_mut().insert(p[..at].to_string());
        }
        let data: Rc<[u8]> = data.into();
        self.store(path, data.len(), || data)
    }

    /// Paths of all files, in order.
    pub fn paths(&self) -> Vec<String> {
        self.files.borrow().keys().cloned().collect()
    }
}

fn no_space(path: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        format!("{path}: No space left on device"),
    )
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{path}: No such file or directory"),
    )
}

impl FileSystem for MemFs {
    fn read(&self, path: &str) -> io::Result<Rc<[u8]>> {
        let p = normalize(path).ok_or_else(|| not_found(path))?;
        if self.is_dir(&p) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{path}: Is a directory"),
            ));
        }
        let mut files = self.files.borrow_mut();
        let file = files.get_mut(&p).ok_or_else(|| not_found(path))?;
        Ok(match file {
            Content::Shared(b) => b.clone(),
            Content::Growing(v) => {
                let b: Rc<[u8]> = Rc::from(std::mem::take(v));
                *file = Content::Shared(b.clone());
                b
            }
        })
    }

    fn write(&self, path: &str, data: &[u8]) -> io::Result<()> {
        self.store(path, data.len(), || Rc::from(data))
    }

    fn append(&self, path: &str, data: &[u8]) -> io::Result<()> {
        let p = normalize(path).ok_or_else(|| not_found(path))?;
        let mut files = self.files.borrow_mut();
        let Some(file) = files.get_mut(&p) else {
            drop(files);
            return self.write(path, data);
        };
        let used = self.disk.used.get() + data.len() as u64;
        if used > self.disk.capacity {
            return Err(no_space(path));
        }
        self.disk.used.set(used);
        match file {
            Content::Growing(v) => v.extend_from_slice(data),
            Content::Shared(b) => {
                let mut v = Vec::with_capacity(b.len() + data.len());
                v.extend_from_slice(b);
                v.extend_from_slice(data);
                *file = Content::Growing(v);
            }
        }
        Ok(())
    }

    fn list(&self, path: &str) -> Vec<String> {
        let Some(p) = normalize(path) else {
            return Vec::new();
        };
        let prefix = if p == "/" { p } else { format!("{p}/") };
        self.files
            .borrow()
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn is_dir(&self, path: &str) -> bool {
        let Some(p) = normalize(path) else {
            return false;
        };
        if p == "/" || self.dirs.borrow().contains(&p) {
            return true;
        }
        let prefix = format!("{p}/");
        self.files
            .borrow()
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    }
}

impl MemFs {
    /// Make the file at `path` hold the `len` bytes `data` gives — asked
    /// for only once the path and the space are found good, so a write
    /// the disk cannot take copies nothing.
    fn store(&self, path: &str, len: usize, data: impl FnOnce() -> Rc<[u8]>) -> io::Result<()> {
        let p = normalize(path).ok_or_else(|| not_found(path))?;
        if p == "/" || self.is_dir(&p) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{path}: Is a directory"),
            ));
        }
        // A file on the way is no directory (ENOTDIR): `/x/y` cannot be
        // made while `/x` is a file.
        {
            let files = self.files.borrow();
            let mut at = 0;
            while let Some(i) = p[at + 1..].find('/') {
                at += 1 + i;
                if files.contains_key(&p[..at]) {
                    return Err(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!("{path}: Not a directory"),
                    ));
                }
            }
        }
        // open(2) with O_CREAT makes the file, not its directory.
        let parent = &p[..p.rfind('/').unwrap_or(0)];
        if !parent.is_empty() && !self.is_dir(parent) {
            return Err(not_found(path));
        }
        // The space: what the file held comes back, what it will hold
        // goes; more than the disk has is ENOSPC, the file unchanged.
        let old = self.files.borrow().get(&p).map_or(0, |f| f.len() as u64);
        let used = self.disk.used.get() - old + len as u64;
        if used > self.disk.capacity {
            return Err(no_space(path));
        }
        self.disk.used.set(used);
        self.files.borrow_mut().insert(p, Content::Shared(data()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_on_the_way_is_not_a_directory() {
        let fs = MemFs::default();
        fs.create("/x", &b"1"[..]).unwrap();
        let e = fs.write("/x/y", b"2").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotADirectory);
        assert_eq!(e.to_string(), "/x/y: Not a directory");
        assert!(fs.create("/x/y/z", &b"3"[..]).is_err());
        assert!(!fs.is_dir("/x"), "a failed create leaves no directory");
        fs.create("/xy/z", &b"4"[..]).unwrap();
        fs.create("/d/e", &b"5"[..]).unwrap();
        fs.write("/d/f", b"6").unwrap();
        assert_eq!(&*fs.read("/x").unwrap(), b"1");
    }

    #[test]
    fn paths_are_normalized_and_cannot_escape() {
        assert_eq!(normalize("a/./b/../c").as_deref(), Some("/a/c"));
        assert_eq!(normalize("/srv//www/").as_deref(), Some("/srv/www"));
        assert_eq!(normalize("/../etc"), None);
    }

    #[test]
    fn files_and_directories() {
        let fs = MemFs::new();
        fs.create("/srv/www/index.html", &b"hi"[..]).unwrap();
        assert_eq!(&*fs.read("/srv/www/../www/index.html").unwrap(), b"hi");
        assert!(fs.is_dir("/srv"));
        assert!(fs.is_dir("/srv/www"));
        assert!(!fs.is_dir("/srv/www/index.html"));
        assert!(!fs.is_dir("/sr"));
        assert_eq!(
            fs.read("/srv").unwrap_err().kind(),
            io::ErrorKind::IsADirectory
        );
        assert_eq!(
            fs.read("/nope").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(fs.write("/srv", b"x").is_err());
    }

    /// Files take their space from a disk the file systems share: a write
    /// past it fails as ENOSPC and leaves the file as it was; replacing a
    /// file gives its old space back.
    #[test]
    fn a_full_disk_refuses_writes() {
        let disk = Rc::new(Disk::new(10));
        let (a, b) = (MemFs::on(disk.clone()), MemFs::on(disk.clone()));
        a.write("/tmp/x", b"123456").unwrap();
        let e = b.write("/tmp/y", b"12345").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert_eq!(e.to_string(), "/tmp/y: No space left on device");
        assert!(b.read("/tmp/y").is_err());
        b.write("/tmp/y", b"1234").unwrap();
        assert_eq!(disk.used(), 10);
        a.write("/tmp/x", b"1").unwrap();
        assert_eq!(disk.used(), 5);
        assert!(a.write("/tmp/x", b"123456").is_ok());
        assert_eq!(disk.used(), 10);
    }

    /// Appending adds to the end in place (making the file if it is not
    /// there), takes its space from the disk, and a full disk refuses it
    /// whole; reads in between see every byte appended so far.
    #[test]
    fn appends_grow_a_file_in_place() {
        let disk = Rc::new(Disk::new(10));
        let fs = MemFs::on(disk.clone());
        fs.append("/tmp/p", b"ab").unwrap();
        fs.append("/tmp/p", b"cd").unwrap();
        assert_eq!(&*fs.read("/tmp/p").unwrap(), b"abcd");
        let held = fs.read("/tmp/p").unwrap();
        fs.append("/tmp/p", b"ef").unwrap();
        assert_eq!(&*held, b"abcd", "a reader's bytes do not change");
        assert_eq!(&*fs.read("/tmp/p").unwrap(), b"abcdef");
        assert_eq!(disk.used(), 6);
        let e = fs.append("/tmp/p", b"12345").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert_eq!(&*fs.read("/tmp/p").unwrap(), b"abcdef");
        fs.append("/tmp/p", b"1234").unwrap();
        assert_eq!(disk.used(), 10);
        fs.write("/tmp/p", b"x").unwrap();
        assert_eq!(disk.used(), 1);
        assert!(fs.append("/nope/p", b"x").is_err());
        assert!(fs.append("/tmp", b"x").is_err());
    }

    /// Applications write only into directories that exist, as open(2)
    /// with O_CREAT does: a missing one is ENOENT.
    #[test]
    fn writes_need_their_directory() {
        let fs = MemFs::new();
        fs.write("/tmp/a", b"1").unwrap();
        fs.write("/etc/ssl/x.pem", b"1").unwrap();
        fs.write("/top", b"1").unwrap();
        let e = fs.write("/nope/x", b"2").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(e.to_string(), "/nope/x: No such file or directory");
        assert!(!fs.is_dir("/nope"));
        fs.create("/nope/deep/x", &b"3"[..]).unwrap();
        assert!(fs.is_dir("/nope") && fs.is_dir("/nope/deep"));
        fs.write("/nope/y", b"4").unwrap();
        assert!(fs.write("/tmp/missing/z", b"5").is_err());
    }
}
