-- Read receipts that matter: when each member read what, reminders, deadlines, mute.

-- Every position a member's read receipt reached, with the time it did. A message's read
-- time for a member is the first time their position reached its seq.
CREATE TABLE read_log (
    conversation_id INTEGER NOT NULL,
    member_id INTEGER NOT NULL,
    read_up_to INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, member_id, read_up_to)
) WITHOUT ROWID;

-- "Remind now" nudges, as received. `announced` is set once this profile has shown it.
CREATE TABLE reminders (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    sent_by INTEGER NOT NULL,
    recipients TEXT NOT NULL,
    at INTEGER NOT NULL,
    announced INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reminders_unannounced ON reminders(announced) WHERE announced = 0;

-- Deadline alerts already given (one per message and kind), so each is given once, even
-- across restarts.
CREATE TABLE deadline_alerts (
    message_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (message_id, kind)
) WITHOUT ROWID;

CREATE INDEX messages_with_deadline
    ON messages(json_extract(body, '$.deadline'))
    WHERE json_extract(body, '$.deadline') IS NOT NULL;

ALTER TABLE conversations ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
