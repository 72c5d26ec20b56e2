-- What must survive any correct purge, computed once on the template before any algorithm runs.
CREATE SCHEMA IF NOT EXISTS bench_truth;
CREATE TABLE IF NOT EXISTS bench_truth.keep (tbl text NOT NULL, id uuid NOT NULL, PRIMARY KEY (tbl, id));
CREATE TABLE IF NOT EXISTS bench_truth.dangling (edge text NOT NULL, id uuid NOT NULL, PRIMARY KEY (edge, id))
