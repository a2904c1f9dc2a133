"""Bundled defaults, installed as the data package ``newsmon.defaults``; see newsmon.index.core.defaults."""
