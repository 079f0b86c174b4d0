//! The store factory: the binary says which backend by configuration and gets every role of it,
//! without naming a backend type.

use std::path::PathBuf;
use std::sync::Arc;

use tern_core::ports::{NodeId, Store, StoreError};

use crate::{PgStore, SqliteStore};

/// Which store, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// The embedded store: one SQLite database in `data_dir` (one node).
    Sqlite { data_dir: PathBuf },
    /// A PostgreSQL database (`postgres://…`) that several nodes may share.
    Postgres { url: String },
}

/// Open the store `config` names, with its schema brought to this Tern's version, holding leases
/// in the name of `node`.
pub fn open(config: &StoreConfig, node: NodeId) -> Result<Arc<dyn Store>, StoreError> {
    match config {
        StoreConfig::Sqlite { data_dir } => Ok(Arc::new(SqliteStore::open_as(data_dir, node)?)),
        StoreConfig::Postgres { url } => Ok(Arc::new(PgStore::open(url, node)?)),
    }
}
