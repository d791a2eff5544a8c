-- Full-text search. `search_index` holds each confirmed message's index terms (see
-- src/search.rs: CJK characters and pairs, Latin words), keyed by `messages.local_id`;
-- contentless and without positions, so it costs little beside the messages themselves.
-- Triggers queue every message that becomes confirmed, in the transaction that stores it;
-- the engine indexes the queue after each sync batch and before every search.
CREATE VIRTUAL TABLE search_index USING fts5(terms, content='', detail='none', tokenize='unicode61 remove_diacritics 2');

CREATE TABLE search_queue (local_id INTEGER PRIMARY KEY);

CREATE TRIGGER search_queue_on_insert AFTER INSERT ON messages WHEN new.seq IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO search_queue (local_id) VALUES (new.local_id);
END;

CREATE TRIGGER search_queue_on_confirm AFTER UPDATE OF seq ON messages
WHEN new.seq IS NOT NULL AND old.seq IS NULL
BEGIN
    INSERT OR IGNORE INTO search_queue (local_id) VALUES (new.local_id);
END;

-- History already on disk.
INSERT INTO search_queue (local_id) SELECT local_id FROM messages WHERE seq IS NOT NULL;
