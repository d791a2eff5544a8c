-- "Remind now": a sender nudges the members who have not read one of their messages.
-- Kept so that reminders are rate-limited per message and can be audited.
CREATE TABLE reminders (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    message_id INTEGER NOT NULL REFERENCES messages(id),
    sent_by INTEGER NOT NULL REFERENCES members(id),
    recipients TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX reminders_by_message ON reminders(message_id, at);
