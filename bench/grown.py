"""The grown store (issue 10): the bulk bench's network, grown day by day as a real store is.

No offline importer: an empty store takes the network's history before its last ``days`` days
through ``downline load --transactional`` (bench/split.py cuts the demo network by time), then
settles and refreshes. Each replayed day then:

1. loads that day's new members, orders and refunds (``downline load --transactional``);
2. sends a few hundred GraphQL mutations over HTTP: orders (two of 999,999,999,999.99 yuan, the
   largest amount the API takes), refunds of earlier ones, and two members with large downlines
   transferred under another branch and back;
3. measures ``subtreeRevenue`` and ``topInfluencers`` over HTTP with that day not refreshed;
4. settles up to the day's end less the plan's hold and refreshes the rollups, both timed;
5. measures the same reads again, right after the refresh.

On the last day every answer of both read cells is compared with numpy's (bench/floor.py, over
the whole network plus the orders the mutations recorded), and so are the settlement runs'
totals; ``downline reconcile`` must find the books balanced.
"""

from __future__ import annotations

import csv
import http.client
import json
import random
import re
import time
import tomllib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench import floor, scales, split
from bench.report import (
    OK,
    SKIPPED,
    WRONG,
    Report,
    Row,
    Target,
    judged,
    median,
    ms,
    percentile,
    rate,
)
from bench.run import (
    COUNTS,
    SEED,
    SUBTREE_QUERY,
    TOP_LIMIT,
    TOP_QUERY,
    Bench,
    Client,
    Skip,
    Variant,
)
from bench.scales import ROOT
from contract.importfiles import ORDER_COLUMNS
from contract.money import format_yuan, parse_yuan
from graph.db import connect

PLAN = ROOT / "plans" / "default.toml"
HUGE_FEN = 99_999_999_999_999  # 999,999,999,999.99 yuan
ANSWER_YUAN = re.compile(r"^(-?)(\d+)\.(\d\d)$")
MOVERS = 2  # members with large downlines transferred away and back each day
CANDIDATE_MOVERS = 10

RECORD = """mutation Record($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    __typename ... on Order { id amount } ... on MutationError { code message }
  }
}"""

REFUND = """mutation Refund($id: ID!, $at: DateTime!) {
  refundOrder(id: $id, refundedAt: $at) {
    __typename ... on Order { id } ... on MutationError { code message }
  }
}"""

TRANSFER = """mutation Transfer($id: ID!, $sponsor: ID!, $at: DateTime) {
  transferMember(id: $id, sponsorId: $sponsor, at: $at, reason: "bench: a sponsor change") {
    __typename ... on Member { id } ... on MutationError { code message }
  }
}"""

SETTLED_TOTALS = """
MATCH (r:SettlementRun {status: 'finished'})
RETURN count(r) AS runs, coalesce(sum(r.orders_settled), 0) AS settled,
       coalesce(sum(r.orders_reversed), 0) AS reversed
"""


@dataclass
class Recorded:
    """An order recorded through the API, kept as the floor reads orders.csv."""

    order_id: str
    buyer_id: str
    seller_id: str
    sku: str
    amount: int  # fen
    paid_at: datetime
    refunded_at: datetime | None = None

    def row(self) -> list[str]:
        refunded = "" if self.refunded_at is None else self.refunded_at.isoformat()
        return [
            self.order_id,
            "RETAIL",
            self.buyer_id,
            self.seller_id,
            self.sku,
            format_yuan(self.amount),
            self.paid_at.isoformat(),
            refunded,
        ]


@dataclass(frozen=True)
class Mover:
    member_id: str
    home: str  # its sponsor
    away: str  # a member of another branch (neither above nor below it)
    downline: int


def movers(net: floor.Network, count: int) -> list[Mover]:
    """Members with the largest downlines that have a sponsor, each with a disjoint branch."""
    size = net.size
    by_size = np.argsort(-size, kind="stable").tolist()
    found: list[Mover] = []
    for i in by_size:
        if len(found) == count:
            break
        home = int(net.parent[i])
        if home < 0:
            continue
        lo, hi = int(net.pre[i]), int(net.last[i])
        for j in by_size:
            if j != home and (net.last[j] < lo or net.pre[j] > hi):
                found.append(Mover(net.ids[i], net.ids[home], net.ids[j], int(size[i]) - 1))
                break
    return found


@dataclass
class Mutations:
    """The GraphQL mutations of each day; what they record is kept for the floor."""

    per_day: int
    buyers: list[str]  # members stored before the first replayed day
    heavy_buyers: list[str]  # ... of them, in the largest subtree
    prices: dict[str, int]  # retail sku -> price in fen
    movers: list[Mover]
    recorded: list[Recorded] = field(default_factory=list)

    def plan(self, day: split.Day) -> list[tuple[str, str, dict[str, Any]]]:
        """The day's mutations in the order they are sent: (kind, query, variables)."""
        rng = random.Random(f"{SEED}-grown-{day.number}")
        start, seconds = day.start, 86_400
        refunds = max(1, self.per_day // 20)
        transfers = 2 * min(MOVERS, len(self.movers))
        regular = max(0, self.per_day - refunds - transfers - 2)
        skus = sorted(self.prices)
        today: list[Recorded] = []

        def order(amount: int | None, buyer: str) -> tuple[str, str, dict[str, Any]]:
            sku = rng.choice(skus)
            fen = amount if amount is not None else self.prices[sku] * rng.randint(1, 3)
            seller = buyer if rng.random() < 0.6 else ""
            paid = start + timedelta(seconds=rng.randrange(seconds - 3_600))
            made = Recorded(
                f"API-{day.number:02d}-{len(today) + 1:05d}", buyer, seller, sku, fen, paid
            )
            today.append(made)
            variables = {
                "input": {
                    "id": made.order_id,
                    "kind": "RETAIL",
                    "buyerId": buyer,
                    "sellerId": seller or None,
                    "sku": sku,
                    "amount": format_yuan(fen),
                    "paidAt": paid.isoformat(),
                }
            }
            return ("huge order" if amount else "order", RECORD, variables)

        def transfer(m: Mover, to: str, hour: int) -> tuple[str, str, dict[str, Any]]:
            at = start + timedelta(hours=hour)
            return ("transfer", TRANSFER, {"id": m.member_id, "sponsor": to, "at": at.isoformat()})

        moving = [self.movers[(day.number * MOVERS + k) % len(self.movers)] for k in range(MOVERS)]
        moving = moving[: transfers // 2]
        # One member away at a time: two moves at once could put one under the other's downline.
        calls = []
        for k, m in enumerate(moving):
            calls.append(transfer(m, m.away, 9 + 2 * k))
            calls += [order(None, rng.choice(self.buyers)) for _ in range(regular // 4)]
            calls.append(transfer(m, m.home, 10 + 2 * k))
        calls.append(order(HUGE_FEN, rng.choice(self.buyers)))
        calls.append(order(HUGE_FEN, rng.choice(self.heavy_buyers or self.buyers)))
        while len(today) < regular + 2:
            calls.append(order(None, rng.choice(self.buyers)))
        # Refunds: orders old enough to have settled (their reversal is exercised), and today's.
        settled = [
            r
            for r in self.recorded
            if r.refunded_at is None and r.paid_at <= start - timedelta(days=8)
        ]
        fresh = [r for r in today if r.amount != HUGE_FEN]
        chosen = rng.sample(settled, min(len(settled), refunds // 2))
        chosen += rng.sample(fresh, min(len(fresh), refunds - len(chosen)))
        for r in chosen:
            earliest = max(r.paid_at, start)
            room = int((day.end - earliest).total_seconds()) - 1
            r.refunded_at = earliest + timedelta(seconds=rng.randrange(1, max(2, room)))
            calls.append(("refund", REFUND, {"id": r.order_id, "at": r.refunded_at.isoformat()}))
        self.recorded += today
        return calls

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(ORDER_COLUMNS)
            writer.writerows(r.row() for r in self.recorded)


def bulk_settle_rate(results: Path, scale: str) -> tuple[float, str] | None:
    """The first settlement run's orders/s of the latest bulk results at this scale."""
    best: tuple[str, float, str] | None = None
    for path in results.glob(f"*-{scale}.json"):
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if result.get("kind", "bulk") != "bulk" or result.get("scale") != scale:
            continue
        for row in result.get("rows", []):
            per_s = row.get("data", {}).get("orders_per_s")
            first = row["section"] == "settlement" and row["measure"].startswith("first run")
            if first and per_s and (best is None or result["started"] > best[0]):
                best = (result["started"], float(per_s), path.name)
    return None if best is None else (best[1], best[2])


def difference(got: list[tuple[str, int]], want: list[tuple[str, int]]) -> str:
    """Where a ranking first departs from numpy's."""
    for rank, (mine, theirs) in enumerate(zip(got, want, strict=False), 1):
        if mine != theirs:
            return f"rank {rank}: got {mine}, numpy {theirs}; got {got[:5]}…, numpy {want[:5]}…"
    return f"got {len(got)} rows, numpy {len(want)}; got {got[:5]}…, numpy {want[:5]}…"


def fen(text: str) -> int:
    """An answer's yuan as integer fen, however large (sums of very large orders pass the 12
    digits an input amount may have)."""
    match = ANSWER_YUAN.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an amount in yuan with 2 decimals")
    sign, whole, cents = match.groups()
    value = int(whole) * 100 + int(cents)
    return -value if sign else value


def top_value(metric: str, text: str) -> int:
    """A ranking's value as the API writes it (yuan, a count, a 6-decimal share) in integers."""
    if metric in ("GROUP_VOLUME", "INFLUENCE"):
        return fen(text)
    if metric == "AT_RISK":
        whole, _, frac = text.partition(".")
        return int(whole) * floor.PPM + int(frac.ljust(6, "0"))
    return int(text)


@dataclass
class GrownBench(Bench):
    cut: split.Split | None = None
    base: floor.Network | None = None
    mutations: Mutations | None = None
    hold: timedelta = timedelta(days=7)
    cutoffs: list[datetime] = field(default_factory=list)
    bulk: tuple[float, str] | None = None

    def __post_init__(self) -> None:
        self.report = Report(self.options.scale.name, self.options.as_dict(), kind="grown")

    @property
    def grown_path(self) -> Path:
        return self.data_path / f"grown-{self.options.days}"

    @property
    def work_path(self) -> Path:
        return self.grown_path

    @property
    def ledger(self) -> Path:
        return self.grown_path / "api-orders.csv"

    def run(self) -> Report:
        try:
            for fn in (
                self.data,
                self.split_days,
                self.start_neo4j,
                self.load_base,
                self.settle_base,
                self.start_api,
                self.base_reads,
                self.days,
                self.final_checks,
                self.memory,
            ):
                self.run_step(fn)
        finally:
            self.stop()
        return self.report

    # -- the base -----------------------------------------------------------------------------

    def split_days(self) -> None:
        with self.step("data", f"split into a base and {self.options.days} days", "data"):
            started = time.perf_counter()
            self.cut = s = split.split_network(
                self.data_path, self.grown_path / "files", self.options.days
            )
            seconds = time.perf_counter() - started
            self.base = base = floor.read_network(s.base)
            self.picks = floor.pick_members(base)
            self.hold = timedelta(days=tomllib.loads(PLAN.read_text())["hold_days"])
            self.bulk = bulk_settle_rate(self.options.results_dir, self.scale.name)
            largest = base.index[self.picks["largest"]]
            lo, hi = int(base.pre[largest]), int(base.last[largest])
            heavy = [m for m, i in base.index.items() if lo <= int(base.pre[i]) <= hi]
            prices: dict[str, int] = {}
            with (s.base / "products.csv").open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    if int(row["commission_bp"]) > 0:
                        prices[row["sku"]] = parse_yuan(row["price"])
            self.mutations = Mutations(
                self.options.mutations,
                buyers=list(base.ids),
                heavy_buyers=heavy,
                prices=prices,
                movers=movers(base, CANDIDATE_MOVERS),
            )
            if not self.mutations.movers:
                raise RuntimeError("no member with a sponsor to transfer")
            days = s.days
            self.report.add(
                Row(
                    "data",
                    f"split by time: base, then {len(days)} days",
                    f"base {s.base_members:,} members, {s.base_orders:,} orders; per day"
                    f" {min(d.new_members for d in days):,}–{max(d.new_members for d in days):,}"
                    f" members, {min(d.new_orders for d in days):,}–"
                    f"{max(d.new_orders for d in days):,} orders",
                    note=f"days {days[0].start:%Y-%m-%d} to {days[-1].start:%Y-%m-%d} (+08:00),"
                    f" {sum(d.refunds for d in days):,} refunds of earlier orders re-listed;"
                    f" split in {seconds:.1f} s",
                    data={
                        "seconds": seconds,
                        "base_members": s.base_members,
                        "base_orders": s.base_orders,
                        "days": [
                            {
                                "day": d.number,
                                "start": d.start.isoformat(),
                                "members": d.new_members,
                                "orders": d.new_orders,
                                "refunds": d.refunds,
                            }
                            for d in days
                        ],
                        "picks": self.picks,
                        "movers": [vars(m) for m in self.mutations.movers[: MOVERS * 3]],
                    },
                )
            )

    def load_base(self) -> None:
        with self.step("import", "base load (transactional)", "neo4j"):
            assert self.cut is not None and self.base is not None
            files = {k: self.cut.base / f"{k}.csv" for k in ("members", "products", "orders")}
            timeout = 300 + (self.cut.base_members + self.cut.base_orders) / 500
            rows, seconds = self.transactional_load(files, timeout)
            self.report.add(
                Row(
                    "import",
                    f"base: downline load --transactional ({rows:,} rows)",
                    f"{seconds:.1f} s, {rate(rows / seconds, 'rows')}",
                    note=f"everything before {self.cut.start:%Y-%m-%d}, into the empty store",
                    data={"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds},
                )
            )
            counts = self.graph_query(COUNTS)[0]
            self.report.check(
                "members and orders in the graph after the base load",
                counts["members"] == len(self.base.ids)
                and counts["orders"] == self.base.orders_total,
                f"graph {counts['members']}/{counts['orders']}, CSV"
                f" {len(self.base.ids)}/{self.base.orders_total}",
            )
            if self.after_load is not None:
                with connect(self.settings()) as driver:
                    self.after_load(driver)

    def settle_base(self) -> None:
        with self.step("settlement", "downline plan load", "import"):
            self.command(["-m", "downline", "plan", "load", str(PLAN)], 120)
        assert self.cut is not None
        self.settle_and_refresh("base", self.cut.start, self.scale.settle_timeout_s)

    def base_reads(self) -> None:
        assert self.cut is not None
        self.reads("base", "after refresh", self.cut.start, scales.GROWN_READ_P99_S, None)

    # -- the days -----------------------------------------------------------------------------

    def days(self) -> None:
        """Each day in turn; a day that fails ends the replay (later days would build on it)."""
        missing = [n for n in ("import", "settlement", "api") if n in self.failed]
        if missing:
            self.failed.add("days")
            self.report.add(
                Row("days", "replay", "—", status=SKIPPED, note=f"needs {', '.join(missing)}")
            )
            return
        assert self.cut is not None
        last = self.cut.days[-1]
        for day in self.cut.days:
            section = f"day {day.number:02d}"
            with suppress(Skip):
                self.day(section, day, final=day is last)
            if section in self.failed:
                self.failed.add("days")
                self.say(f"[red]stopping the replay[/]: {section} failed")
                return

    def day(self, section: str, day: split.Day, *, final: bool) -> None:
        self.load_day(section, day)
        self.mutate(section, day)
        if final:
            with self.step(section, "numpy reads the whole network", section):
                assert self.mutations is not None
                self.mutations.write(self.ledger)
                self.net = floor.read_network(self.data_path, extra_orders=[self.ledger])
        check = self.net if final else None
        self.reads(section, "a day unrefreshed", day.end, scales.GROWN_STALE_P99_S, check)
        self.settle_and_refresh(section, day.end, self.scale.settle_timeout_s)
        self.reads(section, "after refresh", day.end, scales.GROWN_READ_P99_S, check)

    def load_day(self, section: str, day: split.Day) -> None:
        with self.step(section, "load (transactional)", "import"):
            rows, seconds = self.transactional_load(
                {"members": day.members, "orders": day.orders},
                300 + (day.new_members + day.new_orders + day.refunds) / 200,
            )
            self.report.add(
                Row(
                    section,
                    "load (transactional)",
                    f"{rows:,} rows in {seconds:.1f} s, {rate(rows / seconds, 'rows')}",
                    note=f"{day.new_members:,} members, {day.new_orders:,} orders,"
                    f" {day.refunds:,} refunds of earlier orders",
                    data={
                        "rows": rows,
                        "seconds": seconds,
                        "rows_per_s": rows / seconds,
                        "members": day.new_members,
                        "orders": day.new_orders,
                        "refunds": day.refunds,
                    },
                )
            )

    def mutate(self, section: str, day: split.Day) -> None:
        with self.step(section, "mutations over HTTP", section, "api"):
            assert self.mutations is not None and self.api is not None
            calls = self.mutations.plan(day)
            samples: dict[str, list[float]] = {}
            huge_back: list[str] = []
            with Client(self.api.port, self.token()) as client:
                for kind, query, variables in calls:
                    started = time.perf_counter()
                    body = client.post(query, variables)
                    samples.setdefault(kind, []).append(time.perf_counter() - started)
                    result = next(iter(body["data"].values()))
                    if result["__typename"] == "MutationError":
                        raise RuntimeError(
                            f"{kind} {json.dumps(variables)[:200]}: {result['code']}"
                            f" {result['message']}"
                        )
                    if kind == "huge order":
                        huge_back.append(result["amount"])
            self.mutations.write(self.ledger)
            every = [s for kind in samples.values() for s in kind]
            self.report.check(
                f"{section}: orders of 999999999999.99 yuan come back exactly",
                huge_back == [format_yuan(HUGE_FEN)] * len(huge_back) and len(huge_back) == 2,
                f"got {huge_back}",
            )
            moved = samples.get("transfer", [])
            self.report.add(
                Row(
                    section,
                    "mutations over HTTP",
                    f"{len(every)} in {sum(every):.1f} s, p50 {ms(median(every))} /"
                    f" p99 {ms(percentile(every, 99))}",
                    note=", ".join(f"{len(v)} {k}s" for k, v in samples.items())
                    + (
                        f"; transfers p50 {ms(median(moved))}, max {ms(max(moved))}"
                        if moved
                        else ""
                    ),
                    data={
                        "p50_s": median(every),
                        "p99_s": percentile(every, 99),
                        "kinds": {
                            k: {"count": len(v), "p50_s": median(v), "p99_s": percentile(v, 99)}
                            for k, v in samples.items()
                        },
                    },
                )
            )

    def settle_and_refresh(self, section: str, end: datetime, timeout: float) -> None:
        """``settle --until end - hold`` then the rollups refresh, each timed in a child."""
        with self.step(section, "settlement", "import"):
            until = end - self.hold
            self.cutoffs.append(until)
            result = self.task(["settle", "--until", until.isoformat()], timeout)
            run = result["run"]
            done = 0 if run is None else run["orders_settled"] + run["orders_reversed"]
            per_s = done / result["seconds"]
            targets: tuple[Target, ...] = ()
            target = ""
            note = "nothing to settle" if run is None else f"{run['payouts']:,} payouts"
            if run is not None and result.get("steps"):
                spent = ", ".join(f"{k} {v:.2f} s" for k, v in result["steps"].items())
                note += f"; {spent}"
            if self.bulk is not None and run is not None:
                limit = self.bulk[0] / scales.GROWN_SETTLE_SLOWER
                targets = (Target("orders/s", per_s, limit, True, "orders/s"),)
                target = f"≥ {rate(limit, 'orders')} (bulk {rate(self.bulk[0], 'orders')} / 1.5)"
            elif run is not None:
                note += "; no bulk results at this scale to compare with"
            self.report.add(
                Row(
                    section,
                    "settlement",
                    f"{done:,} orders in {result['seconds']:.2f} s, {rate(per_s, 'orders')}",
                    target=target,
                    status=judged(targets) if targets else "",
                    note=f"cutoff {until.isoformat()}; {note}",
                    data={**result, "orders_per_s": per_s, "cutoff": until.isoformat()},
                    targets=targets,
                )
            )
        with self.step(section, "rollups refresh", "import"):
            result = self.task(["refresh"], self.scale.refresh_timeout_s)
            seconds = float(result["seconds"])
            self.report.add(
                Row(
                    section,
                    "rollups refresh",
                    f"{seconds:.1f} s",
                    note=f"{result['members']:,} members, {result['orders']:,} orders",
                    data=result,
                )
            )

    # -- reads --------------------------------------------------------------------------------

    def windows_at(self, now: datetime) -> list[Variant]:
        """The bulk bench's four ways of asking, with "now" at the replayed day's end."""
        return [
            Variant("all time", None, None, None),
            Variant("last 30 days", now - timedelta(days=30), now, None),
            Variant(
                "30 days to 18:00",
                now - timedelta(days=30, hours=6),
                now - timedelta(hours=6),
                None,
            ),
            Variant("maxDepth 3", None, None, 3),
        ]

    def reads(
        self,
        section: str,
        phase: str,
        now: datetime,
        p99_s: float,
        check: floor.Network | None,
    ) -> None:
        """One pooled cell per query: every member and window in turn, up to the cell's budget."""
        windows = self.windows_at(now)
        subtree = [(kind, member, v) for v in windows for kind, member in self.picks.items()]
        top = [(metric, w) for w in windows[:2] for metric in floor.METRICS]
        with self.step(section, f"subtreeRevenue · {phase} · HTTP", section, "api"):
            bodies = [(SUBTREE_QUERY, v.variables(member)) for _, member, v in subtree]
            verify = None
            if check is not None:
                net = check

                def verify_subtree(answers: list[dict[str, Any] | None]) -> bool:
                    right = True
                    for (kind, member, v), body in zip(subtree, answers, strict=True):
                        found = None if body is None else body["data"]["subtreeRevenue"]
                        got = None
                        if found:
                            got = floor.Sums(
                                fen(found["groupVolume"]),
                                found["orderCount"],
                                found["memberCount"],
                            )
                        want = floor.subtree_sums(net, member, *v.epochs(), v.max_depth)
                        right &= self.report.check(
                            f"{section} subtreeRevenue {kind} {member} · {v.name} · {phase}",
                            got == want,
                            f"got {got}, numpy {want}",
                        )
                    return right

                verify = verify_subtree
            self.read_cell(section, "subtreeRevenue", phase, bodies, p99_s, verify)
        with self.step(section, f"topInfluencers · {phase} · HTTP", section, "api"):
            bodies = [
                (
                    TOP_QUERY,
                    {
                        "metric": metric,
                        "from": w.variables("")["from"],
                        "to": w.variables("")["to"],
                    },
                )
                for metric, w in top
            ]
            verify = None
            if check is not None:
                net = check

                def verify_top(answers: list[dict[str, Any] | None]) -> bool:
                    right = True
                    for (metric, w), body in zip(top, answers, strict=True):
                        rows = [] if body is None else body["data"]["topInfluencers"] or []
                        got = [(r["member"]["id"], top_value(metric, r["value"])) for r in rows]
                        want = [
                            (r.member_id, r.value)
                            for r in floor.top(net, metric, *w.epochs(), TOP_LIMIT)
                        ]
                        right &= self.report.check(
                            f"{section} topInfluencers {metric} · {w.name} · {phase}",
                            got == want,
                            difference(got, want),
                        )
                    return right

                verify = verify_top
            self.read_cell(section, "topInfluencers", phase, bodies, p99_s, verify)

    def read_cell(
        self,
        section: str,
        query: str,
        phase: str,
        bodies: list[tuple[str, dict[str, Any]]],
        p99_s: float,
        verify: Callable[[list[dict[str, Any] | None]], bool] | None,
    ) -> None:
        """Times the bodies in turn; a failed request counts, as an error and at its duration,
        so one slow path cannot stop the replay nor hide from the figures."""
        assert self.api is not None
        port, token = self.api.port, self.token()
        errors: list[str] = []
        client = Client(port, token)

        def post(q: str, v: dict[str, Any]) -> dict[str, Any] | None:
            nonlocal client
            try:
                return client.post(q, v)
            except (RuntimeError, OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                client.__exit__()
                client = Client(port, token)
                return None

        try:
            # Warm-up, as the bulk bench does (the API's caches per rollup version, Neo4j's
            # plans); these first answers are the ones checked.
            answers = [post(q, v) for q, v in bodies]
            samples: list[float] = []
            deadline = time.monotonic() + self.scale.cell_s
            # At least every body once, so the slowest way of asking is in the figure.
            while len(samples) < max(self.scale.reps, len(bodies)) and (
                len(samples) < len(bodies) or time.monotonic() < deadline
            ):
                q, v = bodies[len(samples) % len(bodies)]
                started = time.perf_counter()
                post(q, v)
                samples.append(time.perf_counter() - started)
        finally:
            client.__exit__()
        right = True if verify is None else verify(answers)
        p50, p99 = median(samples), percentile(samples, 99)
        sent = len(samples) + len(bodies)
        targets = (
            Target("p99", p99, p99_s),
            Target("answered without error", (sent - len(errors)) / sent, 1.0, True, "share"),
        )
        note = f"{len(samples)} requests over {len(bodies)} members and windows"
        if verify is not None:
            note += "; answers checked against numpy"
        if errors:
            note += f"; {len(errors)} of {sent} failed, first: {errors[0]}"
        self.report.add(
            Row(
                section,
                f"{query} · {phase} · HTTP",
                f"p50 {ms(p50)} / p99 {ms(p99)}" + (f", {len(errors)} errors" if errors else ""),
                target=f"p99 ≤ {ms(p99_s)}, no errors",
                status=judged(targets) if right else WRONG,
                note=note,
                data={
                    "p50_s": p50,
                    "p99_s": p99,
                    "requests": len(samples),
                    "errors": len(errors),
                    "phase": phase,
                },
                targets=targets,
            )
        )

    # -- the end ------------------------------------------------------------------------------

    def final_checks(self) -> None:
        with self.step("checks", "the store against numpy", "days"):
            assert self.net is not None
            net = self.net
            counts = self.graph_query(COUNTS)[0]
            self.report.check(
                "members and orders in the grown store (CSV files and API orders)",
                counts["members"] == len(net.ids) and counts["orders"] == net.orders_total,
                f"graph {counts['members']}/{counts['orders']}, numpy"
                f" {len(net.ids)}/{net.orders_total}",
            )
            totals = self.graph_query(SETTLED_TOTALS)[0]
            cutoffs = [int(c.timestamp()) for c in self.cutoffs]
            settled, reversed_ = floor.settled_counts(net, cutoffs, int(self.hold.total_seconds()))
            self.report.check(
                "orders settled and reversed over all daily runs (numpy replays the cutoffs)",
                (totals["settled"], totals["reversed"]) == (settled, reversed_)
                and totals["runs"] == len(cutoffs),
                f"graph {totals['runs']} runs, {totals['settled']} settled,"
                f" {totals['reversed']} reversed; numpy {len(cutoffs)} runs, {settled} settled,"
                f" {reversed_} reversed",
            )
            self.report.add(
                Row(
                    "checks",
                    "settlement runs",
                    f"{totals['runs']} runs, {totals['settled']:,} orders settled,"
                    f" {totals['reversed']:,} reversed",
                    status=OK
                    if (totals["settled"], totals["reversed"]) == (settled, reversed_)
                    else WRONG,
                    note="numpy replays the same cutoffs",
                    data={**totals, "numpy_settled": settled, "numpy_reversed": reversed_},
                )
            )
        with self.step("checks", "downline reconcile", "days"):
            try:
                stdout, seconds = self.command(
                    ["-m", "downline", "reconcile"], self.scale.settle_timeout_s
                )
                balanced, detail = True, stdout.strip().splitlines()[-1:] or [""]
            except RuntimeError as exc:
                balanced, detail, seconds = False, [str(exc)[-300:]], 0.0
            self.report.check("downline reconcile finds the books balanced", balanced, detail[0])
            self.report.add(
                Row(
                    "checks",
                    "downline reconcile",
                    f"{seconds:.1f} s",
                    status=OK if balanced else WRONG,
                    note=detail[0][:200],
                )
            )


__all__ = ["GrownBench", "Mutations", "bulk_settle_rate", "movers", "top_value"]
