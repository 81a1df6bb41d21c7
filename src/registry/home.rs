//! The home directory: where the registry database and the blob store live.
//!
//! Read commands open an existing home ([`Home::open`]) and fail clearly when there is
//! none; commands that change an existing home open it with [`Home::open_for_write`], and
//! those that may start one create it ([`Home::create`]). Writers apply pending schema
//! migrations, so an older home works with a newer binary.
//!
//! Concurrency: the database runs in WAL mode with a busy timeout, and every multi-step
//! write goes through [`Home::write`], an `IMMEDIATE` transaction. Taking the write lock
//! up front means two processes never deadlock upgrading read locks; the second one waits
//! (up to [`BUSY_TIMEOUT`]) and then sees the first one's committed rows.
//!
//! Read-only homes: deployments mount the home read-only into the model server and the
//! sidecar, run them as a user that does not own it, and let a pipeline promote versions
//! meanwhile. A reader therefore opens a read-only connection that never migrates, never
//! switches the journal mode and takes no write lock. SQLite (since 3.22, "Read-Only
//! Databases" in sqlite.org/wal.html) reads a WAL database it cannot write only when the
//! `-wal` and `-shm` files already exist, and by default the last writer to close deletes
//! both: so writers keep them (`SQLITE_FCNTL_PERSIST_WAL`, with the WAL truncated to zero
//! bytes on close so it costs no disk). `immutable=1` would also open, but would never
//! see a promotion. A reader that finds the files missing, or a schema older than this
//! binary, prepares the home the way a writer would when it can write it, and otherwise
//! says what to run (exit 2).

use super::blobs::BlobStore;
use super::migrations;
use crate::exit::UsageError;
use anyhow::Context;
use rusqlite::{Connection, FileControl, MAIN_DB, OpenFlags, Transaction, TransactionBehavior};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The metadata database inside a home directory.
pub const DB_FILE: &str = "registry.sqlite";
/// How long a writer waits for another process's write lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Puts the database in WAL mode. The switch needs the database to itself, and SQLite does
/// not run the busy handler for it: of several processes opening a fresh home at once, the
/// ones that lost the race failed with "database is locked". WAL is a property of the
/// file, so the mode is read first (after the first open there is nothing to switch), and
/// a refused switch is tried again, with backoff, for up to [`BUSY_TIMEOUT`].
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            // The switch was refused without an error: the old mode is returned.
            Ok(_) if Instant::now() < deadline => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && Instant::now() < deadline => {}
            Ok(mode) => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some(format!("the journal mode stayed {mode}")),
                ));
            }
            Err(e) => return Err(e),
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// A directory without a registry database is a usage error that says how to create one.
fn require_db(root: &Path) -> anyhow::Result<()> {
    if !root.join(DB_FILE).is_file() {
        return Err(UsageError(format!(
            "no registry at {}: run `modelwatch dataset add` first or pass --home \
             (or set MODELWATCH_HOME) to the right directory",
            root.display()
        ))
        .into());
    }
    Ok(())
}

/// SQLITE_CANTOPEN or SQLITE_READONLY (e.g. READONLY_DIRECTORY) from a read-only
/// connection's first read: the WAL files are missing and cannot be created here.
fn needs_wal_files(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(e, _)) if matches!(
                e.code,
                rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly
            )
        )
    })
}

/// An open home directory: the database connection and the blob store.
pub struct Home {
    root: PathBuf,
    conn: Connection,
    blobs: BlobStore,
    /// False for [`Home::open`]: the connection is read-only.
    writable: bool,
}

/// Why a read-only connection could not read the home.
enum ReadProblem {
    /// Only a writer can fix it: the WAL files are missing, or migrations are pending.
    NeedsWriter(String),
    Failed(anyhow::Error),
}

impl Home {
    /// Opens an existing home for reading, without writing to it (see the module docs):
    /// this works on a read-only home and beside a process that writes. A directory
    /// without a registry database is a usage error that says how to create one.
    pub fn open(root: &Path) -> anyhow::Result<Home> {
        require_db(root)?;
        let why = match Self::open_reader(root) {
            Ok(home) => return Ok(home),
            Err(ReadProblem::Failed(err)) => return Err(err),
            Err(ReadProblem::NeedsWriter(why)) => why,
        };
        // Prepared as a writer would prepare it (WAL files kept, migrations applied) when
        // this process may write the home; that keeps an older home working locally.
        if let Err(write_err) = Self::open_writer(root) {
            tracing::debug!("the registry cannot be prepared for reading: {write_err:#}");
            return Err(UsageError(format!(
                "cannot read the registry at {0}: {why}; this process cannot write the home \
                 to fix that. Run `modelwatch registry list --home {0}` once as a user that \
                 can write it (with this modelwatch version or newer), then mount it \
                 read-only again",
                root.display()
            ))
            .into());
        }
        match Self::open_reader(root) {
            Ok(home) => Ok(home),
            Err(ReadProblem::Failed(err)) => Err(err),
            Err(ReadProblem::NeedsWriter(why)) => Err(anyhow::anyhow!(
                "cannot read the registry at {}: {why}",
                root.display()
            )),
        }
    }

    /// Opens an existing home to change it; fails like [`Home::open`] when there is none.
    pub fn open_for_write(root: &Path) -> anyhow::Result<Home> {
        require_db(root)?;
        Self::open_writer(root)
    }

    /// Opens the home at `root` to change it, creating the directory and database when
    /// missing.
    pub fn create(root: &Path) -> anyhow::Result<Home> {
        fs::create_dir_all(root)
            .with_context(|| format!("could not create the home directory {}", root.display()))?;
        Self::open_writer(root)
    }

    fn open_reader(root: &Path) -> Result<Home, ReadProblem> {
        let db_path = root.join(DB_FILE);
        let failed = |err: rusqlite::Error| {
            ReadProblem::Failed(anyhow::Error::new(err).context(format!(
                "could not read the registry database {}",
                db_path.display()
            )))
        };
        let conn = Connection::open_with_flags(
            &db_path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
        // The first read opens the WAL; CANTOPEN or READONLY_* there means its files are
        // missing (or need a writer's recovery) and we cannot create them.
        match migrations::up_to_date(&conn) {
            Ok(true) => {}
            Ok(false) => {
                return Err(ReadProblem::NeedsWriter(
                    "its schema is older than this modelwatch (migrations are pending)".into(),
                ));
            }
            Err(err) if needs_wal_files(&err) => {
                return Err(ReadProblem::NeedsWriter(format!(
                    "SQLite needs {0}-wal and {0}-shm beside it to read a WAL database it \
                     cannot write, and could not use them ({err:#})",
                    db_path.display()
                )));
            }
            Err(err) => {
                return Err(ReadProblem::Failed(err.context(format!(
                    "could not read the registry database {}",
                    db_path.display()
                ))));
            }
        }
        Ok(Home {
            root: root.to_path_buf(),
            blobs: BlobStore::new(root.join("blobs").join("sha256")),
            conn,
            writable: false,
        })
    }

    fn open_writer(root: &Path) -> anyhow::Result<Home> {
        let db_path = root.join(DB_FILE);
        let mut conn = Connection::open(&db_path).with_context(|| {
            format!("could not open the registry database {}", db_path.display())
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL lets readers run while one process writes; FULL sync makes every committed
        // transaction survive a power cut, which a registry owes its users.
        use_wal(&conn).with_context(|| {
            format!(
                "could not switch the registry database {} to WAL mode",
                db_path.display()
            )
        })?;
        // Keep -wal and -shm when this is the last connection to close, so that readers
        // without write access can open the database (module docs); the WAL shrinks to
        // zero bytes instead.
        conn.file_control(Some(MAIN_DB), FileControl::PersistWal(&mut 1))
            .context("could not keep the registry's WAL files")?;
        conn.pragma_update(None, "journal_size_limit", 0)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::apply(&mut conn).with_context(|| {
            format!(
                "could not migrate the registry database {}",
                db_path.display()
            )
        })?;
        let blobs = BlobStore::new(root.join("blobs").join("sha256"));
        blobs.remove_abandoned_writes();
        Ok(Home {
            root: root.to_path_buf(),
            blobs,
            conn,
            writable: true,
        })
    }

    /// The home directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The content-addressed blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The database connection, for reads.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one `IMMEDIATE` transaction and commits when it returns `Ok`; any error
    /// rolls every step back.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        anyhow::ensure!(
            self.writable,
            "the registry at {} was opened for reading: open it with Home::open_for_write",
            self.root.display()
        );
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("could not start a registry transaction (another process holds the lock)")?;
        let value = f(&tx)?;
        tx.commit()
            .context("could not commit the registry transaction")?;
        Ok(value)
    }
}
