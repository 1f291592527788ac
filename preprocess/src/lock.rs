//! One writer per pack folder: `build`, `replace` and `compact` hold an exclusive lock on `<pack>/.lock` (flock,
//! released by the OS when the process ends, even by kill -9), so that two concurrent writers cannot interleave
//! shards and manifests. A second writer is refused at once, naming the holder's pid.
use crate::error::{io_err, Error, Result};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// The lock file's name inside a pack folder.
pub const LOCK_FILE: &str = ".lock";

/// Held while a pack folder is written; dropping it releases the lock.
pub struct PackLock {
    _file: File,
}

impl PackLock {
    /// Takes the folder's lock, or fails naming the process that holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let mut file =
            File::options().read(true).write(true).create(true).truncate(false).open(&path).map_err(io_err(&path))?;
        // SAFETY: flock on a file descriptor this function owns; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(Error::Io { path, source: err });
            }
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(Error::Busy { pack: dir.into(), holder: holder.trim().to_string() });
        }
        let me = format!("pid {}", std::process::id());
        let _ = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(me.as_bytes()));
        Ok(PackLock { _file: file })
    }
}
