-- Uploads whose recorded hash (Dify's sha3-256 of the content at upload, where it set one) differs
-- from the object just copied: the stored file changed or was replaced since it was uploaded.
SELECT u.id::text AS id, u.key, u.hash AS recorded, c.sha3 AS copied
FROM unnest(%(keys)s::text[], %(hashes)s::text[]) AS c (key, sha3)
JOIN upload_files AS u ON u.key = c.key
WHERE u.hash IS NOT NULL AND u.hash <> '' AND lower(u.hash) <> c.sha3
ORDER BY u.key
