-- Export this transaction's snapshot so pg_dump (--snapshot) and our row counts see the same data.
SELECT pg_export_snapshot() AS snapshot
