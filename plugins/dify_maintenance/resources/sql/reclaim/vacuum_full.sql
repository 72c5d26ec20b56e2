VACUUM (FULL, ANALYZE) {{ "public"|ident }}.{{ table|ident }}
