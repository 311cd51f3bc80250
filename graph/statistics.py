"""Fresh index statistics before the next large statement is planned (docs/model.md, "Plans").

Neo4j plans a statement from index samples. A store that was sampled while empty and then filled
through transactions looks empty to the planner until it is sampled again, and one statement
planned then (a settlement batch, a refresh read) keeps its plan to the end. So every load,
settlement and refresh ends by resampling the indexes it made outdated and waiting for that, which
also clears the query caches so that cached plans are made again from the new samples.
"""

from __future__ import annotations

import neo4j

RESAMPLE = "CALL db.prepareForReplanning($timeout_s)"


def resample(driver: neo4j.Driver, *, database: str = "neo4j", timeout_s: int = 300) -> None:
    """Resamples every outdated index, waits until done, then clears the query caches."""
    with driver.session(database=database) as session:
        session.run(RESAMPLE, timeout_s=timeout_s).consume()
