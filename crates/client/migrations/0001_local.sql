-- Satchel client: one profile's local history.

CREATE TABLE profile (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    org_id INTEGER,
    order_number TEXT,
    members TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    org_id INTEGER
);

-- Every message the user can see: confirmed ones (id and seq set) and their own
-- not-yet-acknowledged ones (state 'pending' or 'failed', id and seq NULL).
CREATE TABLE messages (
    local_id INTEGER PRIMARY KEY AUTOINCREMENT,
    id INTEGER UNIQUE,
    conversation_id INTEGER NOT NULL,
    seq INTEGER,
    sender_id INTEGER NOT NULL,
    sender_device TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    error TEXT,
    UNIQUE (sender_device, txn_id)
);
CREATE UNIQUE INDEX messages_by_seq ON messages(conversation_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX messages_timeline ON messages(conversation_id, local_id);

-- Sends waiting for the server's ack. A row is written in the same transaction as its
-- pending message and removed in the same transaction that confirms it.
CREATE TABLE outbox (
    txn_id TEXT PRIMARY KEY,
    local_id INTEGER NOT NULL UNIQUE REFERENCES messages(local_id),
    conversation_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('queued', 'failed')),
    last_error TEXT
);

CREATE TABLE receipts (
    conversation_id INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    delivered_up_to INTEGER NOT NULL,
    read_up_to INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, member_id)
);

-- This profile's own receipt positions and how far the server has confirmed them.
CREATE TABLE my_receipts (
    conversation_id INTEGER PRIMARY KEY,
    delivered_up_to INTEGER NOT NULL DEFAULT 0,
    read_up_to INTEGER NOT NULL DEFAULT 0,
    synced_delivered INTEGER NOT NULL DEFAULT 0,
    synced_read INTEGER NOT NULL DEFAULT 0
);
