import sys

from vssleval.cli import main

sys.exit(main())
