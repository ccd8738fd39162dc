import sys

from pageview_platform.cli import main

sys.exit(main())
