-- The common blog recipe: one DELETE per table by age, each its own (long) transaction.
DELETE FROM {{ "public"|ident }}.{{ table|ident }} WHERE created_at < %(cutoff)s
