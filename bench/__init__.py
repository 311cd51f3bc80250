"""The benchmark of issue 6: ``python -m bench --scale 100k|1m`` (docs/scaling.md)."""
