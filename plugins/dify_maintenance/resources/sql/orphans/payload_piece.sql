INSERT INTO dm_payload_text (n, content) VALUES (%(n)s, %(content)s)
