ANALYZE {{ "public"|ident }}.{{ table|ident }}
