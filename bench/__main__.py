"""``python -m bench --scale 100k|1m [--workers N] [--grown [--days N]] [--keep]``: see
bench/run.py (the bulk-loaded store) and bench/grown.py (the store grown day by day)."""

import sys

from bench.run import main

sys.exit(main(sys.argv[1:]))
