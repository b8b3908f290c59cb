//! Writing files safely: atomically (a temporary file, synced, then
//! renamed) and with an early check that a path can be written at all.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes a file through `fill` into a temporary file beside `path`, syncs
/// it, and renames it over `path`. On any error the temporary file is
/// removed and `path` is untouched.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    let name = path.display().to_string();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| Error::File {
        file: name.clone(),
        msg: "not a file path".into(),
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let io = |e: std::io::Error| Error::Write {
        file: name.clone(),
        source: e,
    };
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Fails early, before any training, if `path` cannot be written: a file
/// is created beside it and removed again.
pub fn check_writable(path: &Path) -> Result<()> {
    let name = path.display().to_string();
    if path.is_dir() {
        return Err(Error::File {
            file: name,
            msg: "is a folder".into(),
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::File {
            file: name,
            msg: format!("folder {} does not exist", dir.display()),
        });
    }
    let probe = dir.join(format!(".mfcuda-write-check-{}", std::process::id()));
    File::create(&probe).map_err(|e| Error::Write {
        file: name,
        source: e,
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
