// Compliance: where income comes from, per member and for the whole platform, and that no
// payout path is longer than three tiers (domain.md: pay for recruiting, team pay, and chains
// over three levels are what regulators fine). Income is the payout ledger, its PAID lines
// netted with their REVERSED lines, over [from, to) on the order's paid_at:
// - gift_package: income from gift packages (recruiting); retail: from retail orders;
// - team_pay: tiers 2 and 3 of both kinds, pay on other members' sales and recruits;
// - self_purchase: retail income (any tier) from orders whose buyer is their seller;
// - shares in basis points, rounded down: gift_package_bp and team_pay_bp of total,
//   self_purchase_bp of retail (0 when there is nothing to share);
// - mostly_recruiting / mostly_team_pay: the share above recruiting_bp / team_pay_bp;
// - max_tier: the longest payout path; path_violations: payouts whose member is not the one the
//   rules put at their tier (k-1 hops above the seller, or above the buyer's sponsor for a gift
//   package) in today's tree, or whose tier is outside 1-3. Should be 3 at most and 0.
// The first row, member_id '*', is the platform (members_paid counts members with income > 0);
// then one row per member paid in the window, by member id. The same figures as GraphQL's
// compliance fields (graph/compliance.py).
//
// Parameters: from, to (ISO 8601 with offset), recruiting_bp, team_pay_bp, e.g.
//   :param from => '2026-01-01T00:00:00+08:00'
//   :param to => '2026-07-01T00:00:00+08:00'
//   :param recruiting_bp => 5000
//   :param team_pay_bp => 5000
// Output: member_id, total, gift_package, retail, team_pay, self_purchase, gift_package_bp,
//   team_pay_bp, self_purchase_bp, mostly_recruiting, mostly_team_pay, max_tier,
//   path_violations, members_paid (money in fen).
// Run: cypher-shell -a bolt://127.0.0.1:7687 -u neo4j -p "$NEO4J_PASSWORD" \
//        -P 'from => "2026-01-01T00:00:00+08:00"' -P 'to => "2026-07-01T00:00:00+08:00"' \
//        -P 'recruiting_bp => 5000' -P 'team_pay_bp => 5000' -f cypher/analytics/compliance.cypher
//      or: downline cypher run cypher/analytics/compliance.cypher \
//        -p from=2026-01-01T00:00:00+08:00 -p to=2026-07-01T00:00:00+08:00 \
//        -p recruiting_bp=5000 -p team_pay_bp=5000 --format csv

// The window's ledger lines are the PAID and REVERSED lines of the orders paid in it: the orders
// come from the paid_at index, named so the plan does not depend on the statistics, and their
// lines and the chain above them are expanded, without labels, so nothing is sought per line
// (docs/model.md, "Query plans"). A line is (o)-[l:PAID|REVERSED]->(m): its tier and signed
// amount are on l, its kind is its order's. The pieces between "// section NAME" and
// "// end NAME" are the rules graph/compliance.py builds GraphQL's compliance fields from, so
// they are written once.
MATCH (o:Order) USING INDEX SEEK o:Order(paid_at)
WHERE o.paid_at >= datetime($from) AND o.paid_at < datetime($to) AND o.settled_run IS NOT NULL
MATCH (o)-[l:PAID|REVERSED]->(m)
// section payee: needs o, l, m; yields o, l, m, buyer, seller, and at_tier: the member the rules
// put at l's tier in today's tree (k-1 hops above the seller, or above the buyer's sponsor for
// a gift package), null when there is none or the tier is outside 1-3
OPTIONAL MATCH (o)<-[:SOLD]-(seller)
OPTIONAL MATCH (o)<-[:BOUGHT]-(buyer)
OPTIONAL MATCH (buyer)-[:SPONSORED_BY]->(sponsor)
WITH o, l, m, buyer, seller,
     CASE o.kind WHEN 'GIFT_PACKAGE' THEN sponsor ELSE seller END AS first
OPTIONAL MATCH (first)-[:SPONSORED_BY]->(second)
OPTIONAL MATCH (second)-[:SPONSORED_BY]->(third)
WITH o, l, m, buyer, seller,
     CASE WHEN l.tier IN [1, 2, 3] THEN [first, second, third][l.tier - 1] END AS at_tier
// end payee
WITH o, l, m,
     CASE WHEN type(l) = 'REVERSED' THEN null ELSE
     // section violation: needs l, m, at_tier; 'tier' when l's tier is outside 1-3, 'path'
     // when l's member m is not at_tier, otherwise null
     CASE WHEN NOT coalesce(l.tier IN [1, 2, 3], false) THEN 'tier'
          WHEN at_tier IS NULL OR at_tier.id <> m.id THEN 'path' END
     // end violation
     END AS violation
WITH m.id AS member_id,
     // section income: needs o, l; a member's income over its lines (fen): total,
     // gift_package, retail, team_pay (tiers 2 and 3), self_purchase (retail sold to oneself)
     sum(l.amount) AS total,
     sum(CASE WHEN o.kind = 'GIFT_PACKAGE' THEN l.amount ELSE 0 END) AS gift_package,
     sum(CASE WHEN o.kind = 'RETAIL' THEN l.amount ELSE 0 END) AS retail,
     sum(CASE WHEN l.tier >= 2 THEN l.amount ELSE 0 END) AS team_pay,
     sum(CASE WHEN o.kind = 'RETAIL' AND o.seller_id = o.buyer_id THEN l.amount ELSE 0 END)
       AS self_purchase
     // end income
     , max(l.tier) AS max_tier, count(violation) AS path_violations
ORDER BY member_id
WITH collect({member_id: member_id, total: total, gift_package: gift_package, retail: retail,
              team_pay: team_pay, self_purchase: self_purchase, max_tier: max_tier,
              path_violations: path_violations, members_paid: null}) AS rows
WITH rows, {member_id: '*',
            total: reduce(s = 0, r IN rows | s + r.total),
            gift_package: reduce(s = 0, r IN rows | s + r.gift_package),
            retail: reduce(s = 0, r IN rows | s + r.retail),
            team_pay: reduce(s = 0, r IN rows | s + r.team_pay),
            self_purchase: reduce(s = 0, r IN rows | s + r.self_purchase),
            max_tier: reduce(s = 0, r IN rows | CASE WHEN r.max_tier > s THEN r.max_tier ELSE s END),
            path_violations: reduce(s = 0, r IN rows | s + r.path_violations),
            members_paid: size([r IN rows WHERE r.total > 0])} AS platform
UNWIND [platform] + rows AS r
WITH r,
     CASE WHEN r.total > 0 THEN r.gift_package * 10000 / r.total ELSE 0 END AS gift_package_bp,
     CASE WHEN r.total > 0 THEN r.team_pay * 10000 / r.total ELSE 0 END AS team_pay_bp,
     CASE WHEN r.retail > 0 THEN r.self_purchase * 10000 / r.retail ELSE 0 END AS self_purchase_bp
RETURN r.member_id AS member_id, r.total AS total, r.gift_package AS gift_package,
       r.retail AS retail, r.team_pay AS team_pay, r.self_purchase AS self_purchase,
       gift_package_bp, team_pay_bp, self_purchase_bp,
       gift_package_bp > $recruiting_bp AS mostly_recruiting,
       team_pay_bp > $team_pay_bp AS mostly_team_pay,
       r.max_tier AS max_tier, r.path_violations AS path_violations,
       r.members_paid AS members_paid;
