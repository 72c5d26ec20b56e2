VACUUM (ANALYZE) {{ "public"|ident }}.{{ table|ident }}
