-- The Dify schema revision(s): exactly one row on a healthy Dify database.
SELECT version_num FROM public.alembic_version ORDER BY version_num
