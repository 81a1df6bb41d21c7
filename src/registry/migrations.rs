//! Versioned schema changes of the registry database, one list per component.
//!
//! Table `schema_migrations(component, version, description, applied_at)` records what was
//! applied. On open, every migration of every [`Component`] newer than the recorded version
//! runs, all in one `IMMEDIATE` transaction, so two processes opening a fresh home at once
//! apply each migration exactly once. A database that records a version this binary does not
//! know was written by a newer modelwatch and is refused rather than misread.
//!
//! To add tables: append a [`Migration`] to a component's list (never edit an applied one),
//! or add a new [`Component`] to [`COMPONENTS`].

use anyhow::bail;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// One schema change.
#[derive(Clone, Copy)]
pub struct Migration {
    /// 1, 2, 3… within the component.
    pub version: u32,
    pub description: &'static str,
    /// SQL run as one batch.
    pub sql: &'static str,
}

/// A part of the registry that owns tables.
pub struct Component {
    pub name: &'static str,
    pub migrations: &'static [Migration],
}

/// Every component, in the order their migrations run.
pub const COMPONENTS: &[Component] = &[super::datasets::COMPONENT, super::models::COMPONENT];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    component   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    description TEXT    NOT NULL,
    applied_at  TEXT    NOT NULL,
    PRIMARY KEY (component, version)
)";

/// Applies every pending migration.
pub(crate) fn apply(conn: &mut Connection) -> anyhow::Result<()> {
    apply_components(conn, COMPONENTS)
}

pub(crate) fn apply_components(
    conn: &mut Connection,
    components: &[Component],
) -> anyhow::Result<()> {
    // Cheap check first: most opens have nothing to do and should not take the write lock.
    if components_up_to_date(conn, components)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(CREATE_TABLE)?;
    for component in components {
        let current = current_version(&tx, component.name)?;
        check_not_newer(component, current)?;
        for m in component.migrations.iter().filter(|m| m.version > current) {
            tx.execute_batch(m.sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (component, version, description, applied_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    component.name,
                    m.version,
                    m.description,
                    super::datasets::now_rfc3339()
                ],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// True when every migration this binary knows is applied; an error when the database was
/// written by a newer modelwatch. Reads only, so read-only connections use it.
pub(crate) fn up_to_date(conn: &Connection) -> anyhow::Result<bool> {
    components_up_to_date(conn, COMPONENTS)
}

fn components_up_to_date(conn: &Connection, components: &[Component]) -> anyhow::Result<bool> {
    if !table_exists(conn)? {
        return Ok(false);
    }
    for component in components {
        if pending(conn, component)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn table_exists(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|row| row.is_some())
}

fn check_not_newer(component: &Component, current: u32) -> anyhow::Result<()> {
    let newest = component
        .migrations
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    if current > newest {
        bail!(
            "the registry's {} tables are at version {current}, newer than this modelwatch \
             knows ({newest}): upgrade modelwatch",
            component.name
        );
    }
    Ok(())
}

fn pending(conn: &Connection, component: &Component) -> anyhow::Result<bool> {
    let current = current_version(conn, component.name)?;
    check_not_newer(component, current)?;
    Ok(component.migrations.iter().any(|m| m.version > current))
}

fn current_version(conn: &Connection, component: &str) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?1",
        [component],
        |row| row.get(0),
    )
}

#[cfg(test)]
mod tests;
