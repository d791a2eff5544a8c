-- Appended chunks are synced to disk in batches: `offset` is what was written,
-- `synced_offset` what is known to be on disk. Uploads staged before this were synced
-- chunk by chunk.
ALTER TABLE uploads ADD COLUMN synced_offset INTEGER NOT NULL DEFAULT 0;
UPDATE uploads SET synced_offset = "offset";
