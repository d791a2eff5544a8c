-- Orders: the conversation's order details (OrderInfo JSON) as the server last announced
-- them, and an index that finds an order's record messages without reading the whole
-- conversation. Queries must repeat the index's WHERE clause exactly.
ALTER TABLE conversations ADD COLUMN order_info TEXT;

CREATE INDEX messages_order_record ON messages(conversation_id, seq)
WHERE json_extract(body, '$.kind') IN
    ('confirmation_request', 'confirmation_answer', 'stage_change', 'progress_update', 'shipment', 'order_edit');
