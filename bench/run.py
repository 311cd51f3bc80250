"""The whole benchmark in one go: data, import, settlement, rollups, reads, throughput, memory.

Every step is bounded in time and caught: a failed measurement becomes an ``error`` row and the
run goes on (steps that need it are skipped), and the exit status is non-zero at the end. Every
answer is compared with numpy's (bench/floor.py); a wrong one fails the benchmark too, and so
does a cell more than 10x from its target (bench/report.py). The servers the bench started are
stopped whatever happens. ``--grown`` runs bench/grown.py, the store grown day by day.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import http.client
import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import neo4j
from rich.console import Console

from api.auth import Role, mint_token
from bench import floor, scales, servers, wrk
from bench.report import (
    ERROR,
    FAIL_FACTOR,
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
    size,
)
from bench.scales import ROOT
from contract.money import parse_yuan
from contract.settings import Settings
from graph import metrics, revenue
from graph.db import apply_schema, clear, connect, connect_async
from graph.rollupreader import RollupReader

T = TypeVar("T")
BENCH = ROOT / "bench"
CST = timezone(timedelta(hours=8))
DAY_S = 86_400
HOLD_DAYS = 7  # plans/default.toml, which the bench loads
SEED = 1
TOP_LIMIT = 20
SAMPLE = 500  # members the throughput bodies rotate over
console = Console(stderr=True, highlight=False)

# The baseline of the issue: the subtree walked and its orders summed at query time. The depth
# bound is in the pattern, as anyone writing it by hand would put it.
NAIVE = {
    None: """
MATCH (d:Member)-[:SPONSORED_BY*0..]->(u:Member {id: $id})
MATCH (d)-[:BOUGHT]->(o:Order)
WHERE o.refunded_at IS NULL AND ($start IS NULL OR o.paid_at >= $start)
  AND ($end IS NULL OR o.paid_at < $end)
RETURN sum(o.amount) AS gv, count(o) AS n
""",
    3: """
MATCH (d:Member)-[:SPONSORED_BY*0..3]->(u:Member {id: $id})
MATCH (d)-[:BOUGHT]->(o:Order)
WHERE o.refunded_at IS NULL AND ($start IS NULL OR o.paid_at >= $start)
  AND ($end IS NULL OR o.paid_at < $end)
RETURN sum(o.amount) AS gv, count(o) AS n
""",
}

COUNTS = """
CALL () { MATCH (n) RETURN count(n) AS nodes }
CALL () { MATCH ()-[r]->() RETURN count(r) AS relationships }
CALL () { MATCH (m:Member) RETURN count(m) AS members }
CALL () { MATCH (o:Order) RETURN count(o) AS orders }
CALL () { MATCH ()-[p:PAID]->() RETURN count(p) AS payouts }
CALL () { MATCH (r:SettlementRun) RETURN count(r) AS runs }
RETURN nodes, relationships, members, orders, payouts, runs
"""

NEXT_DAY_RUN = """
MATCH (r:SettlementRun) WHERE r.cutoff = datetime($until) AND r.status = 'finished'
RETURN r.orders_settled AS orders_settled, r.orders_reversed AS orders_reversed,
       r.payouts AS payouts, r.reversals AS reversals, r.paid AS paid
"""

# One day of the demo network is about this share of its orders (it spreads a year).
NEXT_DAY_SHARE = 365


def write_day_orders(source: Path, target: Path, cutoff: datetime, every: int) -> int:
    """Every ``every``-th order of ``source`` again as a new order (id prefixed ``D``, not
    refunded), paid in the day that a run at ``cutoff`` + 1 day makes settleable and a run at
    ``cutoff`` did not; returns how many were written."""
    start = cutoff - timedelta(days=HOLD_DAYS)
    rows = 0
    with (
        source.open(encoding="utf-8", newline="") as src,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        reader = csv.DictReader(src)
        assert reader.fieldnames is not None
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
        writer.writeheader()
        for i, row in enumerate(reader):
            if i % every:
                continue
            paid = start + timedelta(seconds=1 + rows * 7 % (DAY_S - 2))
            writer.writerow(
                {
                    **row,
                    "order_id": "D" + row["order_id"],
                    "paid_at": paid.isoformat(),
                    "refunded_at": "",
                }
            )
            rows += 1
    return rows


SUBTREE_QUERY = """query Subtree($id: ID!, $from: DateTime, $to: DateTime, $depth: Int) {
  subtreeRevenue(memberId: $id, from: $from, to: $to, maxDepth: $depth) {
    memberId groupVolume orderCount memberCount
    byDepth { depth groupVolume orderCount memberCount }
  }
}"""

MEMBER_QUERY = """query Member($id: ID!) {
  member(id: $id) { id name joinedAt isAgent agentSince suspended sponsor { id name } }
}"""

TOP_QUERY = """query Top($metric: InfluenceMetric!, $from: DateTime, $to: DateTime) {
  topInfluencers(metric: $metric, from: $from, to: $to, limit: 20) {
    rank value member { id }
  }
}"""


@dataclass(frozen=True)
class Variant:
    """One way of asking for a subtree's revenue."""

    name: str
    start: datetime | None
    end: datetime | None
    max_depth: int | None

    def epochs(self) -> tuple[int | None, int | None]:
        return (
            None if self.start is None else int(self.start.timestamp()),
            None if self.end is None else int(self.end.timestamp()),
        )

    def variables(self, member_id: str) -> dict[str, Any]:
        return {
            "id": member_id,
            "from": None if self.start is None else self.start.isoformat(),
            "to": None if self.end is None else self.end.isoformat(),
            "depth": self.max_depth,
        }


@dataclass
class Options:
    scale: scales.Scale
    workers: tuple[int, ...] = (1,)
    keep: bool = False
    heap: str | None = None
    pagecache: str | None = None
    seconds: int | None = None
    neo4j_uri: str | None = None
    neo4j_dir: Path | None = None
    data_dir: Path = BENCH / "data"
    results_dir: Path = BENCH / "results"
    grown: bool = False
    write_path: bool = False
    """Only the write path: the import, settlement (the first run, its re-run, the next day)
    and the rollups refresh, with Neo4j's memory; no reads, no API (results kind "write")."""
    days: int = scales.GROWN_DAYS
    mutations: int = scales.GROWN_MUTATIONS

    def as_dict(self) -> dict[str, Any]:
        grown = {"days": self.days, "mutations_per_day": self.mutations} if self.grown else {}
        return {
            "scale": self.scale.name,
            "members": self.scale.members,
            "orders": self.scale.orders,
            "workers": ",".join(map(str, self.workers)),
            "heap": self.heap or self.scale.heap,
            "pagecache": self.pagecache or self.scale.pagecache,
            "seconds_per_throughput_point": self.seconds or self.scale.seconds,
            "neo4j": "external" if self.neo4j_uri else "embedded, started by the bench",
            **grown,
        }


class Skip(Exception):
    """A step that cannot run because one it needs failed."""


@dataclass
class Bench:
    options: Options
    after_load: Callable[[neo4j.Driver], None] | None = None
    report: Report = field(init=False)
    net: floor.Network | None = None
    neo: servers.Neo4j | None = None
    api: servers.Api | None = None
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    picks: dict[str, str] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    refresh_s: float | None = None
    day_rows: int = 0
    naive_p50: dict[tuple[str, str], float] = field(default_factory=dict)
    api_measured: set[int] = field(default_factory=set)
    task_peaks: dict[str, int | None] = field(default_factory=dict)
    """Peak resident memory of each heavy step's own process (bench/tasks.py), by step."""
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.report = Report(
            self.options.scale.name,
            self.options.as_dict(),
            kind="write" if self.options.write_path else "",
        )

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def scale(self) -> scales.Scale:
        return self.options.scale

    @property
    def data_path(self) -> Path:
        return self.options.data_dir / self.scale.name

    @property
    def work_path(self) -> Path:
        """Where this run keeps its Neo4j store and the API's log."""
        return self.data_path

    def say(self, text: str) -> None:
        console.print(f"[dim]{time.monotonic() - self.started:7.1f}s[/] {text}")

    @contextmanager
    def step(self, section: str, measure: str, *needs: str) -> Iterator[None]:
        """Runs a step; its failure is recorded and marks ``section`` failed for later steps."""
        missing = [n for n in needs if n in self.failed]
        if missing:
            self.failed.add(section)
            self.report.add(
                Row(section, measure, "—", status=SKIPPED, note=f"needs {', '.join(missing)}")
            )
            raise Skip
        self.say(f"{section}: {measure}")
        try:
            yield
        except Skip:
            raise
        except Exception as exc:
            self.failed.add(section)
            message = f"{type(exc).__name__}: {exc}".strip()
            self.report.error(section, measure, message)
            self.say(f"[red]error[/] {section}: {measure}: {message[:500]}")

    def run_step(self, fn: Callable[[], None]) -> None:
        with suppress(Skip):
            fn()

    def env(self) -> dict[str, str]:
        assert self.neo is not None
        return {
            **os.environ,
            "NEO4J_URI": self.neo.uri,
            "NEO4J_PASSWORD": self.neo.password,
            "DOWNLINE_JWT_SECRET": self.jwt_secret,
            "DOWNLINE_GRAPHIQL": "false",
            "PYTHONPATH": str(ROOT),
            # Where the bench's own server lives, so `downline load` may bulk-import into it.
            **(
                {"DOWNLINE_NEO4J_DIR": str(self.neo.paths.root)}
                if self.neo.paths is not None
                else {}
            ),
        }

    def settings(self) -> Settings:
        assert self.neo is not None
        return Settings(
            neo4j_uri=self.neo.uri, neo4j_password=self.neo.password, jwt_secret=self.jwt_secret
        )

    def command(self, args: list[str], timeout: float) -> tuple[str, float]:
        """Runs ``python args...`` in the project; returns its stdout and wall seconds."""
        started = time.perf_counter()
        try:
            result = subprocess.run(
                [sys.executable, *args],
                cwd=ROOT,
                env=self.env() if self.neo is not None else dict(os.environ),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"{' '.join(args[:3])} did not finish within {timeout:.0f}s"
            ) from exc
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
            raise RuntimeError(f"{' '.join(args[:3])} exited {result.returncode}: {tail}")
        return result.stdout, seconds

    def task(self, args: list[str], timeout: float) -> dict[str, Any]:
        """The task's JSON line, with ``wall_seconds``: the whole child, interpreter included."""
        stdout, wall = self.command(["-m", "bench.tasks", *args], timeout)
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        result["wall_seconds"] = wall
        return result

    def graph_query(self, query: str, **params: Any) -> list[dict[str, Any]]:
        with connect(self.settings()) as driver:
            records, _, _ = driver.execute_query(query, params)
        return [r.data() for r in records]

    def aio(self, fn: Callable[[neo4j.AsyncDriver], Awaitable[T]]) -> T:
        async def go() -> T:
            async with connect_async(self.settings()) as driver:
                return await fn(driver)

        return asyncio.run(go())

    # -- the time frame of the data -----------------------------------------------------------

    @property
    def now(self) -> datetime:
        """Midnight (+08:00) after the last order: "now" for the data's windows."""
        assert self.net is not None
        day = (self.net.last_paid + 8 * 3600) // DAY_S + 1
        return datetime.fromtimestamp(day * DAY_S - 8 * 3600, tz=UTC).astimezone(CST)

    @property
    def cutoff(self) -> datetime:
        """A settlement cutoff after every order's hold and every refund."""
        assert self.net is not None
        day = (self.net.last_event + 8 * 3600) // DAY_S + 8
        return datetime.fromtimestamp(day * DAY_S - 8 * 3600, tz=UTC).astimezone(CST)

    def variants(self) -> list[Variant]:
        now = self.now
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

    def windows(self) -> list[Variant]:
        now = self.now
        return [
            Variant("all time", None, None, None),
            Variant("last 30 days", now - timedelta(days=30), now, None),
        ]

    # -- the steps ----------------------------------------------------------------------------

    def run(self) -> Report:
        writes = (
            self.data,
            self.read_floor,
            self.start_neo4j,
            self.load,
            self.settle,
            self.refresh,
            self.next_day,
            self.memory,
        )
        steps = (
            writes
            if self.options.write_path
            else (
                self.data,
                self.read_floor,
                self.start_neo4j,
                self.load,
                self.settle,
                self.refresh,
                self.subtree_server,
                self.top_server,
                self.start_api,
                self.subtree_http,
                self.top_http,
                self.throughput,
                self.next_day,
                self.memory,
            )
        )
        try:
            for fn in steps:
                self.run_step(fn)
        finally:
            self.stop()
        return self.report

    def stop(self) -> None:
        if self.api is not None:
            self.say("stopping the API")
            try:
                self.api.stop()
            except Exception as exc:
                self.report.error("servers", "stop the API", str(exc))
            self.api = None
        if self.neo is not None:
            self.say("stopping Neo4j")
            try:
                sizes = self.neo.stop(keep=self.options.keep)
                if sizes is not None:
                    self.store_row("store size on disk (after the clean shutdown)", sizes)
            except Exception as exc:
                self.report.error("servers", "stop Neo4j", str(exc))
            self.neo = None

    def data(self) -> None:
        with self.step("data", "demo-data"):
            out = self.data_path
            marker = out / "demo.json"
            wanted = {"members": self.scale.members, "orders": self.scale.orders, "seed": SEED}
            files = [out / f for f in ("members.csv", "products.csv", "orders.csv")]
            cached = False
            if marker.exists() and all(f.exists() for f in files):
                recorded = json.loads(marker.read_text())
                cached = recorded.get("wanted") == wanted and recorded.get("sizes") == [
                    f.stat().st_size for f in files
                ]
            seconds = 0.0
            if not cached:
                _, seconds = self.command(
                    [
                        "-m",
                        "downline",
                        "demo-data",
                        "--members",
                        str(self.scale.members),
                        "--orders",
                        str(self.scale.orders),
                        "--seed",
                        str(SEED),
                        "--out",
                        str(out),
                    ],
                    self.scale.demo_timeout_s,
                )
                sizes = [f.stat().st_size for f in files]
                marker.write_text(json.dumps({"wanted": wanted, "sizes": sizes}))
            how = "reused from bench/data" if cached else f"generated in {seconds:.1f} s"
            self.report.add(
                Row(
                    "data",
                    "demo network",
                    f"{self.scale.members:,} members, {self.scale.orders:,} orders",
                    note=how,
                    data={**wanted, "cached": cached, "seconds": seconds},
                )
            )

    def read_floor(self) -> None:
        with self.step("data", "numpy reads the CSV files", "data"):
            self.net = net = floor.read_network(self.data_path)
            self.picks = floor.pick_members(net)
            sizes = {k: int(net.size[net.index[v]]) for k, v in self.picks.items()}
            self.report.add(
                Row(
                    "data",
                    "numpy reads the CSV files (floor set-up)",
                    f"{net.read_seconds:.1f} s",
                    note="subtrees: "
                    + ", ".join(f"{k} {self.picks[k]} ({n:,} members)" for k, n in sizes.items()),
                    data={"seconds": net.read_seconds, "picks": self.picks, "sizes": sizes},
                )
            )

    def start_neo4j(self) -> None:
        with self.step("neo4j", "start", "data"):
            o = self.options
            if o.neo4j_uri:
                password = os.environ.get("NEO4J_PASSWORD", "")
                if not password:
                    raise RuntimeError("--neo4j-uri needs NEO4J_PASSWORD in the environment")
                self.neo = servers.Neo4j.external(o.neo4j_uri, password, o.neo4j_dir)
            else:
                self.neo = servers.Neo4j.start(
                    self.work_path / "neo4j",
                    password=secrets.token_urlsafe(16),
                    heap=o.heap or self.scale.heap,
                    pagecache=o.pagecache or self.scale.pagecache,
                    timeout_s=300,
                )
            with connect(self.settings()) as driver:
                if not self.neo.owned:
                    clear(driver)
                apply_schema(driver)

    def store_row(self, measure: str, sizes: tuple[int, int]) -> None:
        db, logs = sizes
        after = max(
            (i for i, r in enumerate(self.report.rows) if r.section == "import"), default=-1
        )
        self.report.rows.insert(
            after + 1,
            Row(
                "import",
                measure,
                size(db),
                note=f"+ {size(logs)} transaction logs",
                data={"store_bytes": db, "tx_log_bytes": logs},
            ),
        )

    def load(self) -> None:
        with self.step("import", "downline load", "neo4j"):
            files = {k: self.data_path / f"{k}.csv" for k in ("members", "products", "orders")}
            stdout, seconds = self.command(
                [
                    "-m",
                    "downline",
                    "load",
                    *(a for k, f in files.items() for a in (f"--{k}", str(f))),
                ],
                self.scale.load_timeout_s,
            )
            # A bulk import restarts Neo4j: its memory is read from the new process.
            assert self.neo is not None
            self.neo.refresh_pid()
            path = next((line for line in stdout.splitlines() if line.startswith("path: ")), "")
            rows = sum(data_rows(f) for f in files.values())
            per_s = rows / seconds
            targets = (Target("rows/s", per_s, scales.IMPORT_ROWS_S, True, "rows/s"),)
            self.report.add(
                Row(
                    "import",
                    f"downline load ({rows:,} rows)",
                    f"{seconds:.1f} s, {rate(per_s, 'rows')}",
                    target=f"≥ {scales.IMPORT_ROWS_S:,} rows/s",
                    status=judged(targets),
                    targets=targets,
                    note=path.removeprefix("path: ").split(" (")[0],
                    data={"rows": rows, "seconds": seconds, "rows_per_s": per_s},
                )
            )
            assert self.net is not None
            counts = self.graph_query(COUNTS)[0]
            self.report.check(
                "members and orders in the graph after the load",
                counts["members"] == len(self.net.ids)
                and counts["orders"] == self.net.orders_total,
                f"graph {counts['members']}/{counts['orders']}, CSV"
                f" {len(self.net.ids)}/{self.net.orders_total}",
            )
            if self.after_load is not None:
                with connect(self.settings()) as driver:
                    self.after_load(driver)

    def settle(self) -> None:
        with self.step("settlement", "downline plan load", "import"):
            self.command(
                ["-m", "downline", "plan", "load", str(ROOT / "plans" / "default.toml")], 120
            )
        with self.step("settlement", "first run", "import"):
            assert self.net is not None
            until = self.cutoff.isoformat()
            first = self.task(["settle", "--until", until], self.scale.settle_timeout_s)
            self.task_peaks["settlement, first run"] = first["peak_rss_bytes"]
            run = first["run"]
            if run is None:
                raise RuntimeError("the first run found nothing to settle")
            done = run["orders_settled"] + run["orders_reversed"]
            per_s = done / first["seconds"]
            targets = (Target("orders/s", per_s, scales.SETTLE_FIRST_ORDERS_S, True, "orders/s"),)
            self.report.add(
                Row(
                    "settlement",
                    f"first run, cutoff {until}",
                    f"{done:,} orders in {first['seconds']:.1f} s, {rate(per_s, 'orders')}",
                    target=f"≥ {scales.SETTLE_FIRST_ORDERS_S:,} orders/s",
                    status=judged(targets),
                    targets=targets,
                    note=f"{run['payouts']:,} payouts",
                    data={**first, "orders_per_s": per_s},
                )
            )
            expected = len(self.net.o_pre)
            self.report.check(
                "first run settles every unrefunded order (numpy counts them)",
                run["status"] == "finished" and run["orders_settled"] == expected,
                f"settled {run['orders_settled']} ({run['status']}), numpy {expected}",
            )
        with self.step("settlement", "re-run, same cutoff", "settlement"):
            assert self.net is not None and self.neo is not None
            before = self.graph_query(COUNTS)[0]
            logs = self.neo.store
            log_before = servers.tx_log_bytes(logs) if logs is not None else None
            again = self.task(["settle", "--until", until], self.scale.settle_timeout_s)
            after = self.graph_query(COUNTS)[0]
            log_after = servers.tx_log_bytes(logs) if logs is not None else None
            per_s = self.net.orders_total / again["seconds"]
            wrote = (
                again["run"] is not None
                or before != after
                or (log_before is not None and log_before != log_after)
            )
            evidence = "run record, node and relationship counts" + (
                ", transaction log bytes" if log_before is not None else ""
            )
            targets = (Target("orders/s", per_s, scales.SETTLE_RERUN_ORDERS_S, True, "orders/s"),)
            self.report.add(
                Row(
                    "settlement",
                    f"re-run over {self.net.orders_total:,} orders",
                    f"{again['seconds']:.2f} s, {rate(per_s, 'orders')}",
                    target=f"≥ {scales.SETTLE_RERUN_ORDERS_S:,} orders/s, zero writes",
                    status=WRONG if wrote else judged(targets),
                    targets=targets,
                    note=("WROTE" if wrote else "wrote nothing") + f" ({evidence})",
                    data={
                        **again,
                        "orders_per_s": per_s,
                        "counts_before": before,
                        "counts_after": after,
                        "tx_log_before": log_before,
                        "tx_log_after": log_after,
                    },
                )
            )
            self.report.check(
                "re-run with the same cutoff writes nothing",
                not wrote,
                f"run {again['run']}, counts {before} -> {after},"
                f" tx log {log_before} -> {log_after}",
            )

    def transactional_load(self, files: dict[str, Path], timeout: float) -> tuple[int, float]:
        """``downline load --transactional``; returns the rows and wall seconds."""
        stdout, seconds = self.command(
            [
                "-m",
                "downline",
                "load",
                "--transactional",
                *(a for k, f in files.items() for a in (f"--{k}", str(f))),
            ],
            timeout,
        )
        path = next((line for line in stdout.splitlines() if line.startswith("path: ")), "")
        if path != "path: transactional":
            raise RuntimeError(f"downline load took another path: {path or stdout[-300:]}")
        return sum(data_rows(f) for f in files.values()), seconds

    def next_day(self) -> None:
        """A day of the platform after the first run, as operations run it: the day's new orders
        (one in ``NEXT_DAY_SHARE`` of the network's, sampled from it, paid in the day that the
        next cutoff makes settleable) through ``downline load --transactional`` into the full
        store, then ``downline settle`` one day past the first cutoff, each timed as a whole
        command (interpreter and driver start included), then that settlement again."""
        with self.step("next day", "downline load --transactional", "settlement"):
            assert self.net is not None
            day_orders = self.work_path / "next-day-orders.csv"
            rows = write_day_orders(
                self.data_path / "orders.csv", day_orders, self.cutoff, NEXT_DAY_SHARE
            )
            _, seconds = self.transactional_load({"orders": day_orders}, self.scale.load_timeout_s)
            per_s = rows / seconds
            targets = (Target("rows/s", per_s, scales.DAY_LOAD_ROWS_S, True, "rows/s"),)
            self.report.add(
                Row(
                    "next day",
                    f"downline load --transactional ({rows:,} orders)",
                    f"{seconds:.2f} s, {rate(per_s, 'rows')}",
                    target=f"≥ {scales.DAY_LOAD_ROWS_S:,} rows/s",
                    status=judged(targets),
                    targets=targets,
                    note=f"a day's orders into the store of {len(self.net.ids):,} members",
                    data={"rows": rows, "seconds": seconds, "rows_per_s": per_s},
                )
            )
            self.day_rows = rows
        until = (self.cutoff + timedelta(days=1)).isoformat()
        preview: dict[str, Any] = {}
        with self.step("next day", "downline settle --preview", "next day"):
            # bench/tasks.py runs what the CLI runs; its wall time, like the commands',
            # includes the interpreter and driver start.
            preview = self.task(["preview", "--until", until], self.scale.settle_timeout_s)
            wall = preview["wall_seconds"]
            targets = (Target("seconds", wall, scales.PREVIEW_DAY_S),)
            self.report.add(
                Row(
                    "next day",
                    f"downline settle --preview --until {until}",
                    f"{preview['orders']:,} orders in {wall:.2f} s",
                    target=f"≤ {scales.PREVIEW_DAY_S:.0f} s, interpreter start included",
                    status=judged(targets),
                    targets=targets,
                    note=f"{preview['seconds']:.2f} s in-process; writes nothing",
                    data=preview,
                )
            )
        with self.step("next day", "downline settle", "next day"):
            _, seconds = self.command(
                ["-m", "downline", "settle", "--until", until], self.scale.settle_timeout_s
            )
            found = self.graph_query(NEXT_DAY_RUN, until=until)
            if not found:
                raise RuntimeError(f"downline settle --until {until} recorded no finished run")
            run = found[0]
            targets = (Target("seconds", seconds, scales.SETTLE_DAY_S),)
            self.report.add(
                Row(
                    "next day",
                    f"downline settle --until {until}",
                    f"{run['orders_settled']:,} orders in {seconds:.2f} s",
                    target=f"≤ {scales.SETTLE_DAY_S:.0f} s, CLI start included",
                    status=judged(targets),
                    targets=targets,
                    note=f"{run['payouts']:,} payouts",
                    data={**run, "seconds": seconds},
                )
            )
            self.report.check(
                "the next day's run settles the day's orders",
                run["orders_settled"] == self.day_rows,
                f"settled {run['orders_settled']}, loaded {self.day_rows}",
            )
            if preview:
                self.report.check(
                    "the preview of the next day pays what its run paid",
                    (preview["orders"], preview["paid"]) == (run["orders_settled"], run["paid"]),
                    f"preview {preview['orders']} orders, {preview['paid']} fen;"
                    f" run {run['orders_settled']} orders, {run['paid']} fen",
                )
            before = self.graph_query(COUNTS)[0]
            _, again = self.command(
                ["-m", "downline", "settle", "--until", until], self.scale.settle_timeout_s
            )
            after = self.graph_query(COUNTS)[0]
            self.report.add(
                Row(
                    "next day",
                    "downline settle again, same cutoff",
                    f"{again:.2f} s",
                    status=WRONG if before != after else "ok",
                    note="wrote nothing" if before == after else f"WROTE: {before} -> {after}",
                    data={"seconds": again, "counts_before": before, "counts_after": after},
                )
            )

    def refresh(self) -> None:
        with self.step("rollups", "downline rollups refresh", "import"):
            result = self.task(["refresh"], self.scale.refresh_timeout_s)
            self.refresh_s = seconds = float(result["seconds"])
            self.task_peaks["rollups refresh"] = result["peak_rss_bytes"]
            targets = (Target("refresh", seconds, scales.REFRESH_S),)
            self.report.add(
                Row(
                    "rollups",
                    f"refresh ({result['members']:,} members, {result['orders']:,} orders)",
                    f"{seconds:.1f} s",
                    target=f"≤ {scales.REFRESH_S} s",
                    status=judged(targets),
                    targets=targets,
                    note=f"{result['checkpoints']:,} level checkpoints over {result['days']} days",
                    data=result,
                )
            )

    # -- subtree revenue ----------------------------------------------------------------------

    def check_sums(self, what: str, got: floor.Sums | None, want: floor.Sums) -> bool:
        return self.report.check(what, got == want, f"got {got}, numpy {want}")

    def subtree_server(self) -> None:
        for variant in self.variants():
            for kind, member_id in self.picks.items():
                measure = f"{kind} · {variant.name} · server"
                try:
                    with self.step("subtreeRevenue", measure, "rollups"):
                        self.subtree_cell(kind, member_id, variant)
                except Skip:
                    return

    def subtree_cell(self, kind: str, member_id: str, v: Variant) -> None:
        assert self.net is not None
        net = self.net
        start, end = v.epochs()
        want = floor.subtree_sums(net, member_id, start, end, v.max_depth)
        floor_s = timed_sync(
            lambda: floor.subtree_sums(net, member_id, start, end, v.max_depth), 50, 1.0
        )
        timeout = self.scale.naive_timeout_s

        async def fast(reader: RollupReader) -> revenue.SubtreeRevenue | None:
            return await reader.subtree_revenue(
                member_id, start=v.start, end=v.end, max_depth=v.max_depth, timeout=30
            )

        async def naive(driver: neo4j.AsyncDriver) -> tuple[int, int]:
            query = neo4j.Query(NAIVE[v.max_depth], timeout=timeout)
            params = {"id": member_id, "start": v.start, "end": v.end}
            async with driver.session() as session:
                result = await session.run(query, params)
                record = await result.single(strict=True)
                return int(record["gv"] or 0), int(record["n"])

        async def measure(driver: neo4j.AsyncDriver) -> tuple[Any, ...]:
            reader = RollupReader(driver)
            samples, got = await timed(lambda: fast(reader), self.scale.reps, self.scale.cell_s)
            try:
                naive_samples, naive_got = await timed(
                    lambda: naive(driver),
                    self.scale.naive_reps,
                    3 * self.scale.cell_s,
                    warmup=0,
                )
                naive_error = None
            except neo4j.exceptions.Neo4jError as exc:
                naive_samples, naive_got, naive_error = [], None, exc.message or str(exc)
            return samples, got, naive_samples, naive_got, naive_error

        samples, got, naive_samples, naive_got, naive_error = self.aio(measure)
        sums = (
            None if got is None else floor.Sums(got.group_volume, got.order_count, got.member_count)
        )
        right = self.check_sums(f"subtreeRevenue {kind} {member_id} · {v.name} (graph)", sums, want)
        if naive_got is not None:
            right &= self.report.check(
                f"naive sum {kind} {member_id} · {v.name}",
                naive_got == (want.group_volume, want.order_count),
                f"got {naive_got}, numpy {(want.group_volume, want.order_count)}",
            )
        p50, p99 = median(samples), percentile(samples, 99)
        naive_p50 = median(naive_samples) if naive_samples else float("inf")
        self.naive_p50[(kind, v.name)] = naive_p50
        naive_text = f"p50 {ms(naive_p50)}" if naive_samples else f"> {timeout:.0f} s"
        if naive_error and not naive_samples:
            naive_text += f" ({naive_error[:60]})"
        target = f"p99 ≤ {ms(scales.SUBTREE_P99_S)}"
        targets = [Target("p99", p99, scales.SUBTREE_P99_S)]
        note = f"{len(samples)} calls"
        # The naive baseline counts where the subtree is large: unbounded in depth. Three levels
        # below even the largest member are a few hundred members, which the naive walk reads fast.
        if kind == "largest" and v.max_depth is None:
            speedup = naive_p50 / p50 if p50 > 0 else float("inf")
            target += f", ≥ {scales.NAIVE_SPEEDUP}× naive"
            targets.append(Target("speed-up over naive", speedup, scales.NAIVE_SPEEDUP, True, "x"))
            note += f", {speedup:,.1f}× faster than naive"
        self.report.add(
            Row(
                "subtreeRevenue",
                f"{kind} ({want.member_count:,} members) · {v.name} · server",
                f"p50 {ms(p50)} / p99 {ms(p99)}",
                naive=naive_text,
                floor=ms(floor_s),
                target=target,
                status=judged(targets) if right else WRONG,
                note=note,
                targets=tuple(targets),
                data={
                    "member": member_id,
                    "variant": v.name,
                    "p50_s": p50,
                    "p99_s": p99,
                    "calls": len(samples),
                    "naive_p50_s": naive_p50 if naive_samples else None,
                    "naive_calls": len(naive_samples),
                    "floor_s": floor_s,
                    "answer": want.__dict__,
                },
            )
        )

    def subtree_http(self) -> None:
        for variant in self.variants():
            for kind, member_id in self.picks.items():
                measure = f"{kind} · {variant.name} · HTTP"
                try:
                    with self.step("subtreeRevenue", measure, "api"):
                        self.subtree_http_cell(kind, member_id, variant)
                except Skip:
                    return

    def subtree_http_cell(self, kind: str, member_id: str, v: Variant) -> None:
        assert self.net is not None and self.api is not None
        start, end = v.epochs()
        want = floor.subtree_sums(self.net, member_id, start, end, v.max_depth)
        with Client(self.api.port, self.token()) as client:
            samples, body = client.timed(
                SUBTREE_QUERY, v.variables(member_id), self.scale.reps, self.scale.cell_s
            )
        found = body.get("data", {}).get("subtreeRevenue") if body else None
        got = (
            None
            if not found
            else floor.Sums(
                parse_yuan(found["groupVolume"]), found["orderCount"], found["memberCount"]
            )
        )
        right = self.check_sums(f"subtreeRevenue {kind} {member_id} · {v.name} (HTTP)", got, want)
        p50, p99 = median(samples), percentile(samples, 99)
        naive_p50 = self.naive_p50.get((kind, v.name))
        self.report.add(
            Row(
                "subtreeRevenue",
                f"{kind} ({want.member_count:,} members) · {v.name} · HTTP",
                f"p50 {ms(p50)} / p99 {ms(p99)}",
                naive="" if naive_p50 is None else f"p50 {ms(naive_p50)} (server)",
                status=OK if right else WRONG,
                note=f"{len(samples)} requests, end to end",
                data={"member": member_id, "variant": v.name, "p50_s": p50, "p99_s": p99},
            )
        )

    # -- topInfluencers -----------------------------------------------------------------------

    def top_server(self) -> None:
        for window in self.windows():
            for metric in floor.METRICS:
                try:
                    with self.step(
                        "topInfluencers", f"{metric} · {window.name} · server", "rollups"
                    ):
                        self.top_cell(metric, window)
                except Skip:
                    return

    def check_ranking(
        self, what: str, got: list[tuple[str, int]], want: list[floor.Ranked]
    ) -> bool:
        expected = [(r.member_id, r.value) for r in want]
        return self.report.check(what, got == expected, f"got {got[:5]}…, numpy {expected[:5]}…")

    def top_cell(self, metric: str, w: Variant) -> None:
        assert self.net is not None
        net = self.net
        start, end = w.epochs()
        floor_s = timed_sync(lambda: floor.top(net, metric, start, end, TOP_LIMIT), 3, 5.0)
        want = floor.top(net, metric, start, end, TOP_LIMIT)
        m = metrics.Metric[metric]

        async def serve(reader: RollupReader) -> list[metrics.MemberMetrics]:
            return await reader.top_members(
                m, start=w.start, end=w.end, limit=TOP_LIMIT, timeout=30
            )

        async def measure(driver: neo4j.AsyncDriver) -> tuple[list[float], Any]:
            reader = RollupReader(driver)
            return await timed(lambda: serve(reader), self.scale.reps, self.scale.cell_s)

        samples, got = self.aio(measure)
        ranking = [(r.member_id, r.value(m)) for r in got]
        right = self.check_ranking(f"topInfluencers {metric} · {w.name} (graph)", ranking, want)
        p50, p99 = median(samples), percentile(samples, 99)
        refresh = "" if self.refresh_s is None else f"refresh {self.refresh_s:.1f} s; "
        targets = (Target("p99", p99, scales.TOP_SERVE_S),)
        self.report.add(
            Row(
                "topInfluencers",
                f"{metric} · {w.name} · server",
                f"p50 {ms(p50)} / p99 {ms(p99)}",
                floor=ms(floor_s),
                target=f"p99 ≤ {ms(scales.TOP_SERVE_S)}",
                status=judged(targets) if right else WRONG,
                note=f"{refresh}{len(samples)} calls",
                targets=targets,
                data={
                    "metric": metric,
                    "window": w.name,
                    "p50_s": p50,
                    "p99_s": p99,
                    "floor_s": floor_s,
                    "refresh_s": self.refresh_s,
                },
            )
        )

    def top_http(self) -> None:
        for window in self.windows():
            for metric in floor.METRICS:
                try:
                    with self.step("topInfluencers", f"{metric} · {window.name} · HTTP", "api"):
                        self.top_http_cell(metric, window)
                except Skip:
                    return

    def top_http_cell(self, metric: str, w: Variant) -> None:
        assert self.net is not None and self.api is not None
        start, end = w.epochs()
        want = floor.top(self.net, metric, start, end, TOP_LIMIT)
        variables = {"metric": metric, **{k: w.variables("")[k] for k in ("from", "to")}}
        with Client(self.api.port, self.token()) as client:
            samples, body = client.timed(TOP_QUERY, variables, self.scale.reps, self.scale.cell_s)
        rows = (body or {}).get("data", {}).get("topInfluencers") or []
        got = [row["member"]["id"] for row in rows]
        right = self.report.check(
            f"topInfluencers {metric} · {w.name} (HTTP ranking)",
            got == [r.member_id for r in want],
            f"got {got[:5]}…, numpy {[r.member_id for r in want][:5]}…",
        )
        p50, p99 = median(samples), percentile(samples, 99)
        self.report.add(
            Row(
                "topInfluencers",
                f"{metric} · {w.name} · HTTP",
                f"p50 {ms(p50)} / p99 {ms(p99)}",
                status=OK if right else WRONG,
                note=f"{len(samples)} requests, end to end",
                data={"metric": metric, "window": w.name, "p50_s": p50, "p99_s": p99},
            )
        )

    # -- the API ------------------------------------------------------------------------------

    def token(self) -> str:
        return mint_token(self.jwt_secret, role=Role.ADMIN, ttl=timedelta(hours=12))

    def start_api(self) -> None:
        with self.step("api", f"downline serve --workers {self.options.workers[0]}", "neo4j"):
            self.api = servers.Api.start(
                self.env(),
                workers=self.options.workers[0],
                log=self.work_path / "api.log",
                timeout_s=120,
            )

    def throughput(self) -> None:
        seconds = self.options.seconds or self.scale.seconds
        try:
            with self.step("GraphQL throughput", "bodies", "api"):
                assert self.net is not None and self.api is not None
                sample = random.Random(SEED).sample(self.net.ids, min(SAMPLE, len(self.net.ids)))
                variants = self.variants()
                bodies = {
                    "member": [
                        json.dumps({"query": MEMBER_QUERY, "variables": {"id": m}}) for m in sample
                    ],
                    "subtreeRevenue": [
                        json.dumps(
                            {
                                "query": SUBTREE_QUERY,
                                "variables": variants[i % len(variants)].variables(m),
                            }
                        )
                        for i, m in enumerate(sample)
                    ],
                }
                wrk.ensure_wrk()
        except Skip:
            return
        if "GraphQL throughput" in self.failed:
            return
        for count in self.options.workers:
            if self.api is None or self.api.workers != count:
                try:
                    with self.step("api", f"downline serve --workers {count}", "neo4j"):
                        self.api_memory()
                        if self.api is not None:
                            self.api.stop()
                            self.api = None
                        self.failed.discard("api")
                        self.api = servers.Api.start(
                            self.env(), workers=count, log=self.work_path / "api.log", timeout_s=120
                        )
                except Skip:
                    return
            for name, query_bodies in bodies.items():
                self.throughput_query(name, query_bodies, seconds)

    def throughput_query(self, name: str, bodies: list[str], seconds: int) -> None:
        assert self.api is not None
        # Warm the API workers and Neo4j's plan cache; not counted.
        try:
            warm = min(2, seconds)
            wrk.run(self.api.url, bodies, self.token(), clients=16, seconds=warm)
        except Exception as exc:
            self.say(f"warm-up of {name} failed: {exc}")
        for clients in scales.GRAPHQL_CLIENTS:
            measure = f"{name} · {clients} client{'s' if clients > 1 else ''}"
            if len(self.options.workers) > 1:
                measure += f" · {self.api.workers} worker{'s' if self.api.workers > 1 else ''}"
            try:
                with self.step("GraphQL throughput", measure, "api"):
                    self.throughput_point(measure, name, bodies, clients, seconds)
            except Skip:
                return

    def throughput_point(
        self, measure: str, name: str, bodies: list[str], clients: int, seconds: int
    ) -> None:
        assert self.api is not None
        t = wrk.run(self.api.url, bodies, self.token(), clients=clients, seconds=seconds)
        targets = scales.throughput_targets(clients, t.requests, t.errors, t.per_second, t.p99_s)
        target = "no errors"
        if clients == scales.GRAPHQL_CLIENTS[-1]:
            target = f"≥ {scales.GRAPHQL_RPS:,} req/s, p99 ≤ {ms(scales.GRAPHQL_P99_S)}, no errors"
        note = f"wrk {t.seconds:.0f} s, {t.requests:,} requests"
        if t.requests == 0:
            note = f"no request completed in {t.seconds:.0f} s"
        latency = f"p50 {ms(t.p50_s)} / p99 {ms(t.p99_s)}" if t.requests else "—"
        self.report.add(
            Row(
                "GraphQL throughput",
                measure,
                f"{rate(t.per_second, 'req')}, {latency}, {t.errors} errors",
                target=target,
                status=judged(targets),
                note=note,
                targets=targets,
                data={
                    "query": name,
                    "clients": clients,
                    "workers": self.api.workers,
                    "requests": t.requests,
                    "seconds": t.seconds,
                    "per_s": t.per_second,
                    "p50_s": t.p50_s,
                    "p99_s": t.p99_s,
                    "errors": t.errors,
                },
            )
        )

    def memory(self) -> None:
        try:
            with self.step("memory", "Neo4j peak (VmHWM)", "neo4j"):
                assert self.neo is not None
                peak = None if self.neo.pid is None else servers.vm_hwm(self.neo.pid)
                heap = self.options.heap or self.scale.heap
                pagecache = self.options.pagecache or self.scale.pagecache
                self.report.add(
                    Row(
                        "memory",
                        "Neo4j peak (VmHWM)",
                        "n/a" if peak is None else size(peak),
                        note=f"heap {heap}, page cache {pagecache}",
                        data={"vm_hwm_bytes": peak, "heap": heap, "pagecache": pagecache},
                    )
                )
        except Skip:
            pass
        for step, peak in self.task_peaks.items():
            self.report.add(
                Row(
                    "memory",
                    f"{step}: its process's peak (VmHWM)",
                    "n/a" if peak is None else size(peak),
                    note="the client side, beside Neo4j (bench/tasks.py)",
                    data={"peak_rss_bytes": peak},
                )
            )
        with suppress(Skip):
            self.api_memory()

    def api_memory(self) -> None:
        """Peak memory of the running API's processes (before it is stopped or restarted)."""
        if self.api is None or self.api.workers in self.api_measured:
            return
        with self.step("memory", "API peak (VmHWM)", "api"):
            workers = self.api.workers
            self.api_measured.add(workers)
            peaks = {pid: servers.vm_hwm(pid) for pid in self.api.pids()}
            known = {pid: p for pid, p in peaks.items() if p is not None}
            self.report.add(
                Row(
                    "memory",
                    f"API peak (VmHWM), {workers} worker{'s' if workers > 1 else ''},"
                    f" {len(known)} process{'es' if len(known) > 1 else ''}",
                    size(sum(known.values())),
                    note="largest process " + size(max(known.values(), default=0)),
                    data={"workers": workers, "vm_hwm_bytes": known},
                )
            )


def data_rows(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f) - 1


# -- timing helpers ---------------------------------------------------------------------------


async def timed(
    call: Callable[[], Awaitable[T]], reps: int, budget_s: float, warmup: int = 2
) -> tuple[list[float], T | None]:
    """Wall seconds of up to ``reps`` calls within ``budget_s`` (at least one), and the answer."""
    result: T | None = None
    for _ in range(warmup):
        result = await call()
    samples: list[float] = []
    deadline = time.monotonic() + budget_s
    while len(samples) < reps and (not samples or time.monotonic() < deadline):
        started = time.perf_counter()
        result = await call()
        samples.append(time.perf_counter() - started)
    return samples, result


def timed_sync(call: Callable[[], object], reps: int, budget_s: float) -> float:
    """The median wall seconds of an in-memory computation."""
    samples: list[float] = []
    deadline = time.monotonic() + budget_s
    while len(samples) < reps and (not samples or time.monotonic() < deadline):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return median(samples)


class Client:
    """One keep-alive HTTP connection posting GraphQL with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        self.conn.request(
            "POST", "/graphql", json.dumps({"query": query, "variables": variables}), self.headers
        )
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {body[:300]!r}")
        parsed: dict[str, Any] = json.loads(body)
        if parsed.get("errors"):
            raise RuntimeError(f"GraphQL errors: {json.dumps(parsed['errors'])[:300]}")
        return parsed

    def timed(
        self, query: str, variables: dict[str, Any], reps: int, budget_s: float
    ) -> tuple[list[float], dict[str, Any]]:
        body = self.post(query, variables)  # warm-up, and the answer checked
        samples: list[float] = []
        deadline = time.monotonic() + budget_s
        while len(samples) < reps and (not samples or time.monotonic() < deadline):
            started = time.perf_counter()
            self.post(query, variables)
            samples.append(time.perf_counter() - started)
        return samples, body


# -- the command ------------------------------------------------------------------------------


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="The Downline benchmark (issue 6), in one go."
    )
    parser.add_argument("--scale", choices=sorted(scales.SCALES), default="100k")
    parser.add_argument("--members", type=int, help="Override the scale's member count.")
    parser.add_argument("--orders", type=int, help="Override the scale's order count.")
    parser.add_argument(
        "--workers",
        default="1",
        help="uvicorn workers of the API; a list such as 1,2 measures throughput with each.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the Neo4j store under bench/data/ afterwards."
    )
    parser.add_argument("--heap", help="Neo4j heap, e.g. 4g (default: by scale).")
    parser.add_argument("--pagecache", help="Neo4j page cache, e.g. 10g (default: by scale).")
    parser.add_argument("--seconds", type=int, help="wrk seconds per throughput point.")
    parser.add_argument("--reps", type=int, help="Timed calls per latency cell (at most).")
    parser.add_argument("--cell-seconds", type=float, help="Time per latency cell (at most).")
    parser.add_argument(
        "--neo4j-uri",
        help="Use this Neo4j (NEO4J_PASSWORD from the environment; its graph is emptied!)",
    )
    parser.add_argument("--neo4j-dir", type=Path, help="That server's directory (pid, store).")
    parser.add_argument(
        "--grown",
        action="store_true",
        help="The grown store: a base load, then days of transactional loads, mutations,"
        " settlement and refreshes (bench/grown.py).",
    )
    parser.add_argument(
        "--write-path",
        action="store_true",
        help="Only the import, settlement and rollups refresh (results <date>-<scale>-write).",
    )
    parser.add_argument(
        "--days", type=int, default=scales.GROWN_DAYS, help="Days the grown store replays."
    )
    parser.add_argument(
        "--mutations",
        type=int,
        default=scales.GROWN_MUTATIONS,
        help="GraphQL mutations per replayed day (at least 10).",
    )
    parser.add_argument("--data-dir", type=Path, default=BENCH / "data")
    parser.add_argument("--results-dir", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    scale = scales.SCALES[args.scale]
    if args.members or args.orders:
        members = args.members or scale.members
        scale = scale.sized(members, args.orders if args.orders is not None else 10 * members)
    try:
        workers = tuple(int(w) for w in str(args.workers).split(","))
    except ValueError:
        parser.error("--workers takes a number or a list such as 1,2")
    if not workers or min(workers) < 1:
        parser.error("--workers must be at least 1")
    if args.days < 1:
        parser.error("--days must be at least 1")
    if args.mutations < 10:
        parser.error("--mutations must be at least 10")
    if args.reps is not None or args.cell_seconds is not None:
        scale = replace(
            scale,
            reps=args.reps or scale.reps,
            cell_s=args.cell_seconds if args.cell_seconds is not None else scale.cell_s,
            naive_reps=min(scale.naive_reps, args.reps or scale.naive_reps),
        )
    return Options(
        scale=scale,
        workers=workers,
        keep=args.keep,
        heap=args.heap,
        pagecache=args.pagecache,
        seconds=args.seconds,
        neo4j_uri=args.neo4j_uri,
        neo4j_dir=args.neo4j_dir,
        data_dir=args.data_dir,
        results_dir=args.results_dir,
        grown=args.grown,
        write_path=args.write_path,
        days=args.days,
        mutations=args.mutations,
    )


def main(argv: list[str], after_load: Callable[[neo4j.Driver], None] | None = None) -> int:
    """Runs the benchmark, prints the table, writes the JSON; 0 only when nothing failed."""
    options = parse(argv)
    if options.grown:
        from bench.grown import GrownBench  # it builds on this module

        bench: Bench = GrownBench(options, after_load=after_load)
    else:
        bench = Bench(options, after_load=after_load)
    report = bench.run()
    out = Console(width=200)
    report.render(out)
    path = report.write(options.results_dir)
    out.print(f"results: {path}", highlight=False)
    return verdict(report, out)


def verdict(report: Report, out: Console) -> int:
    """Prints why a run failed (errors, wrong answers, cells missed by more than 10x); 0 or 1."""
    if report.ok:
        return 0
    out.print(
        f"[red]benchmark FAILED[/]: {len(report.errors)} error(s),"
        f" {len(report.wrong)} wrong answer(s),"
        f" {len(report.failed)} cell(s) missed by more than {FAIL_FACTOR:.0f}x"
    )
    return 1


__all__ = ["ERROR", "OK", "WRONG", "Bench", "Options", "main"]
