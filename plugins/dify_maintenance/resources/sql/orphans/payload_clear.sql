DELETE FROM dm_payload_text
