-- Dify 1.12+ message cleanup maps the batch's apps to tenants (messages of deleted apps are skipped).
SELECT id, tenant_id FROM {{ "public"|ident }}.apps WHERE id = ANY(%(ids)s)
