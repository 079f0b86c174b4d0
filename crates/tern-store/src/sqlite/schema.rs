//! The SQLite schema. Message ids are UUIDv7 blobs (time-ordered, so inserts append); the dispatch
//! queue is the partial index on `messages.due_at`, which finished messages leave (`due_at` NULL).

/// Statements run on every open; all are idempotent.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    balance_micros INTEGER,
    status_url TEXT,
    status_format TEXT NOT NULL,
    inbound_url TEXT,
    channels TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    body_type TEXT,
    dcs INTEGER,
    app_key TEXT,
    rich_content TEXT,
    parts INTEGER NOT NULL,
    reference TEXT,
    custom_grouping1 TEXT,
    custom_grouping2 TEXT,
    custom_grouping3 TEXT,
    channels TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    state TEXT NOT NULL,
    channel_index INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    due_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_due ON messages(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_account ON messages(account_id, id);
CREATE TABLE IF NOT EXISTS status_events (
    message_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    channel TEXT NOT NULL,
    status INTEGER NOT NULL,
    error_code INTEGER,
    operator TEXT,
    PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_reference ON messages(account_id, reference) WHERE reference IS NOT NULL;
CREATE TABLE IF NOT EXISTS conversions (
    message_id BLOB NOT NULL,
    converted_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS conversions_message ON conversions(message_id);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id BLOB NOT NULL,
    url TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    leased INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_due ON reports(due_at);
CREATE INDEX IF NOT EXISTS reports_message ON reports(message_id, id);
"#;
