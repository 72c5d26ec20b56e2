-- The Dify schema revision, or nothing when the table is missing (not a Dify database).
SELECT version_num FROM public.alembic_version
