-- Row count and an order-independent hash of every row: equal means the same rows were kept.
SELECT count(*) AS n, coalesce(sum(hashtextextended(t::text, 0)), 0) AS digest
FROM {{ "public"|ident }}.{{ table|ident }} t
