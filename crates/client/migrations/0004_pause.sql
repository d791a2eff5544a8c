-- A user can pause an upload; its messages stay queued.
ALTER TABLE files ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
