-- Chat-style conversations whose messages span weeks (some straddle any retention cutoff).
INSERT INTO conversations (id, app_id, mode, name, inputs, status, from_source, from_end_user_id, from_account_id,
    created_at, updated_at, invoke_from, dialogue_count)
SELECT pg_temp.u(%(seed)s || ':conv:' || c), pg_temp.u(%(seed)s || ':app:' || tn || ':' || mode), mode, 'Conversation ' || c, '{}',
       'normal', CASE WHEN console THEN 'console' ELSE 'api' END,
       CASE WHEN console THEN NULL ELSE pg_temp.u(%(seed)s || ':eu:' || (tn - 1 + %(tenants)s * (1 + h %% greatest(%(end_users)s / %(tenants)s - 1, 1)))) END,
       CASE WHEN console THEN pg_temp.u(%(seed)s || ':account:' || tn) END,
       at, least(at + make_interval(days => ((n - 1) * gap)::int), %(anchor)s - interval '1 minute'), 'web-app', n
FROM (
    SELECT c, 1 + c %% %(tenants)s AS tn, (ARRAY['chat', 'agent-chat', 'completion'])[1 + (c / %(tenants)s) %% 3] AS mode,
           pg_temp.h('cv' || %(seed)s || c) AS h, (pg_temp.h('con' || %(seed)s || c) %% 10 = 0) AS console,
           1 + (pg_temp.h('cn' || %(seed)s || c) %% 12)::int AS n, 1 + (pg_temp.h('cg' || %(seed)s || c) %% 4)::int AS gap,
           %(anchor)s - make_interval(secs => (pg_temp.h('ca' || %(seed)s || c) %% (%(span_days)s * 86400))::double precision) AS at
    FROM generate_series(1, %(conversations)s) AS c
) AS src
ORDER BY at
