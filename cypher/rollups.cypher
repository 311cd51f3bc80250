// Rollups, the part Cypher computes: the all-time downline size and recruits of every member,
// which the topInfluencers rankings walk in index order. The rest of the batch (pre-order
// numbers, per-day level checkpoints, the influence sums) needs the whole tree at once and is
// computed client-side by graph/rollups.py, which also writes these two numbers with the
// rest (a second pass over every member cost ~1 s per 100k); run this file on its own when
// only these two numbers need redoing, after `downline rollups refresh` has numbered the tree.
//
// Parameters: none.
// Output: none (sets Member.all_size and Member.all_recruits).
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" -f cypher/rollups.cypher
//      or: downline cypher run cypher/rollups.cypher

// all_size: the subtree is the pre-order range (pre, last], so its size needs no walk.
// Recruits are counted from m by its degree: the recruit carries no label, so the count
// cannot be planned as a scan of every member per row, whatever the index statistics.
MATCH (m:Member) USING INDEX m:Member(pre)
WHERE m.pre IS NOT NULL
CALL (m) {
  SET m.all_size = m.last - m.pre,
      m.all_recruits = COUNT { ()-[:SPONSORED_BY]->(m) }
} IN TRANSACTIONS OF 20000 ROWS;
