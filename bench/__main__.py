"""``python -m bench --scale 100k|1m [--workers N] [--keep]``: see bench/run.py."""

import sys

from bench.run import main

sys.exit(main(sys.argv[1:]))
