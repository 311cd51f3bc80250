"""Compensation plans in TOML; default.toml is the one `downline plan load` takes by default.

A package only so that an install ships them (read with importlib.resources)."""
