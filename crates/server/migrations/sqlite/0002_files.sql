-- Files: content-addressed blobs, resumable uploads, and which messages carry which blob.

CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mime TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id),
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    "offset" INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX uploads_by_member ON uploads(member_id, sha256);

CREATE TABLE message_blobs (
    message_id INTEGER NOT NULL REFERENCES messages(id),
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    PRIMARY KEY (message_id, sha256)
) WITHOUT ROWID;
CREATE INDEX message_blobs_by_blob ON message_blobs(sha256, message_id);
