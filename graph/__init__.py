"""Everything that talks to Neo4j. Returns plain frozen dataclasses; never imports strawberry."""
