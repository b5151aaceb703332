//! Pending-login and session files.
//!
//! Each is one JSON document, an envelope that names what it is, its version,
//! the issuer and the client id, around the SDK's exported state:
//!
//! ```json
//! {"format": "authing-oidc-cli/session", "version": 1,
//!  "issuer": "https://…/oidc", "client_id": "…", "saved": { …SavedSession… }}
//! ```
//!
//! The client secret is never in it. Files are created with mode 0600 and
//! rewritten by writing a temporary file in the same directory and renaming it
//! over the old one. Every access holds an exclusive lock on the sidecar file
//! `FILE.lock` from reading through refreshing to renaming, so two processes
//! never refresh the same token twice. (The lock is on a sidecar because the
//! rename replaces the file itself: a lock on the old file would not stop a
//! process that opened it before the rename from reading stale tokens.)

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use authing_oidc::flow::{SavedPendingCallback, SavedSession};
use authing_oidc::store::{Lease, SaveCondition, Saved, SessionStore, StoreFuture};
use authing_oidc::{AuthenticationClient, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CliError;

/// The `format` of a pending-login file.
pub const PENDING_FORMAT: &str = "authing-oidc-cli/pending";
/// The `format` of a session file.
pub const SESSION_FORMAT: &str = "authing-oidc-cli/session";
/// The envelope version this CLI writes and reads.
pub const VERSION: u32 = 1;

/// The file around the SDK's exported state.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    format: String,
    version: u32,
    issuer: String,
    client_id: String,
    saved: T,
}

/// An exclusive lock on `FILE.lock`, held until dropped. While it is held,
/// this process alone reads, refreshes and rewrites `FILE`.
#[derive(Debug)]
pub struct LockedFile {
    path: PathBuf,
    lock_path: PathBuf,
    _lock: File,
}

impl LockedFile {
    /// [`lock`](Self::lock) for a file that must already exist: a missing one
    /// is a `file` error before any lock file is created next to it.
    pub fn lock_existing(path: &Path) -> Result<Self, CliError> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => Self::lock(path),
            Ok(_) => Err(CliError::file(format!(
                "{} is not a regular file",
                path.display()
            ))),
            Err(e) => Err(CliError::file(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Waits for the exclusive lock of `path` (creating the 0600 sidecar
    /// `path.lock` when needed).
    pub fn lock(path: &Path) -> Result<Self, CliError> {
        let file_name = path
            .file_name()
            .ok_or_else(|| CliError::file(format!("{} is not a file name", path.display())))?;
        let mut lock_name = file_name.to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        // A lock file planted as a symlink (in a shared directory) would make us create or lock
        // a file elsewhere. The open itself refuses to follow one, so no check-then-open window
        // exists; after locking, the path must still name the regular file we hold.
        let not_regular = || {
            CliError::file(format!(
                "the lock file {} is not a regular file",
                lock_path.display()
            ))
        };
        let lock = open_lock_file(&lock_path).map_err(|e| {
            if is_symlink_refusal(&e) {
                not_regular()
            } else {
                CliError::file(format!("cannot open the lock file {}: {e}", lock_path.display()))
            }
        })?;
        lock.lock()
            .map_err(|e| CliError::file(format!("cannot lock {}: {e}", lock_path.display())))?;
        if !same_inode(&lock, &lock_path) {
            return Err(not_regular());
        }
        Ok(LockedFile {
            path: path.to_owned(),
            lock_path,
            _lock: lock,
        })
    }

    /// Reads the pending login, refusing a file of another format, version,
    /// issuer or client.
    pub fn read_pending(&self, client: &AuthenticationClient) -> Result<SavedPendingCallback, CliError> {
        let saved: SavedPendingCallback = read_envelope(&self.path, PENDING_FORMAT, client)?;
        Ok(saved)
    }

    /// Reads the session, refusing a file of another format, version, issuer
    /// or client.
    pub fn read_session(&self, client: &AuthenticationClient) -> Result<SavedSession, CliError> {
        read_envelope(&self.path, SESSION_FORMAT, client)
    }

    /// Writes the pending login (0600, temporary file + rename).
    pub fn write_pending(&self, saved: &SavedPendingCallback) -> Result<(), CliError> {
        write_envelope(
            &self.path,
            PENDING_FORMAT,
            saved.issuer(),
            saved.client_id(),
            saved,
        )
    }

    /// Writes the session (0600, temporary file + rename).
    pub fn write_session(&self, saved: &SavedSession) -> Result<(), CliError> {
        write_session_file(&self.path, saved)
    }

    /// Deletes a finished pending login and its lock file. A process waiting
    /// on the old lock then finds no file, which is the right answer.
    pub fn remove_pending(self) -> Result<(), CliError> {
        std::fs::remove_file(&self.path)
            .map_err(|e| CliError::file(format!("cannot delete {}: {e}", self.path.display())))?;
        let _ = std::fs::remove_file(&self.lock_path);
        Ok(())
    }
}

/// The session file as the library's [`SessionStore`], so that files and Redis sessions refresh
/// through one mechanism (docs/shared-sessions.md): the **lease is the exclusive lock** on
/// `FILE.lock`, which this store holds for as long as it lives (from reading through refreshing
/// to renaming, as before), and a save is a **compare-and-set** on the file's `refresh_count`
/// before the file is rewritten (0600, temporary file + rename). The store key only names the
/// session in logs: the file is the one locked.
pub struct SessionFileStore {
    lock: Arc<LockedFile>,
    client: AuthenticationClient,
}

impl SessionFileStore {
    /// The store of the locked session file, reading only sessions of `client`.
    pub fn new(lock: Arc<LockedFile>, client: AuthenticationClient) -> Self {
        SessionFileStore { lock, client }
    }

    fn read(&self) -> Result<Option<SavedSession>, authing_oidc::Error> {
        if !self.lock.path.exists() {
            return Ok(None);
        }
        self.lock
            .read_session(&self.client)
            .map(Some)
            .map_err(|e| authing_oidc::Error::Store(StoreError::invalid(e.to_string())))
    }
}

impl SessionStore for SessionFileStore {
    fn load<'a>(&'a self, _key: &'a str) -> StoreFuture<'a, Option<SavedSession>> {
        Box::pin(async move { self.read() })
    }

    fn save<'a>(
        &'a self,
        _key: &'a str,
        session: &'a SavedSession,
        condition: SaveCondition,
    ) -> StoreFuture<'a, Saved> {
        Box::pin(async move {
            // The lock is held, so nothing changes the file between this read and the rename.
            let holds = match condition {
                SaveCondition::RefreshCount(n) => self.read()?.is_some_and(|s| s.refresh_count() == n),
                SaveCondition::Absent => self.read()?.is_none(),
                _ => true,
            };
            if !holds {
                return Ok(Saved::Refused);
            }
            tracing::debug!(file = %self.lock.path.display(), "saving the refreshed session");
            // A file that cannot be written is a `file` error, as the persistence hook's was.
            write_session_file(&self.lock.path, session)
                .map_err(|e| authing_oidc::Error::Persist(e.to_string()))?;
            Ok(Saved::Stored)
        })
    }

    fn try_lease<'a>(&'a self, _key: &'a str, _ttl: Duration) -> StoreFuture<'a, Option<Lease>> {
        // The file lock, held since this store was made: no other process holds the lease.
        Box::pin(async { Ok(Some(Lease::new("session-file-lock"))) })
    }

    fn release<'a>(&'a self, _key: &'a str, _lease: Lease) -> StoreFuture<'a, ()> {
        // The lock is released when the store and its guard are dropped, after the command.
        Box::pin(async { Ok(()) })
    }
}

fn write_session_file(path: &Path, saved: &SavedSession) -> Result<(), CliError> {
    write_envelope(path, SESSION_FORMAT, saved.issuer(), saved.client_id(), saved)
}

fn read_envelope<T: DeserializeOwned>(
    path: &Path,
    format: &str,
    client: &AuthenticationClient,
) -> Result<T, CliError> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::file(format!("cannot read {shown}: {e}")))?;
    parse_envelope(&text, &shown, format, client)
}

/// A pending-login or session file's text, `shown` naming the file in errors.
pub(crate) fn parse_envelope<T: DeserializeOwned>(
    text: &str,
    shown: &str,
    format: &str,
    client: &AuthenticationClient,
) -> Result<T, CliError> {
    // serde_json's messages can quote values, and the file holds secrets: report
    // only where and what kind of problem.
    let value: Value = serde_json::from_str(text).map_err(|e| {
        CliError::file(format!(
            "{shown} is not JSON ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    let found = value.get("format").and_then(Value::as_str).unwrap_or("");
    if found != format {
        return Err(CliError::file(format!(
            "{shown} is not a {format} file (format {found:?})"
        )));
    }
    let envelope: Envelope<Value> = serde_json::from_value(value).map_err(|_| {
        CliError::file(format!(
            "{shown} is malformed: a field is missing or has the wrong type"
        ))
    })?;
    if envelope.version != VERSION {
        return Err(CliError::file(format!(
            "{shown} has version {}, this tool reads version {VERSION}",
            envelope.version
        )));
    }
    if envelope.issuer != client.issuer() || envelope.client_id != client.app_id() {
        return Err(CliError::file(format!(
            "{shown} was made for client {:?} of issuer {:?}, not client {:?} of issuer {:?}",
            envelope.client_id,
            envelope.issuer,
            client.app_id(),
            client.issuer()
        )));
    }
    serde_json::from_value(envelope.saved)
        .map_err(|_| CliError::file(format!("{shown} is malformed: its saved state does not parse")))
}

fn write_envelope<T: Serialize>(
    path: &Path,
    format: &str,
    issuer: &str,
    client_id: &str,
    saved: &T,
) -> Result<(), CliError> {
    let envelope = Envelope {
        format: format.to_owned(),
        version: VERSION,
        issuer: issuer.to_owned(),
        client_id: client_id.to_owned(),
        saved,
    };
    let mut text = serde_json::to_string_pretty(&envelope)
        .map_err(|_| CliError::file(format!("cannot serialise {}", path.display())))?;
    text.push('\n');
    write_atomically(path, text.as_bytes())
}

/// Writes a new 0600 file next to `path` and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let shown = path.display();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| CliError::file(format!("{shown} is not a file name")))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.{nanos}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        owner_only(&mut options);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort: not every platform can
        // open a directory).
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok::<(), std::io::Error>(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::file(format!("cannot write {shown}: {e}"))
    })
}

/// Opens the lock file, never through a symlink: a new one with
/// `O_CREAT|O_EXCL` (which fails on any existing name, a symlink included), an
/// existing one with `O_NOFOLLOW`. A lock file removed between the two opens
/// (a finished pending login) is created again; a path that keeps changing
/// under us is an error, not a loop.
fn open_lock_file(lock_path: &Path) -> std::io::Result<File> {
    let mut last = None;
    for _ in 0..8 {
        let mut new = OpenOptions::new();
        new.read(true).write(true).create_new(true);
        owner_only(&mut new);
        no_follow(&mut new);
        match new.open(lock_path) {
            Ok(file) => return Ok(file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let mut existing = OpenOptions::new();
        existing.read(true).write(true);
        no_follow(&mut existing);
        match existing.open(lock_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => last = Some(e),
            result => return result,
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the lock file keeps changing")))
}

#[cfg(unix)]
fn no_follow(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt as _;
    options.custom_flags(libc::O_NOFOLLOW);
}

#[cfg(not(unix))]
fn no_follow(_options: &mut OpenOptions) {}

/// `O_NOFOLLOW` on a symlink fails with `ELOOP`.
#[cfg(unix)]
fn is_symlink_refusal(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_symlink_refusal(_e: &std::io::Error) -> bool {
    false
}

#[cfg(unix)]
fn owner_only(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt as _;
    options.mode(0o600);
}

#[cfg(not(unix))]
fn owner_only(_options: &mut OpenOptions) {}

/// Whether the open `file` is the regular file at `path` itself (not reached
/// through a symlink swapped in meanwhile).
#[cfg(unix)]
fn same_inode(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(opened), Ok(named)) => {
            named.file_type().is_file() && opened.dev() == named.dev() && opened.ino() == named.ino()
        }
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_file: &std::fs::File, _path: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_lock_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let session = dir.path().join("s.json");
        let lock_path = dir.path().join("s.json.lock");
        // A dangling link (we would create its target) and one to an existing file.
        let missing = dir.path().join("elsewhere");
        let existing = dir.path().join("victim");
        std::fs::write(&existing, "keep me").unwrap();
        for target in [&missing, &existing] {
            let _ = std::fs::remove_file(&lock_path);
            std::os::unix::fs::symlink(target, &lock_path).unwrap();
            let Err(e) = LockedFile::lock(&session) else {
                panic!("a symlinked lock file was used")
            };
            assert_eq!(e.kind(), crate::error::Kind::File, "{e}");
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        assert!(!missing.exists(), "nothing was created through the link");
        assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
        assert!(
            std::fs::symlink_metadata(&lock_path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    /// The window between checking the lock path and opening it: another
    /// process swaps a symlink in and out as fast as it can while we lock. The
    /// open must never follow it (nothing is created at its target), and a
    /// refusal is a `file` error.
    #[cfg(unix)]
    #[test]
    fn a_symlink_swapped_in_while_locking_is_never_followed() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let session = dir.path().join("s.json");
        let lock_path = dir.path().join("s.json.lock");
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (stop, target, lock_path) = (stop.clone(), target.clone(), lock_path.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = std::os::unix::fs::symlink(&target, &lock_path);
                    let _ = std::fs::remove_file(&lock_path);
                }
            })
        };
        let (mut locked, mut refused) = (0, 0);
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(2) && !target.exists() {
            match LockedFile::lock(&session) {
                Ok(_) => locked += 1,
                Err(e) => {
                    assert_eq!(e.kind(), crate::error::Kind::File, "{e}");
                    refused += 1;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        assert!(
            !target.exists(),
            "the lock was opened through the symlink (after {locked} locks, {refused} refusals)"
        );
        assert!(
            locked > 0 && refused > 0,
            "both sides of the race ran: {locked} {refused}"
        );
    }

    #[test]
    fn atomic_write_replaces_and_is_owner_only() {
        let dir = std::env::temp_dir().join(format!("authing-oidc-cli-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the file itself is left: no temporary files.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
