-- Fresh statistics for the batch table, so the planner joins it to big tables through their indexes.
ANALYZE {{ cand|ident }}
