COPY _dm_restore ({% for c in columns %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %}) FROM STDIN
