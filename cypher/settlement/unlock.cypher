// Releases the settlement lock left behind by a run that was killed (its client died, or Neo4j
// stopped under it), and marks that run interrupted. Only do this when the run is surely gone:
// what it committed stays committed and is safe; the next settlement finishes the job.
// `downline settle` does this by itself when the holder's process is gone (or with --force).
//
// Parameters: run_id (the dead run, as shown by the failing settle or by
//   MATCH (l:SettlementLock) RETURN l.run_id), e.g. :param run_id => 'run-20261130-a1b2c3'
// Output: run_id, status.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'run_id => "run-20261130-a1b2c3"' -f cypher/settlement/unlock.cypher

MATCH (lock:SettlementLock {id: 'settlement', run_id: $run_id})
OPTIONAL MATCH (run:SettlementRun {id: $run_id})
SET run.status = 'interrupted', run.finished_at = datetime()
DELETE lock
RETURN $run_id AS run_id, run.status AS status;
