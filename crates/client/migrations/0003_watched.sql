-- Folders bound to conversations: new files in them are sent automatically, once each.
CREATE TABLE watched_folders (
    path TEXT PRIMARY KEY,
    conversation_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_error TEXT
);

CREATE TABLE watched_files (
    folder TEXT NOT NULL REFERENCES watched_folders(path) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (folder, name)
);
CREATE INDEX watched_files_by_hash ON watched_files(folder, sha256);
