"""The `newsmon` command line: the entry point (main.py), the click context (context.py), one
module per command (commands/) that only parses, calls newsmon.app and prints, the options
several commands share (options.py) and the text several commands print (presenters/)."""
from newsmon.cli.main import main

__all__ = ["main"]
