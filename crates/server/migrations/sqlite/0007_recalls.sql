-- Which messages were recalled, found without scanning a conversation: an annotation on
-- a recalled photo is refused (the photo is gone from every album).
CREATE INDEX messages_recalled ON messages(conversation_id, json_extract(body, '$.target'))
WHERE json_extract(body, '$.kind') = 'recall';
