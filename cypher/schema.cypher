// Schema: uniqueness constraints on the keys everything is found by, and range indexes for the
// time windows. Safe to run any number of times (IF NOT EXISTS).
//
// Parameters: none.
// Output: none.
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" -f cypher/schema.cypher
//      or: downline cypher run cypher/schema.cypher

CREATE CONSTRAINT member_id IF NOT EXISTS FOR (m:Member) REQUIRE m.id IS UNIQUE;
CREATE CONSTRAINT order_id IF NOT EXISTS FOR (o:Order) REQUIRE o.id IS UNIQUE;
CREATE CONSTRAINT product_sku IF NOT EXISTS FOR (p:Product) REQUIRE p.sku IS UNIQUE;
CREATE INDEX member_joined_at IF NOT EXISTS FOR (m:Member) ON (m.joined_at);
CREATE INDEX order_paid_at IF NOT EXISTS FOR (o:Order) ON (o.paid_at);
CREATE INDEX order_refunded_at IF NOT EXISTS FOR (o:Order) ON (o.refunded_at);
CREATE INDEX order_kind IF NOT EXISTS FOR (o:Order) ON (o.kind);

// Settlement (graph/settlement.py, cypher/settlement/): plans, run records, the run lock (its
// existence is the lock), payout batches. Its ledger lines are relationships from the order to
// the member paid, (:Order)-[:PAID|REVERSED]->(:Member), reached by expanding from an order or
// member found by the indexes here, so they need none of their own; the old ledger's :Payout
// nodes and their indexes are gone (`downline db migrate`, cypher/migrations/ledger.cypher).
CREATE CONSTRAINT plan_id IF NOT EXISTS FOR (p:Plan) REQUIRE p.id IS UNIQUE;
CREATE CONSTRAINT plan_effective_from IF NOT EXISTS FOR (p:Plan) REQUIRE p.effective_from IS UNIQUE;
CREATE CONSTRAINT settlement_run_id IF NOT EXISTS FOR (r:SettlementRun) REQUIRE r.id IS UNIQUE;
CREATE CONSTRAINT settlement_lock_id IF NOT EXISTS FOR (l:SettlementLock) REQUIRE l.id IS UNIQUE;
CREATE CONSTRAINT payout_batch_id IF NOT EXISTS FOR (b:PayoutBatch) REQUIRE b.id IS UNIQUE;
CREATE CONSTRAINT payout_ledger_id IF NOT EXISTS FOR (l:PayoutLedger) REQUIRE l.id IS UNIQUE;
CREATE INDEX order_settled_run IF NOT EXISTS FOR (o:Order) ON (o.settled_run);
CREATE INDEX order_reversed_run IF NOT EXISTS FOR (o:Order) ON (o.reversed_run);
// o.unsettled_since is the order's paid_at while it may still settle: every write path sets it,
// settlement removes it in the transaction that settles the order (or once a refund means it
// never will). So a run finds its orders in this index in time proportional to them, not to
// the whole store.
CREATE INDEX order_unsettled_since IF NOT EXISTS FOR (o:Order) ON (o.unsettled_since);
// Orders written before unsettled_since existed get it once (a store of today has none left).
MATCH (o:Order) WHERE o.settled_run IS NULL AND o.unsettled_since IS NULL
CALL (o) { SET o.unsettled_since = o.paid_at } IN TRANSACTIONS OF 50000 ROWS;
// o.unreversed_since is a settled order's refunded_at until the run that reverses it: the
// settling transaction sets it when the refund was already known, a refund recorded after the
// order settled sets it (graph/orders.py, graph/loader.py), and reversals.cypher removes it with
// the reversal. So a run's reversals cost what it reverses, not every refund ever made (a refund
// written by raw Cypher must do the same: SET o.unreversed_since = o.refunded_at on an order
// with settled_run and no reversed_run; cypher/reconcile.cypher's "waiting" check finds one that
// did not). Orders that settled and were refunded before it existed get it once, BEFORE the
// index is created: settlement and its preview refuse a store without the index
// (graph/settlement.py), so an index that exists means this ran to the end.
MATCH (o:Order) USING INDEX o:Order(refunded_at)
WHERE o.refunded_at IS NOT NULL AND o.settled_run IS NOT NULL AND o.reversed_run IS NULL
  AND o.unreversed_since IS NULL
CALL (o) { SET o.unreversed_since = o.refunded_at } IN TRANSACTIONS OF 50000 ROWS;
CREATE INDEX order_unreversed_since IF NOT EXISTS FOR (o:Order) ON (o.unreversed_since);

// Rollups (graph/rollups.py, docs/model.md "Rollups"): a subtree is one pre-order range per tree
// level, so (depth, pre) finds a level's members and checkpoints with index seeks; the all_*
// indexes give the rankings their order; transferred_at finds transfers since the last refresh.
CREATE INDEX member_depth_pre IF NOT EXISTS FOR (m:Member) ON (m.depth, m.pre);
CREATE INDEX member_pre IF NOT EXISTS FOR (m:Member) ON (m.pre);
CREATE INDEX member_transferred_at IF NOT EXISTS FOR (m:Member) ON (m.transferred_at);
CREATE INDEX member_all_gv IF NOT EXISTS FOR (m:Member) ON (m.all_gv);
CREATE INDEX member_all_size IF NOT EXISTS FOR (m:Member) ON (m.all_size);
CREATE INDEX member_all_recruits IF NOT EXISTS FOR (m:Member) ON (m.all_recruits);
CREATE INDEX member_all_infl IF NOT EXISTS FOR (m:Member) ON (m.all_infl);
CREATE INDEX level_mark_depth_pre IF NOT EXISTS FOR (c:LevelMark) ON (c.depth, c.pre);
CREATE INDEX level_mark_version IF NOT EXISTS FOR (c:LevelMark) ON (c.version);
CREATE CONSTRAINT rollup_state_key IF NOT EXISTS FOR (s:RollupState) REQUIRE s.key IS UNIQUE;
// The change mark (graph/db.py BUMP, graph/delta.py MARK): a counter every product write bumps.
CREATE CONSTRAINT change_mark_key IF NOT EXISTS FOR (c:ChangeMark) REQUIRE c.key IS UNIQUE;
CREATE INDEX rank_series_version IF NOT EXISTS FOR (s:RankSeries) ON (s.version);

// The audit trail (graph/audit.py): append-only records of admin actions, found by target and
// by time.
CREATE CONSTRAINT audit_record_id IF NOT EXISTS FOR (a:AuditRecord) REQUIRE a.id IS UNIQUE;
CREATE INDEX audit_record_target_at IF NOT EXISTS FOR (a:AuditRecord) ON (a.target, a.at);
CREATE INDEX audit_record_at IF NOT EXISTS FOR (a:AuditRecord) ON (a.at);

// Money as members and finance see it (graph/ledger.py, graph/withdrawals.py,
// graph/adjustments.py, graph/payouts.py; docs/model.md "The ledger, balances and withdrawals"):
// adjustments are ledger lines of their own, withdrawals are members' requests to be paid
// (one per member and idempotency key), payments are what a payout batch paid a member.
CREATE CONSTRAINT adjustment_id IF NOT EXISTS FOR (a:Adjustment) REQUIRE a.id IS UNIQUE;
CREATE INDEX adjustment_member_id IF NOT EXISTS FOR (a:Adjustment) ON (a.member_id);
CREATE INDEX adjustment_at IF NOT EXISTS FOR (a:Adjustment) ON (a.at);
CREATE CONSTRAINT withdrawal_id IF NOT EXISTS FOR (w:Withdrawal) REQUIRE w.id IS UNIQUE;
CREATE CONSTRAINT withdrawal_key IF NOT EXISTS FOR (w:Withdrawal) REQUIRE w.key IS UNIQUE;
CREATE INDEX withdrawal_member_id IF NOT EXISTS FOR (w:Withdrawal) ON (w.member_id);
CREATE INDEX withdrawal_state IF NOT EXISTS FOR (w:Withdrawal) ON (w.state);
CREATE CONSTRAINT payment_key IF NOT EXISTS FOR (p:Payment) REQUIRE p.key IS UNIQUE;
CREATE INDEX payment_member_id IF NOT EXISTS FOR (p:Payment) ON (p.member_id);
// Batches opened before payments existed linked the lines they paid, (:PayoutBatch)-[:PAYS]->
// (:Payout); each becomes one payment per member, so what was paid is never paid again. This
// reads the old ledger's :Payout nodes, so it runs before the ledger migration deletes them
// (`downline db migrate` applies this file first; cypher/migrations/ledger.cypher says so too).
MATCH (b:PayoutBatch)-[:PAYS]->(p:Payout)
WITH b, p.member_id AS member_id, sum(p.amount) AS amount
CALL (b, member_id, amount) {
  MERGE (pay:Payment {key: b.id + '|' + member_id})
  ON CREATE SET pay.member_id = member_id, pay.amount = amount, pay.batch_id = b.id,
                pay.at = b.created_at
  MERGE (b)-[:PAYS]->(pay)
  WITH b, member_id
  MATCH (b)-[old:PAYS]->(line:Payout {member_id: member_id})
  DELETE old
} IN TRANSACTIONS OF 1000 ROWS;

// Identity signals and risk flags (graph/risk.py, cypher/analytics/risk_*.cypher; docs/model.md
// "Identity signals"): one (:Identifier) per (kind, value), shared by every member who uses it,
// so MERGE never makes two and a member's identifiers are found by index; risk flags are
// recomputed by `downline risk refresh`, found by id and by kind; a flag is decided once, which
// the decision's unique flag_id holds even against two admins at the same instant.
CREATE CONSTRAINT identifier_kind_value IF NOT EXISTS
FOR (i:Identifier) REQUIRE (i.kind, i.value) IS UNIQUE;
CREATE CONSTRAINT risk_flag_id IF NOT EXISTS FOR (f:RiskFlag) REQUIRE f.id IS UNIQUE;
CREATE INDEX risk_flag_kind IF NOT EXISTS FOR (f:RiskFlag) ON (f.kind);
CREATE CONSTRAINT risk_decision_flag IF NOT EXISTS FOR (d:RiskDecision) REQUIRE d.flag_id IS UNIQUE;
