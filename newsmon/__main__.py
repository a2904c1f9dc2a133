import sys

from newsmon.cli.main import main

sys.exit(main())
