"""newsmon: monitor English and Japanese news (CLI, settings and orchestration)."""
__version__ = "0.1.0"
