"""The queries as files: graph/ runs them, and the data team runs them with cypher-shell.

A package only so that an install ships them (read with importlib.resources)."""
