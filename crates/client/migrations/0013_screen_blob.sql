-- A photo's screen level is uploaded beside it too: its message waits for all three.
ALTER TABLE outbox ADD COLUMN screen_blob TEXT;
