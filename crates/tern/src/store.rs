//! How the binary's commands open the store: PostgreSQL when a database URL is given
//! (`--database-url`, `TERN_DATABASE_URL`, `database_url`), else SQLite in the data directory;
//! and the name a node holds its leases in.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tern_core::ports::{NodeId, Store};
use tern_store::StoreConfig;

use crate::cli::StoreArgs;

/// The store `database_url` or `data_dir` names.
pub fn config(data_dir: &Path, database_url: Option<&str>) -> StoreConfig {
    match database_url {
        Some(url) => StoreConfig::Postgres {
            url: url.to_owned(),
        },
        None => StoreConfig::Sqlite {
            data_dir: data_dir.to_owned(),
        },
    }
}

/// Open the store `config` names as `node`, saying which store a failure is about (a
/// database URL is named without its password).
pub fn open(config: &StoreConfig, node: NodeId) -> anyhow::Result<Arc<dyn Store>> {
    tern_store::open(config, node).with_context(|| match config {
        StoreConfig::Sqlite { data_dir } => {
            format!("cannot open the store in {}", data_dir.display())
        }
        StoreConfig::Postgres { url } => {
            format!("cannot open the store at {}", without_password(url))
        }
    })
}

/// Open the store of a command's `--data-dir` / `--database-url` (an administrative command:
/// it holds no leases).
pub fn open_for_command(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    open(
        &config(&args.data_dir, args.database_url.as_deref()),
        NodeId::new(NodeId::EMBEDDED),
    )
}

/// `url` with the password of its user info replaced by `***`, for messages and logs.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The name of this node: `[cluster] node_id` when set, else on PostgreSQL the host's name and a
/// random suffix (every start is a new node: a restarted process does not take over the leases
/// of the one before, which run out as any dead node's do); the embedded store has one node.
pub fn node_id(configured: Option<&str>, postgres: bool) -> NodeId {
    match configured {
        Some(name) => NodeId::new(name),
        None if postgres => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .or_else(|_| std::fs::read_to_string("/etc/hostname"))
                .map(|name| name.trim().to_owned())
                .ok()
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "tern".to_owned());
            let suffix = uuid::Uuid::new_v4().simple().to_string();
            NodeId::new(format!("{host}-{}", &suffix[..8]))
        }
        None => NodeId::new(NodeId::EMBEDDED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_named_without_its_password() {
        assert_eq!(
            without_password("postgres://tern:s3cret@db.example:5432/tern?sslmode=disable"),
            "postgres://tern:***@db.example:5432/tern?sslmode=disable"
        );
        assert_eq!(
            without_password("postgres://tern@127.0.0.1/tern"),
            "postgres://tern@127.0.0.1/tern"
        );
        assert_eq!(without_password("not a url"), "not a url");
    }

    #[test]
    fn a_node_is_named_by_configuration_or_after_its_host() {
        assert_eq!(node_id(Some("node-a"), true).as_str(), "node-a");
        assert_eq!(node_id(None, false).as_str(), NodeId::EMBEDDED);
        let first = node_id(None, true);
        let second = node_id(None, true);
        assert_ne!(first, second, "every start is a new node");
        let (host, suffix) = first.as_str().rsplit_once('-').expect("host-suffix");
        assert!(!host.is_empty());
        assert_eq!(suffix.len(), 8);
    }
}
