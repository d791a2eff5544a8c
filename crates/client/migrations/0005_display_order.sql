-- The timeline is read in display order (confirmed messages by seq, then own unsent ones);
-- without this index every page of a long conversation sorted all of its rows.
CREATE INDEX messages_display_order
    ON messages(conversation_id, COALESCE(seq, 9223372036854775807), local_id);
