-- Files this profile holds in its content-addressed cache (`files/<sha256>`): its own
-- outgoing ones (pinned until sent, never evicted) and downloaded originals.
CREATE TABLE files (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    pinned INTEGER NOT NULL DEFAULT 0,
    last_used INTEGER NOT NULL
);

-- The file an outbox entry carries, if any: the entry is sent only once the server holds it.
ALTER TABLE outbox ADD COLUMN blob TEXT;
