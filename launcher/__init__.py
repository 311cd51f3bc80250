"""The Maven project that starts Neo4j Community embedded, with Bolt (graph/server.py builds it).

A package only so that an install ships its sources and can build it where it is installed."""
