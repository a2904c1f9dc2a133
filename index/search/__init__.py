"""Search backends behind one contract (backend.py): the embedded SQLite backend (FTS5 and
vectors in the store's file) and Elasticsearch. Both take query tokens and a vector computed by
the caller: no model is imported here."""
