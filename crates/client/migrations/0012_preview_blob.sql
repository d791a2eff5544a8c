-- A photo's preview is uploaded beside the original: its message waits for both.
ALTER TABLE outbox ADD COLUMN preview_blob TEXT;
