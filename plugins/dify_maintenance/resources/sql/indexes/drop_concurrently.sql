-- Remove one of our temporary supporting indexes without blocking Dify's reads or writes.
DROP INDEX CONCURRENTLY IF EXISTS {{ "public"|ident }}.{{ index|ident }}
