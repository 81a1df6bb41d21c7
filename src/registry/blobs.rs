//! Content-addressed blob store: immutable files named by the sha256 of their bytes.
//!
//! Layout: `ROOT/ab/cdef…` for the hash `abcdef…` (two-character fan-out keeps directories
//! small). A write streams into a temporary file `ROOT/.incoming-*` on the same file system,
//! hashing as it goes; `commit` fsyncs it and renames it to its final name, then fsyncs the
//! directory. A process killed mid-write therefore leaves at most a stray `.incoming-*`
//! file, never a partial blob under a final name; the next writer to open the home removes it
//! ([`BlobStore::remove_abandoned_writes`]). A writer holds an exclusive `flock` on its
//! temporary file, which the kernel releases when the process dies however it dies, so a
//! temporary file nobody holds is abandoned and one being written is left alone. Every read
//! verifies the hash, so a blob modified on disk is refused instead of silently used.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The sha256 of a blob's bytes, as 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobHash(String);

impl BlobHash {
    /// Parses 64 hex digits (any case; stored lowercase).
    pub fn parse(hex_digits: &str) -> anyhow::Result<BlobHash> {
        let lower = hex_digits.to_ascii_lowercase();
        if lower.len() != 64 || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{hex_digits:?} is not a sha256 hash: expected 64 hex digits");
        }
        Ok(BlobHash(lower))
    }

    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobHash {
        BlobHash(hex::encode(Sha256::digest(bytes)))
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first `n` hex digits (at most 64), e.g. for a short version id.
    pub fn prefix(&self, n: usize) -> &str {
        &self.0[..n.min(64)]
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for BlobHash {
    type Error = anyhow::Error;
    fn try_from(value: String) -> anyhow::Result<Self> {
        BlobHash::parse(&value)
    }
}

impl From<BlobHash> for String {
    fn from(hash: BlobHash) -> String {
        hash.0
    }
}

/// The name prefix of a write's temporary file.
const INCOMING_PREFIX: &str = ".incoming-";

/// The blob store rooted at one directory (`HOME/blobs/sha256`).
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// A store rooted at `root`; the directory is created on the first write.
    pub fn new(root: impl Into<PathBuf>) -> BlobStore {
        BlobStore { root: root.into() }
    }

    /// The directory holding the blobs.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this hash lives (whether or not it exists). Read it through
    /// [`BlobStore::verified_path`] or [`BlobStore::read`], which check its hash.
    pub fn path_of(&self, hash: &BlobHash) -> PathBuf {
        self.root.join(&hash.0[..2]).join(&hash.0[2..])
    }

    /// True when a blob with this hash is stored (not verified).
    pub fn contains(&self, hash: &BlobHash) -> bool {
        self.path_of(hash).is_file()
    }

    /// Starts a streaming write; call [`BlobWriter::commit`] to store it.
    pub fn writer(&self) -> anyhow::Result<BlobWriter> {
        fs::create_dir_all(&self.root).with_context(|| {
            format!(
                "could not create the blob directory {}",
                self.root.display()
            )
        })?;
        // Readable by all (less the umask), not tempfile's 0600: the model server and the
        // sidecar usually run as another user than the pipeline that wrote the blob.
        let file = loop {
            let file = tempfile::Builder::new()
                .prefix(INCOMING_PREFIX)
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .tempfile_in(&self.root)
                .with_context(|| {
                    format!(
                        "could not create a temporary file in {}",
                        self.root.display()
                    )
                })?;
            // Held until this process closes the file or dies: it tells a cleanup in
            // another process that the file is in use.
            file.as_file().lock().with_context(|| {
                format!(
                    "could not lock the temporary file {}",
                    file.path().display()
                )
            })?;
            // A cleanup may have taken the file between its creation and the lock: then
            // its name is gone (or another file's), and a fresh one is needed.
            if same_file(file.as_file(), file.path()) {
                break file;
            }
        };
        Ok(BlobWriter {
            store: self.clone(),
            file: io::BufWriter::with_capacity(1 << 16, file),
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Stores `bytes` and returns their hash.
    pub fn put_bytes(&self, bytes: &[u8]) -> anyhow::Result<BlobHash> {
        let mut writer = self.writer()?;
        writer
            .write_all(bytes)
            .context("could not write the blob")?;
        Ok(writer.commit()?.0)
    }

    /// Stores a copy of the file at `path`; returns its hash and length.
    pub fn put_file(&self, path: &Path) -> anyhow::Result<(BlobHash, u64)> {
        let mut source =
            File::open(path).with_context(|| format!("could not open {}", path.display()))?;
        let mut writer = self.writer()?;
        io::copy(&mut source, &mut writer)
            .with_context(|| format!("could not copy {} into the blob store", path.display()))?;
        writer.commit()
    }

    /// Checks the stored blob against its hash and returns its path. Fails with a clear
    /// message when the blob is missing or its bytes no longer match (tampered or damaged).
    pub fn verified_path(&self, hash: &BlobHash) -> anyhow::Result<PathBuf> {
        let path = self.path_of(hash);
        let file = File::open(&path).map_err(|err| unreadable(hash, &path, err))?;
        let actual = hash_reader(file)
            .with_context(|| format!("could not read blob {}", path.display()))?
            .0;
        if &actual != hash {
            bail!(
                "blob {} is corrupted: its bytes hash to {actual}, not {hash}; it was modified \
                 or damaged on disk and is refused. Restore it from a backup or add the data again",
                path.display()
            );
        }
        Ok(path)
    }

    /// Removes the temporary files of writes whose process died mid-write (SIGKILL, a
    /// crash): those whose lock nobody holds. Returns how many it removed. Best effort: a
    /// read-only home, or a file that cannot be opened, is left as it is.
    pub fn remove_abandoned_writes(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            if !entry
                .file_name()
                .to_string_lossy()
                .starts_with(INCOMING_PREFIX)
            {
                continue;
            }
            let path = entry.path();
            let Ok(file) = File::open(&path) else {
                continue;
            };
            // Removed while this lock is held, so a writer that created the file but has
            // not locked it yet finds its name gone and starts another.
            if file.try_lock().is_ok() && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(
                removed,
                dir = %self.root.display(),
                "removed the temporary files of blob writes that were cut off"
            );
        }
        removed
    }

    /// Reads a whole blob, verifying its hash.
    pub fn read(&self, hash: &BlobHash) -> anyhow::Result<Vec<u8>> {
        let path = self.path_of(hash);
        let bytes = fs::read(&path).map_err(|err| unreadable(hash, &path, err))?;
        let actual = BlobHash::of(&bytes);
        if &actual != hash {
            bail!(
                "blob {} is corrupted: its bytes hash to {actual}, not {hash}; it was modified \
                 or damaged on disk and is refused. Restore it from a backup or add the data again",
                path.display()
            );
        }
        Ok(bytes)
    }
}

/// Why a stored blob could not be opened, with the fix for that cause: a blob that is
/// there but not readable by this process is not "missing".
fn unreadable(hash: &BlobHash, path: &Path, err: io::Error) -> anyhow::Error {
    match err.kind() {
        io::ErrorKind::NotFound => anyhow::anyhow!(
            "blob {hash} is missing from the store (expected at {}): restore the home \
             directory from a backup or add the data again",
            path.display()
        ),
        io::ErrorKind::PermissionDenied => anyhow::anyhow!(
            "blob {} cannot be read by this process ({err}): make the home readable by this \
             user (blobs are written 0644; check the file's mode and its directories')",
            path.display()
        ),
        _ => anyhow::anyhow!("could not read blob {} ({err})", path.display()),
    }
}

/// A blob being written: hashes every byte, lands under its final name only on
/// [`BlobWriter::commit`]. Dropping it without committing deletes the temporary file.
pub struct BlobWriter {
    store: BlobStore,
    file: io::BufWriter<tempfile::NamedTempFile>,
    hasher: Sha256,
    len: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes the blob durable under its final name and returns its hash and length.
    ///
    /// When a blob with the same hash already exists and verifies, the new copy is
    /// discarded; when the existing one is damaged, the fresh copy replaces it.
    pub fn commit(self) -> anyhow::Result<(BlobHash, u64)> {
        let hash = BlobHash(hex::encode(self.hasher.finalize()));
        let temp = self
            .file
            .into_inner()
            .map_err(|e| e.into_error())
            .context("could not write the blob")?;
        let final_path = self.store.path_of(&hash);
        if final_path.is_file() && self.store.verified_path(&hash).is_ok() {
            return Ok((hash, self.len));
        }
        temp.as_file()
            .sync_all()
            .context("could not fsync the blob")?;
        let dir = final_path.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
        temp.persist(&final_path)
            .map_err(|e| e.error)
            .with_context(|| format!("could not move the blob to {}", final_path.display()))?;
        // The rename is durable only once its directory entry is.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("could not fsync {}", dir.display()))?;
        Ok((hash, self.len))
    }
}

/// True when `path` names the open `file` (same device and inode).
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Hashes everything `reader` yields; returns the hash and the byte count.
pub fn hash_reader(mut reader: impl Read) -> io::Result<(BlobHash, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((BlobHash(hex::encode(hasher.finalize())), len))
}

#[cfg(test)]
mod tests;
