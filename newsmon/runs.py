"""Run statuses written to the store's runs table, shared by every command that records a run."""
from __future__ import annotations

RUN_OK, RUN_PARTIAL, RUN_FAILED = "ok", "partial", "failed"
