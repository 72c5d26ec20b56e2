-- The oldest transaction still running now, as a 32-bit xid (the form of a row's xmin): a row
-- written by it or by any later one is "changed since this pass began".
SELECT mod(txid_snapshot_xmin(txid_current_snapshot()), 4294967296)::text AS xid
