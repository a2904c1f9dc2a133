"""`newsmon serve`: the HTTP API (FastAPI) and the search page's static files (web/)."""
