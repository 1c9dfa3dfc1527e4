//! The real file system, for a host running on a TUN device: `serve http
//! --root DIR` serves real files and `curl -o FILE` writes one. Relative
//! paths are relative to the working directory of `tcplab run`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::time::SystemTime;

use tcplab_host::FileSystem;

/// The most of one file read (as the simulator's disk holds).
const READ_MAX: u64 = tcplab_host::DEFAULT_DISK;

/// Files listed under one directory at most (a bound for huge trees).
const LIST_LIMIT: usize = 10_000;

/// `std::fs`, behind the host's `FileSystem` trait.
///
/// A file read while an earlier read of it is still held (and unchanged:
/// same length and modification time) is shared, not read again: a web
/// server sending one large file to many clients at once holds it once
/// (each response used to hold a copy: 512 clients that never read a
/// 20 MB file held 10 GB).
#[derive(Debug, Default)]
pub struct RealFs {
    shared: RefCell<HashMap<PathBuf, Held>>,
    /// The directory relative paths start from, if not this process's
    /// own: an attached command's (`tcplab run --attach`) is the
    /// directory it was started in.
    cwd: Option<PathBuf>,
}

/// A file read and still held somewhere: its length and modification time
/// then, and the bytes while anyone holds them.
type Held = (u64, Option<SystemTime>, Weak<[u8]>);

impl RealFs {
    pub fn new() -> RealFs {
        RealFs::default()
    }

    /// The real file system with relative paths taken from `dir`.
    pub fn in_dir(dir: PathBuf) -> RealFs {
        RealFs {
            cwd: Some(dir),
            ..RealFs::default()
        }
    }

    /// Where `path` is.
    fn at(&self, path: &str) -> PathBuf {
        match &self.cwd {
            Some(dir) if Path::new(path).is_relative() => dir.join(path),
            _ => PathBuf::from(path),
        }
    }
}

impl FileSystem for RealFs {
    fn read(&self, path: &str) -> io::Result<Rc<[u8]>> {
        let err =
            |e: io::Error| io::Error::new(e.kind(), format!("{path}: {}", strip_os_suffix(&e)));
        let key = self.at(path);
        let meta = std::fs::metadata(&key).map_err(err)?;
        let stamp = (meta.len(), meta.modified().ok());
        let mut shared = self.shared.borrow_mut();
        if let Some((len, modified, weak)) = shared.get(&key) {
            if (*len, *modified) == stamp {
                if let Some(data) = weak.upgrade() {
                    return Ok(data);
                }
            }
        }
        // At most a simulated disk's worth: a device (/dev/zero) or a
        // pipe that never ends is refused rather than read without end.
        let mut bytes = Vec::new();
        {
            use std::io::Read;
            std::fs::File::open(&key)
                .and_then(|f| f.take(READ_MAX + 1).read_to_end(&mut bytes))
                .map_err(err)?;
        }
        if bytes.len() as u64 > READ_MAX {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("{path}: File too large"),
            ));
        }
        let data: Rc<[u8]> = Rc::from(bytes);
        // Forget files no one holds any more, so the map stays small.
        shared.retain(|_, (_, _, w)| w.strong_count() > 0);
        shared.insert(key, (stamp.0, stamp.1, Rc::downgrade(&data)));
        Ok(data)
    }

    fn read_prefix(&self, path: &str, limit: usize) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut out = Vec::new();
        std::fs::File::open(self.at(path))
            .and_then(|f| f.take(limit as u64).read_to_end(&mut out))
            .map_err(|e| io::Error::new(e.kind(), format!("{path}: {}", strip_os_suffix(&e))))?;
        Ok(out)
    }

    fn write(&self, path: &str, data: &[u8]) -> io::Result<()> {
        std::fs::write(self.at(path), data)
            .map_err(|e| io::Error::new(e.kind(), format!("{path}: {}", strip_os_suffix(&e))))
    }

    fn write_private(&self, path: &str, data: &[u8]) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let at = self.at(path);
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&at)
            // An existing file keeps its mode through open(2): set it.
            .and_then(|mut f| {
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                f.write_all(data)
            })
            .map_err(|e| io::Error::new(e.kind(), format!("{path}: {}", strip_os_suffix(&e))))
    }

    fn append(&self, path: &str, data: &[u8]) -> io::Result<()> {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.at(path))
            .and_then(|mut f| f.write_all(data))
            .map_err(|e| io::Error::new(e.kind(), format!("{path}: {}", strip_os_suffix(&e))))
    }

    fn is_dir(&self, path: &str) -> bool {
        self.at(path).is_dir()
    }

    fn list(&self, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack: Vec<PathBuf> = vec![self.at(path)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if out.len() >= LIST_LIMIT {
                    return out;
                }
                let p = e.path();
                match e.file_type() {
                    Ok(t) if t.is_dir() => stack.push(p),
                    Ok(_) => out.push(p.to_string_lossy().into_owned()),
                    Err(_) => {}
                }
            }
        }
        out.sort();
        out
    }
}

/// "No such file or directory (os error 2)" → "No such file or directory".
fn strip_os_suffix(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Private keys are written readable by their owner only (0600, as
    /// openssl writes them), a file that was there before included; and
    /// relative paths start in the given directory.
    #[test]
    fn private_files_are_the_owners_and_relative_paths_start_in_the_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("tcplab-realfs-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("old.key"), b"x").unwrap();
        let fs = RealFs::in_dir(dir.clone());
        for name in ["new.key", "old.key"] {
            fs.write_private(name, b"secret").unwrap();
            let meta = std::fs::metadata(dir.join(name)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
            assert_eq!(std::fs::read(dir.join(name)).unwrap(), b"secret");
        }
        fs.write("plain.txt", b"1").unwrap();
        fs.append("plain.txt", b"2").unwrap();
        assert_eq!(&*fs.read("plain.txt").unwrap(), b"12");
        assert!(fs.is_dir("."));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Reads of a file held elsewhere share it; a changed file is read
    /// again; a file no one holds is read again too.
    #[test]
    fn a_held_file_is_shared_until_it_changes() {
        let dir = std::env::temp_dir().join(format!("tcplab-realfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        let p = path.to_str().unwrap();
        std::fs::write(&path, b"one").unwrap();
        let fs = RealFs::new();
        let a = fs.read(p).unwrap();
        let b = fs.read(p).unwrap();
        assert!(Rc::ptr_eq(&a, &b), "shared while held");
        std::fs::write(&path, b"three").unwrap();
        let c = fs.read(p).unwrap();
        assert_eq!(&*c, b"three");
        drop((a, b, c));
        let d = fs.read(p).unwrap();
        assert_eq!(&*d, b"three");
        assert!(fs.read(dir.join("none").to_str().unwrap()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
