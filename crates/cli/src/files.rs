//! Reading the files a person names, and making the directories they ask
//! for, with errors that say what is wrong in one line.

use std::io::Read;
use std::path::Path;

/// The largest scenario, script or rules file read (far above any real
/// one): a device such as `/dev/zero`, or a wrong file, is refused
/// instead of filling memory.
pub const MAX_INPUT: u64 = 16 << 20;

/// The text of the file at `path`.
pub fn read_text(path: &Path) -> Result<String, String> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "cannot read {}: not UTF-8 text (at byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// The bytes of the file at `path`, with `read_text`'s checks (not a
/// directory, at most `MAX_INPUT`).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {}", io_reason(&e)))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(format!("cannot read {shown}: it is a directory"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {}", io_reason(&e)))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(format!(
            "cannot read {shown}: larger than {} MiB (is it the right file?)",
            MAX_INPUT >> 20
        ));
    }
    Ok(bytes)
}

/// Make the output directory `dir` (and its parents) if it is not there.
pub fn make_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!("{} exists and is not a directory", dir.display()));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create {}: {}", dir.display(), io_reason(&e)))
}

/// An I/O error's reason without the OS error number where a plain
/// phrase says it.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        // The OS's words without Rust's "(os error N)", as every other
        // message reads.
        _ => tcplab_sim::os_words(e),
    }
}

/// `s` with its control characters written as escapes: a name or message
/// from a file or an argument cannot drive the terminal or break a line.
pub fn escape_controls(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_without_end_is_refused_not_read_forever() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("larger than 16 MiB"), "{e}");
    }

    #[test]
    fn directories_and_binary_files_get_one_line() {
        let dir = std::env::temp_dir().join(format!("tcplab-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = read_text(&dir).unwrap_err();
        assert!(e.ends_with("it is a directory"), "{e}");
        let bin = dir.join("x.toml");
        std::fs::write(&bin, [b'a', 0xff, b'b']).unwrap();
        let e = read_text(&bin).unwrap_err();
        assert!(e.contains("not UTF-8 text (at byte 1)"), "{e}");
        let e = make_dir(&bin).unwrap_err();
        assert!(e.ends_with("exists and is not a directory"), "{e}");
        assert_eq!(
            read_text(&dir.join("none")).unwrap_err(),
            format!(
                "cannot read {}: No such file or directory",
                dir.join("none").display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
