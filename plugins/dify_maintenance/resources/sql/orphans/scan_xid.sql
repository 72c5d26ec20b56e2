-- The oldest transaction still running now: a row written by it or by any later one is "changed
-- since the scan began" (as a 32-bit xid, the form of a row's xmin).
SELECT mod(txid_snapshot_xmin(txid_current_snapshot()), 4294967296)::text AS xid
