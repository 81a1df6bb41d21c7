//! The home directory: where the registry database and the blob store live.
//!
//! Read commands open an existing home ([`Home::open`]) and fail clearly when there is
//! none; write commands create it ([`Home::create`]). Every open applies pending schema
//! migrations, so an older home works with a newer binary.
//!
//! Concurrency: the database runs in WAL mode with a busy timeout, and every multi-step
//! write goes through [`Home::write`], an `IMMEDIATE` transaction. Taking the write lock
//! up front means two processes never deadlock upgrading read locks; the second one waits
//! (up to [`BUSY_TIMEOUT`]) and then sees the first one's committed rows.

use super::blobs::BlobStore;
use super::migrations;
use crate::exit::UsageError;
use anyhow::Context;
use rusqlite::{Connection, Transaction, TransactionBehavior};
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

/// The `--home` flag, shared by every job that uses the registry.
#[derive(Clone, Debug, clap::Args)]
pub struct HomeArgs {
    /// Directory holding datasets, models and their metadata.
    #[arg(
        long,
        global = true,
        env = "MODELWATCH_HOME",
        default_value = ".modelwatch",
        value_name = "DIR"
    )]
    pub home: PathBuf,
}

/// An open home directory: the database connection and the blob store.
pub struct Home {
    root: PathBuf,
    conn: Connection,
    blobs: BlobStore,
}

impl Home {
    /// Opens an existing home. A directory without a registry database is a usage error
    /// that says how to create one.
    pub fn open(root: &Path) -> anyhow::Result<Home> {
        if !root.join(DB_FILE).is_file() {
            return Err(UsageError(format!(
                "no registry at {}: run `modelwatch dataset add` first or pass --home \
                 (or set MODELWATCH_HOME) to the right directory",
                root.display()
            ))
            .into());
        }
        Self::open_dir(root)
    }

    /// Opens the home at `root`, creating the directory and database when missing.
    pub fn create(root: &Path) -> anyhow::Result<Home> {
        fs::create_dir_all(root)
            .with_context(|| format!("could not create the home directory {}", root.display()))?;
        Self::open_dir(root)
    }

    fn open_dir(root: &Path) -> anyhow::Result<Home> {
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
