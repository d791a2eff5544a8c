-- The server's hash chain, checked as history arrives (see src/integrity.rs).

-- The link the server gave each message; NULL for own messages not yet echoed and for
-- messages stored before links existed (they adopt the server's link when it next
-- presents them).
ALTER TABLE messages ADD COLUMN chain TEXT;

-- Per conversation, the end of the verified prefix 1..=verified_seq.
CREATE TABLE chain_state (
    conversation_id INTEGER PRIMARY KEY,
    verified_seq INTEGER NOT NULL,
    link TEXT NOT NULL
);

-- Breaks found in the chain. Kept for good: they are evidence too.
CREATE TABLE chain_alarms (
    conversation_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    message_id INTEGER,
    problem TEXT NOT NULL,
    detail TEXT NOT NULL,
    detected_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq, problem)
);
