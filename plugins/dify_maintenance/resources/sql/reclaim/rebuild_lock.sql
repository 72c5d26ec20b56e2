-- Phase 2 starts here: the only moment readers wait, bounded by lock_timeout.
LOCK TABLE {{ "public"|ident }}.{{ table|ident }} IN ACCESS EXCLUSIVE MODE
