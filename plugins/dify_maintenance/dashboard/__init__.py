"""The maintenance page: what the runs did and how the database grows, from our own tables and
the catalog (``model``), drawn as server-side SVG (``charts``) in one HTML page (``page``)."""
