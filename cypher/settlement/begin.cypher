// Settlement, step 1 of 4: takes the run lock and records the run.
//
// The lock is the node (:SettlementLock {id: 'settlement'}) itself: its id is uniquely constrained,
// so a second run started while one holds it fails right here with a constraint error and writes
// nothing. With no plan loaded nothing is created, and the later steps (which all start from the
// lock held by $run_id) do nothing either. A lock left behind by a killed run is released by
// cypher/settlement/unlock.cypher (or taken over by `downline settle`).
//
// Parameters: cutoff (ISO 8601 with offset), run_id (new and unique), e.g.
//   :param cutoff => '2026-11-30T00:00:00+08:00'
//   :param run_id => 'run-20261130-a1b2c3'
// Output: run_id, cutoff, plans (ids of the plans loaded); no row when no plan is loaded.
// Run all four steps, in order, stopping at the first failure:
//   for step in begin payouts reversals finish; do
//     cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//       -P 'cutoff => "2026-11-30T00:00:00+08:00"' -P 'run_id => "run-20261130-a1b2c3"' \
//       -P 'batch => 5000' -P 'concurrency => 2' -f cypher/settlement/$step.cypher || break
//   done
// or: downline settle --until 2026-11-30T00:00:00+08:00 (which runs these same files).

MATCH (plan:Plan)
WITH collect(plan.id) AS plans
WHERE size(plans) > 0
CREATE (:SettlementLock {id: 'settlement', run_id: $run_id, cutoff: datetime($cutoff),
                         started_at: datetime(), heartbeat: datetime()})
CREATE (run:SettlementRun {id: $run_id, cutoff: datetime($cutoff), started_at: datetime(),
                           status: 'running', plans_loaded: plans})
RETURN run.id AS run_id, run.cutoff AS cutoff, plans;
