-- Search results come newest first: walking the history by time must not sort it.
CREATE INDEX messages_by_time ON messages(sent_at DESC, local_id DESC);
