//! The real file system, for a host running on a TUN device: `serve http
//! --root DIR` serves real files and `curl -o FILE` writes one. Relative
//! paths are relative to the working directory of `tcplab run`.

use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use tcplab_host::FileSystem;

/// Files listed under one directory at most (a bound for huge trees).
const LIST_LIMIT: usize = 10_000;

/// `std::fs`, behind the host's `FileSystem` trait.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn read(&self, path: &str) -> io::Result<Rc<[u8]>> {
        let data = std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{path}: {}", strip_os_suffix(&e))))?;
        Ok(Rc::from(data))
    }

    fn write(&self, path: &str, data: &[u8]) -> io::Result<()> {
        std::fs::write(path, data)
            .map_err(|e| io::Error::new(e.kind(), format!("{path}: {}", strip_os_suffix(&e))))
    }

    fn is_dir(&self, path: &str) -> bool {
        Path::new(path).is_dir()
    }

    fn list(&self, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack: Vec<PathBuf> = vec![PathBuf::from(path)];
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
