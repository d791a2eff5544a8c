-- Satchel server schema (SQLite). One workspace per server.

CREATE TABLE workspace (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE orgs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE members (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'customer')),
    org_id INTEGER REFERENCES orgs(id),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((role = 'customer') = (org_id IS NOT NULL))
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id),
    device_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('order', 'direct', 'group')),
    title TEXT NOT NULL,
    org_id INTEGER REFERENCES orgs(id),
    order_number TEXT UNIQUE,
    last_seq INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER NOT NULL REFERENCES members(id),
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, member_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_member ON memberships(member_id, conversation_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    seq INTEGER NOT NULL,
    sender_id INTEGER NOT NULL REFERENCES members(id),
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (device_id, txn_id)
);

CREATE TABLE receipts (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    delivered_up_to INTEGER NOT NULL DEFAULT 0,
    read_up_to INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, member_id)
) WITHOUT ROWID;

-- The log every member's stream is read from. `pos` is assigned in commit order by the
-- single writer, so "everything after my position" is always complete.
CREATE TABLE events (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    payload TEXT NOT NULL
);
CREATE INDEX events_by_conversation ON events(conversation_id, pos);
