-- Dify's per-batch child delete: rows whose reference is in the batch's id list.
DELETE FROM {{ "public"|ident }}.{{ table|ident }} WHERE {{ column|ident }} = ANY(%(ids)s)
