{% import "purge/_macros.sql" as m %}
-- Run after the batch's deletes, as a new statement (so with a new snapshot), before the commit:
-- the batch's roots that are still there (the DELETE's re-check kept them after their children
-- went) or that got a new child or reference since (a concurrent write under a parent this
-- batch deleted: a node execution for a run, a message in a conversation).
-- Either way the batch rolls back and is redone without them; they wait for the next run.
SELECT c.{{ key|ident }}::text AS key
FROM {{ cand|ident }} AS c
WHERE (SELECT true FROM {{ "public"|ident }}.{{ table|ident }} AS r WHERE r.{{ key|ident }} = c.{{ key|ident }} LIMIT 1) IS NOT NULL
{% for step in children %}
   OR {{ m.child_exists(step, "c", probe=True) }}
{% endfor %}
{% for rule in guards if rule.kind != "status" %}
   OR ({{ m.keep_condition(rule, "c", probe=True) }})
{% endfor %}
