import sys

from newsmon.cli import main

sys.exit(main())
