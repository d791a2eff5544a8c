-- Search walks the index backwards from the newest rowid instead of collecting every
-- candidate first (see LocalDb::search). Two small tables make that possible.

-- The Latin words and numbers in the index. A typed word matches as a prefix, and FTS5
-- merges a prefix's doclists in full on every query; the same prefix expanded into the
-- exact words it begins is read lazily, page by page.
CREATE TABLE search_words (word TEXT PRIMARY KEY) WITHOUT ROWID;

CREATE VIRTUAL TABLE temp.search_index_terms USING fts5vocab(main, search_index, 'row');
-- Every indexed term that is not Chinese/Japanese/Korean (the ranges of search::is_cjk).
INSERT INTO search_words (word)
SELECT term FROM temp.search_index_terms
WHERE NOT (unicode(term) BETWEEN 12352 AND 12543
        OR unicode(term) BETWEEN 13312 AND 19903
        OR unicode(term) BETWEEN 19968 AND 40959
        OR unicode(term) BETWEEN 44032 AND 55215
        OR unicode(term) BETWEEN 63744 AND 64255
        OR unicode(term) BETWEEN 131072 AND 195103);
DROP TABLE temp.search_index_terms;

-- The newest sent_at among each block of 1,024 local ids. Walking backwards by local id,
-- a search may stop once nothing below the walked ids is newer than its last kept hit;
-- these maxima answer that without scanning history. A maximum only ever grows, so a
-- stale one is merely cautious.
CREATE TABLE newest_by_block (block INTEGER PRIMARY KEY, newest INTEGER NOT NULL);

INSERT INTO newest_by_block (block, newest)
SELECT local_id >> 10, max(sent_at) FROM messages WHERE sent_at IS NOT NULL GROUP BY local_id >> 10;

CREATE TRIGGER newest_by_block_on_insert AFTER INSERT ON messages WHEN new.sent_at IS NOT NULL
BEGIN
    INSERT INTO newest_by_block (block, newest) VALUES (new.local_id >> 10, new.sent_at)
    ON CONFLICT (block) DO UPDATE SET newest = max(newest, excluded.newest);
END;

CREATE TRIGGER newest_by_block_on_update AFTER UPDATE OF sent_at ON messages WHEN new.sent_at IS NOT NULL
BEGIN
    INSERT INTO newest_by_block (block, newest) VALUES (new.local_id >> 10, new.sent_at)
    ON CONFLICT (block) DO UPDATE SET newest = max(newest, excluded.newest);
END;
