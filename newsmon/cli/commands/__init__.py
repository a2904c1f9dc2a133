"""One module per `newsmon` command; only newsmon.cli imports them."""
