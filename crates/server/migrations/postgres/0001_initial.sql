-- Satchel server schema (PostgreSQL): the SQLite schema of migrations/sqlite as it
-- stands after all its migrations, in PostgreSQL's types. Times are Unix milliseconds,
-- ids and sizes BIGINT (the store reads every integer as i64), JSON bodies TEXT exactly
-- as committed (the hash chain covers those bytes; jsonb would reorder keys).

CREATE TABLE workspace (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE orgs (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE members (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'customer')),
    org_id BIGINT REFERENCES orgs(id),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK ((role = 'customer') = (org_id IS NOT NULL))
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members(id),
    device_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE conversations (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('order', 'direct', 'group')),
    title TEXT NOT NULL,
    org_id BIGINT REFERENCES orgs(id),
    order_number TEXT UNIQUE,
    last_seq BIGINT NOT NULL DEFAULT 0,
    created_by BIGINT NOT NULL REFERENCES members(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    member_id BIGINT NOT NULL REFERENCES members(id),
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, member_id)
);
CREATE INDEX memberships_by_member ON memberships(member_id, conversation_id);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    seq BIGINT NOT NULL,
    sender_id BIGINT NOT NULL REFERENCES members(id),
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    chain TEXT,
    UNIQUE (conversation_id, seq),
    UNIQUE (device_id, txn_id)
);

-- The order record is folded from these kinds only. Queries must repeat the expression
-- (`Dialect::json_text`) and this WHERE clause exactly.
CREATE INDEX messages_order_record ON messages(conversation_id, seq)
WHERE (body::jsonb ->> 'kind') IN
    ('confirmation_request', 'confirmation_answer', 'stage_change', 'progress_update', 'shipment', 'order_edit');

-- Which messages were recalled: an annotation on a recalled photo is refused.
CREATE INDEX messages_recalled ON messages(conversation_id, ((body::jsonb ->> 'target')::bigint))
WHERE (body::jsonb ->> 'kind') = 'recall';

CREATE TABLE receipts (
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    member_id BIGINT NOT NULL REFERENCES members(id),
    delivered_up_to BIGINT NOT NULL DEFAULT 0,
    read_up_to BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, member_id)
);

-- The log every member's stream is read from. Positions come from a sequence, taken
-- while the commit lock is held (see store::sql), so they follow commit order.
CREATE TABLE events (
    pos BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    payload TEXT NOT NULL
);
CREATE INDEX events_by_conversation ON events(conversation_id, pos);

CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    mime TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members(id),
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    "offset" BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX uploads_by_member ON uploads(member_id, sha256);

CREATE TABLE message_blobs (
    message_id BIGINT NOT NULL REFERENCES messages(id),
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    PRIMARY KEY (message_id, sha256)
);
CREATE INDEX message_blobs_by_blob ON message_blobs(sha256, message_id);

CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'customer')),
    org_id BIGINT REFERENCES orgs(id),
    created_by BIGINT NOT NULL REFERENCES members(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_by BIGINT REFERENCES members(id),
    used_at BIGINT
);

CREATE TABLE reminders (
    id BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    message_id BIGINT NOT NULL REFERENCES messages(id),
    sent_by BIGINT NOT NULL REFERENCES members(id),
    recipients TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX reminders_by_message ON reminders(message_id, at);

CREATE TABLE orders (
    conversation_id BIGINT PRIMARY KEY REFERENCES conversations(id),
    info TEXT NOT NULL
);
