"""Text that more than one command prints (a run's summary, the demo's report), kept apart from
the command modules so that no command imports another."""
