//! The SQLite schema and its versions. Message ids are UUIDv7 blobs (time-ordered, so inserts
//! append); the dispatch queue is the partial index on `messages.due_at`, which finished messages
//! leave (`due_at` NULL). The version is SQLite's `user_version`: a database is brought to
//! [`MIGRATIONS`]'s last version on open, one step per transaction, so a data directory written
//! by an earlier Tern opens with everything it holds.

use rusqlite::Connection;
use tern_core::ports::StoreError;

use super::backend_error;

/// The first schema (version 1). Its statements are idempotent: databases created before
/// versions were recorded (version 0) already have these tables.
pub const BASE: &str = r#"
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

/// The changes after [`BASE`]: entry `i` brings version `i + 1` to `i + 2`.
const MIGRATIONS: &[&str] = &[
    // 2: every report carries its stable id (reports already queued get one from their row).
    r#"
ALTER TABLE reports ADD COLUMN report_id TEXT NOT NULL DEFAULT '';
UPDATE reports SET report_id = lower(hex(message_id)) || '-r' || id WHERE report_id = '';
"#,
    // 3: what a `msg` says for all its recipients is kept once, in `contents`; each message row
    // refers to it (messages stored before get a content row each), counts its status changes
    // (which numbers the next one without reading the history) and says whether its content has
    // custom groupings.
    r#"
CREATE TABLE contents (
    id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    body_type TEXT,
    dcs INTEGER,
    app_key TEXT,
    rich_content TEXT,
    custom_grouping1 TEXT,
    custom_grouping2 TEXT,
    custom_grouping3 TEXT
);
CREATE TEMP TABLE content_of AS
    SELECT id AS message_id, ROW_NUMBER() OVER (ORDER BY id) AS content_id FROM messages;
INSERT INTO contents (id, sender, body, body_type, dcs, app_key, rich_content,
        custom_grouping1, custom_grouping2, custom_grouping3)
    SELECT o.content_id, m.sender, m.body, m.body_type, m.dcs, m.app_key, m.rich_content,
        m.custom_grouping1, m.custom_grouping2, m.custom_grouping3
    FROM messages m JOIN content_of o ON o.message_id = m.id;
CREATE TABLE messages_with_content (
    id BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    recipient TEXT NOT NULL,
    content_id INTEGER NOT NULL REFERENCES contents(id),
    parts INTEGER NOT NULL,
    reference TEXT,
    channels TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    state TEXT NOT NULL,
    channel_index INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    due_at INTEGER,
    -- Status changes recorded so far: the next one's number is events + 1.
    events INTEGER NOT NULL,
    -- Whether the content has custom groupings (reports read them only then).
    has_groupings INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO messages_with_content
    SELECT m.id, m.account_id, m.recipient, o.content_id, m.parts, m.reference, m.channels,
        m.accepted_at, m.valid_until, m.price_micros, m.state, m.channel_index, m.attempt, m.due_at,
        (SELECT COALESCE(MAX(s.seq), 0) FROM status_events s WHERE s.message_id = m.id),
        m.custom_grouping1 IS NOT NULL OR m.custom_grouping2 IS NOT NULL
            OR m.custom_grouping3 IS NOT NULL
    FROM messages m JOIN content_of o ON o.message_id = m.id;
DROP TABLE content_of;
DROP TABLE messages;
ALTER TABLE messages_with_content RENAME TO messages;
CREATE INDEX messages_due ON messages(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX messages_account ON messages(account_id, id);
CREATE INDEX messages_reference ON messages(account_id, reference) WHERE reference IS NOT NULL;
"#,
    // 4: the row the readiness probe writes (a real write through the writer, see `ready`).
    r#"
CREATE TABLE readiness (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at INTEGER NOT NULL
);
"#,
    // 5: temporary send errors in a row on a message's current channel (they set the delay of
    // its next retry there).
    r#"
ALTER TABLE messages ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0;
"#,
    // 6: the id a channel gave each part it took, keyed (and so indexed) by the connector that
    // sent it and that id, so that a receipt naming only the channel's id finds its part.
    r#"
CREATE TABLE external_ids (
    connector TEXT NOT NULL,
    external_id TEXT NOT NULL,
    message_id BLOB NOT NULL,
    attempt INTEGER NOT NULL,
    part_index INTEGER NOT NULL,
    PRIMARY KEY (connector, external_id)
) WITHOUT ROWID;
"#,
    // 7: leases name the node that holds them, so that a node releases only its own. A message
    // is leased while a claim sends it; the claims of a database written before (by its one
    // node) are taken to be the embedded node's: queued messages due later were either claimed
    // or waiting for a retry, and the embedded node released both on its next start.
    r#"
ALTER TABLE messages ADD COLUMN leased_by TEXT;
UPDATE messages SET leased_by = 'embedded' WHERE state = 'queued' AND due_at IS NOT NULL;
ALTER TABLE reports ADD COLUMN leased_by TEXT;
UPDATE reports SET leased_by = 'embedded' WHERE leased = 1;
"#,
    // 8: the outbox keeps entries that point at facts, rendered when they are sent (see
    // `tern_core::outbox`), instead of finished webhook bodies. A status webhook's fact is its
    // status change (`message_id`, `seq`) and its destination the message's account, whose
    // status URL and format are read when it is sent. Reports queued before become such entries
    // when their id names a recorded status change (`{messageId}-{seq}`, every report since
    // step 2); the others (reports of step 2's backfill, `{hex}-r{id}`) keep their rendered
    // body and URL in `rendered_webhooks` and are delivered as they are. Entries keep their row
    // id, so each message's entries stay in the order they were generated; attempts, times and
    // leases carry over.
    r#"
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    -- The destination: an account (its settings are read when the entry is sent) or a URL.
    account_id INTEGER,
    url TEXT,
    -- Entries of one key go out one at a time, lowest id first.
    ordering_key TEXT NOT NULL,
    -- The fact: a status change (message_id, seq) or a rendered webhook (rendered_id).
    message_id BLOB,
    seq INTEGER,
    rendered_id INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    leased_by TEXT
);
CREATE INDEX outbox_due ON outbox(due_at);
CREATE INDEX outbox_order ON outbox(ordering_key, id);
CREATE TABLE rendered_webhooks (
    id INTEGER PRIMARY KEY,
    message_id BLOB NOT NULL,
    report_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL
);
-- Each queued report's message id in its text form (the ordering key, and the head of the
-- report ids of step 2 on).
CREATE TEMP TABLE report_keys AS
    SELECT id, lower(substr(hex(message_id), 1, 8) || '-' || substr(hex(message_id), 9, 4) || '-'
        || substr(hex(message_id), 13, 4) || '-' || substr(hex(message_id), 17, 4) || '-'
        || substr(hex(message_id), 21, 12)) AS message_text
    FROM reports;
CREATE TEMP TABLE report_facts AS
    SELECT r.id AS report_id, m.account_id AS account_id, s.seq AS seq
    FROM reports r
    JOIN report_keys k ON k.id = r.id
    JOIN messages m ON m.id = r.message_id
    JOIN status_events s ON s.message_id = r.message_id AND r.report_id = k.message_text || '-' || s.seq;
INSERT INTO outbox (id, kind, account_id, ordering_key, message_id, seq, attempts, created_at,
        due_at, leased_by)
    SELECT r.id, 'status_webhook', f.account_id, k.message_text, r.message_id, f.seq, r.attempts,
        r.created_at, r.due_at, r.leased_by
    FROM reports r JOIN report_facts f ON f.report_id = r.id JOIN report_keys k ON k.id = r.id;
INSERT INTO rendered_webhooks (id, message_id, report_id, content_type, body)
    SELECT id, message_id, report_id, content_type, body FROM reports
    WHERE id NOT IN (SELECT report_id FROM report_facts);
INSERT INTO outbox (id, kind, url, ordering_key, rendered_id, attempts, created_at, due_at,
        leased_by)
    SELECT r.id, 'rendered_webhook', r.url, k.message_text, r.id, r.attempts, r.created_at,
        r.due_at, r.leased_by
    FROM reports r JOIN rendered_webhooks w ON w.id = r.id JOIN report_keys k ON k.id = r.id;
DROP TABLE report_keys;
DROP TABLE report_facts;
DROP TABLE reports;
"#,
    // 9: a content may carry the user data header its client gave (an SMS part an SMPP client
    // concatenates itself), sent before its body.
    r#"
ALTER TABLE contents ADD COLUMN udh BLOB;
"#,
    // 10: the connector that took a message's current attempt, from which its report is awaited
    // (after a restart the message is resumed there, not on its route's primary).
    r#"
ALTER TABLE messages ADD COLUMN connector TEXT;
"#,
    // 11: an account's SMPP credentials and options (all NULL for an account without SMPP, as
    // every account created before is): its system id, unique among the accounts that have one,
    // the password's Argon2 PHC string, the most binds, the rate in parts per second (NULL:
    // unlimited), and the receipts' format and PDU.
    r#"
ALTER TABLE accounts ADD COLUMN smpp_system_id TEXT;
ALTER TABLE accounts ADD COLUMN smpp_password_hash TEXT;
ALTER TABLE accounts ADD COLUMN smpp_max_binds INTEGER;
ALTER TABLE accounts ADD COLUMN smpp_rate INTEGER;
ALTER TABLE accounts ADD COLUMN smpp_receipt_format TEXT;
ALTER TABLE accounts ADD COLUMN smpp_receipt_pdu TEXT;
CREATE UNIQUE INDEX accounts_smpp_system_id ON accounts(smpp_system_id)
    WHERE smpp_system_id IS NOT NULL;
"#,
    // 12: the surface a message was submitted on (the message log's `source`; messages stored
    // before came in over JSON or XML, and are taken to be JSON) and the SMPP
    // `registered_delivery` it asked for (0, no receipts, for every message stored before). The
    // outbox is claimed by kind (the webhook runner and the SMPP receipt runner each claim their
    // own), so its due index leads with the kind; the receipt runner claims the receipts of the
    // accounts bound to it, read by account from an index of receipts alone (webhooks do not pay
    // for it).
    r#"
ALTER TABLE messages ADD COLUMN source TEXT NOT NULL DEFAULT 'json';
ALTER TABLE messages ADD COLUMN smpp_registered_delivery INTEGER NOT NULL DEFAULT 0;
DROP INDEX outbox_due;
CREATE INDEX outbox_kind_due ON outbox(kind, due_at);
CREATE INDEX outbox_receipts_due ON outbox(account_id, due_at) WHERE kind = 'smpp_receipt';
"#,
    // 13: a message that is a segment of a concatenated message (an SMPP client's header with a
    // concatenation element) keeps its reference, total and number (all NULL for any other
    // message, as for every message stored before). Its group is found by its key, read from an
    // index of segments alone on the account, recipient, reference and total (the sender, the
    // rest of the key, is its content's). `segment_group` is the id of the group's first-stored
    // segment, written on each segment when a claim hands the group on (NULL while it waits), so
    // that the log shows the segments handed on together as one message even when a later group
    // reuses the reference.
    r#"
ALTER TABLE messages ADD COLUMN segment_ref INTEGER;
ALTER TABLE messages ADD COLUMN segment_total INTEGER;
ALTER TABLE messages ADD COLUMN segment_seq INTEGER;
ALTER TABLE messages ADD COLUMN segment_group BLOB;
CREATE INDEX messages_segment ON messages(account_id, recipient, segment_ref, segment_total)
    WHERE segment_ref IS NOT NULL;
CREATE INDEX messages_segment_group ON messages(segment_group) WHERE segment_group IS NOT NULL;
"#,
    // 14: inbound (MO) messages. An account's inbound numbers (normalised, see
    // `tern_core::inbound::normalise_number`), each unique across accounts, in the order given.
    // The parts of a concatenated MO kept until all of its key are there (a part given twice is
    // kept once: the key and number are unique), read by key, and by arrival to flush those whose
    // time ran out. The inbound messages themselves, by account for the log (a message nobody
    // owns has no account, and is found by its arrival to be purged); an outbox entry's fact is
    // an inbound message when its kind says so (its `message_id`, no `seq`).
    r#"
CREATE TABLE inbound_numbers (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL
);
CREATE INDEX inbound_numbers_account ON inbound_numbers(account_id, id);
CREATE TABLE inbound_parts (
    id INTEGER PRIMARY KEY,
    connector TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    reference INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    channel TEXT NOT NULL,
    data_coding INTEGER NOT NULL,
    payload BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (connector, sender, recipient, reference, total, seq)
);
CREATE INDEX inbound_parts_received ON inbound_parts(received_at);
CREATE TABLE inbound_messages (
    id BLOB PRIMARY KEY,
    account_id INTEGER,
    connector TEXT NOT NULL,
    channel TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    parts INTEGER NOT NULL,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX inbound_messages_account ON inbound_messages(account_id, id) WHERE account_id IS NOT NULL;
CREATE INDEX inbound_messages_unowned ON inbound_messages(received_at) WHERE account_id IS NULL;
"#,
    // 15: what a channel reported about each part of a message of several parts, per attempt
    // (`part_reports::merge` decides what is kept), so that the message's report is what its parts
    // come to, across restarts; and the ids channels gave a message's parts, read by message
    // for its log entry (which connector took each attempt, and under which ids: `given_id` is
    // the id as the channel wrote it, when receipts are matched on another form of it).
    r#"
CREATE TABLE part_reports (
    message_id BLOB NOT NULL,
    attempt INTEGER NOT NULL,
    part_index INTEGER NOT NULL,
    status INTEGER NOT NULL,
    error_code INTEGER,
    operator TEXT,
    PRIMARY KEY (message_id, attempt, part_index)
) WITHOUT ROWID;
CREATE INDEX external_ids_message ON external_ids(message_id);
ALTER TABLE external_ids ADD COLUMN given_id TEXT;
"#,
    // 16: a channel's own words on a status change (a provider's error code and title), the
    // report's error description when present.
    r#"
ALTER TABLE status_events ADD COLUMN detail TEXT;
"#,
    // 17: push apps (CM's app keys, each an account's, sending through one FCM connector; listed
    // in the order they were created, by rowid) and
    // the devices registered under them with CM's app SDK: one row per installation, found by
    // the number it registered with (a message's recipient) and by its push token (what FCM
    // says is gone); one token per app.
    r#"
CREATE TABLE push_apps (
    app_key TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    connector TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE push_installations (
    id TEXT PRIMARY KEY,
    app_key TEXT NOT NULL,
    push_token TEXT NOT NULL,
    device_os TEXT NOT NULL,
    device_os_version TEXT,
    device_model TEXT,
    app_id TEXT,
    app_version TEXT,
    lib_id TEXT,
    lib_version TEXT,
    push_authorization TEXT,
    preferred_languages TEXT NOT NULL,
    msisdn TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX push_installations_token ON push_installations(app_key, push_token);
CREATE INDEX push_installations_msisdn ON push_installations(app_key, msisdn) WHERE msisdn IS NOT NULL;
"#,
    // 18: inbound messages a channel provider delivered whole (WhatsApp, RCS): the provider's id,
    // unique per connector so that a redelivery is recorded once, and what the message carries
    // besides its text (`tern_core::inbound::InboundExtras` as JSON; none for an SMS).
    r#"
ALTER TABLE inbound_messages ADD COLUMN provider_id TEXT;
ALTER TABLE inbound_messages ADD COLUMN extras TEXT;
CREATE UNIQUE INDEX inbound_messages_provider ON inbound_messages(connector, provider_id)
    WHERE provider_id IS NOT NULL;
"#,
    // 19: blocklists (opt-outs): a number on the global list (scope 0) or an account's (scope: its
    // id), in `tern_core::blocklist::normalise`'s form; looked up by number.
    r#"
CREATE TABLE blocklist (
    scope INTEGER NOT NULL,
    number TEXT NOT NULL,
    blocked_at INTEGER NOT NULL,
    PRIMARY KEY (scope, number)
) WITHOUT ROWID;
CREATE INDEX blocklist_number ON blocklist(number);
"#,
    // 20: account management and signed webhooks: whether an account is disabled (not found by
    // its token or system id), the secret its webhooks are signed with, and the one it replaced
    // with when (it signs too during `[webhooks] rotation_overlap_hours`). Accounts created
    // before get a random secret here (`tern account rotate-secret` shows a new one).
    r#"
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN webhook_secret TEXT;
ALTER TABLE accounts ADD COLUMN webhook_secret_previous TEXT;
ALTER TABLE accounts ADD COLUMN webhook_secret_rotated_at INTEGER;
UPDATE accounts SET webhook_secret = lower(hex(randomblob(32))) WHERE webhook_secret IS NULL;
"#,
    // 21: idempotent submits (`tern_core::idempotency`): a client's key, unique per account, stored
    // in the transaction that stored the messages its request created, with the SHA-256 of the
    // request's body and the response it got (status, content type, body bytes). Keys past their
    // lifetime are deleted by age (`created_at`, Unix milliseconds).
    r#"
CREATE TABLE idempotency_keys (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
"#,
    // 22: the blocklists' version (`BlocklistStore::blocklist_version`), counted by triggers on
    // every row put on or taken off a list, whichever statement does it: the gateway's cache of
    // the lists reads one row each second, and the lists only when it changed.
    r#"
CREATE TABLE blocklist_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO blocklist_version (id, version) VALUES (1, 0);
CREATE TRIGGER blocklist_added AFTER INSERT ON blocklist
BEGIN
    UPDATE blocklist_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER blocklist_removed AFTER DELETE ON blocklist
BEGIN
    UPDATE blocklist_version SET version = version + 1 WHERE id = 1;
END;
"#,
    // 23: a rendered webhook's body (step 8) goes with its outbox entry, whichever statement
    // deletes the entry. The statements that deleted entries read `rendered_id` back with
    // `RETURNING`, which SQLite carries out through a temporary table of its own for every
    // statement: about twice the cost of the delete itself, paid for every status report sent,
    // for rows that only databases from before step 8 have.
    r#"
CREATE TRIGGER outbox_rendered_gone AFTER DELETE ON outbox WHEN old.rendered_id IS NOT NULL
BEGIN
    DELETE FROM rendered_webhooks WHERE id = old.rendered_id;
END;
"#,
];

/// The version [`migrate`] brings a database to.
pub const VERSION: i64 = MIGRATIONS.len() as i64 + 1;

/// Bring the database to [`VERSION`]; a database from a newer Tern is refused.
pub fn migrate(connection: &Connection) -> Result<(), StoreError> {
    migrate_to(connection, VERSION)
}

/// Bring the database to version `target` (a test builds the database of an earlier Tern so).
pub(crate) fn migrate_to(connection: &Connection, target: i64) -> Result<(), StoreError> {
    let mut version: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(backend_error)?;
    if version > VERSION {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}; this Tern knows up to {VERSION}: use a newer Tern"
        )));
    }
    if version == 0 {
        step(connection, BASE, 1)?;
        version = 1;
    }
    let steps = MIGRATIONS.iter().enumerate().take(target as usize - 1);
    for (index, migration) in steps.skip(version as usize - 1) {
        step(connection, migration, index as i64 + 2)?;
    }
    Ok(())
}

fn step(connection: &Connection, sql: &str, to: i64) -> Result<(), StoreError> {
    connection
        .execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {to}; COMMIT;"
        ))
        .map_err(|error| {
            let _ = connection.execute_batch("ROLLBACK");
            backend_error(error)
        })
}
