//! Files written for people to keep (leaflets, summaries, exports, figures,
//! backups' neighbours): owner-only, whole or not at all, and an existing
//! file is replaced only when the caller says so. One writer for the CLI and
//! the desktop shell, so every output gets the same durability and privacy.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether an existing file at the path may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Replace it (the user asked: `--overwrite`, or the save dialog's own question).
    Allowed,
    /// Never: the write fails with `ErrorKind::AlreadyExists`, even if the
    /// file appeared while this one was being written.
    Refused,
}

/// The temporary name beside `path` that the bytes are written to first.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    dir.join(format!(".{name}.{}.partial", std::process::id()))
}

/// Writes `bytes` to `path`: created owner-only (0600: these files hold names
/// and medicines, like the store), through a temporary file in the same
/// folder that is synced before it takes the name, so `path` is either the
/// whole new file or untouched. With [`Replace::Refused`] the name is taken
/// by a hard link, which fails if anything is there.
pub fn write_private(path: &Path, bytes: &[u8], replace: Replace) -> std::io::Result<()> {
    let tmp = temporary(path);
    let written = (|| -> std::io::Result<()> {
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        place(&tmp, path, replace)
    })();
    if written.is_err() {
        // Best effort: the temporary file may not exist if creating it failed.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Gives the finished, synced file `tmp` the name `path` (same folder), then
/// syncs the folder so the new name survives a power cut. With
/// [`Replace::Refused`] the name is taken by a hard link, which fails if
/// anything is there; on a file system without hard links (FAT on a USB
/// stick) the name is checked and then taken by renaming. The store's backup
/// copies are placed by this too.
pub fn place(tmp: &Path, path: &Path, replace: Replace) -> std::io::Result<()> {
    match replace {
        Replace::Allowed => std::fs::rename(tmp, path)?,
        Replace::Refused => match std::fs::hard_link(tmp, path) {
            Ok(()) => {
                // Best effort: the file is in place under its name.
                let _ = std::fs::remove_file(tmp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(e),
            Err(_) if path.exists() => {
                return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
            }
            Err(_) => std::fs::rename(tmp, path)?,
        },
    }
    sync_parent(path);
    Ok(())
}

/// Syncs the folder holding `path`, so a rename into it is on disk. Best
/// effort (not every system can open a folder to sync it).
pub fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_owner_only_and_replaces_only_when_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leaflet.pdf");
        write_private(&path, b"first", Replace::Refused).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let e = write_private(&path, b"second", Replace::Refused).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first", "untouched");
        write_private(&path, b"third", Replace::Allowed).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"third");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-folder").join("x.pdf");
        assert!(write_private(&path, b"x", Replace::Allowed).is_err());
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
