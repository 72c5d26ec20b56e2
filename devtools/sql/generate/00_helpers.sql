-- Deterministic pseudo-random helpers for this session: the same seed always yields the same data.
CREATE OR REPLACE FUNCTION pg_temp.h(key text) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT ('x' || substr(md5(key), 1, 15))::bit(60)::bigint $$;
CREATE OR REPLACE FUNCTION pg_temp.u(key text) RETURNS uuid LANGUAGE sql IMMUTABLE AS
$$ SELECT md5(key)::uuid $$;
-- 40 KB of hex text as an immutable bytea constant (folded once per statement); payloads are
-- slices of it, so they compress about as well as real JSON logs, and slicing bytea is O(1).
DO $$
BEGIN
    EXECUTE format(
        'CREATE OR REPLACE FUNCTION pg_temp.block() RETURNS bytea LANGUAGE sql IMMUTABLE AS %L',
        'SELECT ' || quote_literal(convert_to((SELECT string_agg(md5(g::text), '' ORDER BY g) FROM generate_series(1, 1280) AS g), 'SQL_ASCII')) || '::bytea');
END
$$;
CREATE OR REPLACE FUNCTION pg_temp.payload(key text, n bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT '{"text": "' || convert_from(substring(pg_temp.block() FROM 1 + (pg_temp.h(key) % 30000)::int FOR n::int), 'UTF8') || '"}' $$
