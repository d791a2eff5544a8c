-- Orders: what an order conversation knows beyond its number, title and customer
-- (stage, quantity, due date, assignee, shipping), as `OrderInfo` JSON. It is changed
-- only together with the message that changes it (stage change, shipment, order edit).
CREATE TABLE orders (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id),
    info TEXT NOT NULL
);

-- Orders that existed before this table: inquiries without details.
INSERT INTO orders (conversation_id, info)
SELECT id, '{"stage":"inquiry","quantity":null,"due_date":null,"assignee":null,"shipping":null,"received_at":null}'
FROM conversations WHERE kind = 'order';

-- The order record is folded from these kinds only; this index finds them without
-- reading the whole conversation. Queries must repeat this WHERE clause exactly.
CREATE INDEX messages_order_record ON messages(conversation_id, seq)
WHERE json_extract(body, '$.kind') IN
    ('confirmation_request', 'confirmation_answer', 'stage_change', 'progress_update', 'shipment', 'order_edit');
