-- Drop the table a rebuild swapped out (a separate, short transaction after the swap).
DROP TABLE IF EXISTS {{ "public"|ident }}.{{ table|ident }}
