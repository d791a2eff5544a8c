-- Each message's link in its conversation's hash chain (see satchel_protocol::chain).
-- NULL only between this migration and the store's first open, which links the rows
-- stored before it.
ALTER TABLE messages ADD COLUMN chain TEXT;

-- Finds the rows still to link at open without scanning the table.
CREATE INDEX messages_unchained ON messages(conversation_id, seq) WHERE chain IS NULL;
