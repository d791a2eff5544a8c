-- The index's rowids become time keys: sent_at × 65536 plus a slot for messages of the
-- same millisecond (one server commit batch shares a time), kept in `search_keys`.
-- Newest-first search then walks the index backwards a page at a time and stops, instead
-- of materialising every candidate of a common term (see LocalDb::search).
DROP TABLE search_index;
CREATE VIRTUAL TABLE search_index USING fts5(terms, content='', detail='none', tokenize='unicode61 remove_diacritics 2');

CREATE TABLE search_keys (
    key INTEGER PRIMARY KEY,
    local_id INTEGER NOT NULL UNIQUE
);

-- Everything is indexed again under its new key.
INSERT OR IGNORE INTO search_queue (local_id) SELECT local_id FROM messages WHERE seq IS NOT NULL;
