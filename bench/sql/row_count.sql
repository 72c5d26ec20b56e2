SELECT count(*) AS n FROM {{ "public"|ident }}.{{ table|ident }}
