-- Exact row count of one table (used only when a restore check asks for exact counts).
SELECT count(*) AS rows FROM {{ "public"|ident }}.{{ table|ident }}
