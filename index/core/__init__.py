"""The vocabulary every layer shares: the Article record, errors and reasons, settings types,
time helpers, YAML loading, the bundled defaults and the vector codec. Imports nothing else of
newsmon; the store, the search backends, the crawler, enrich and the app all build on it."""
