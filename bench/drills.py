"""``python -m bench.drills [--kills N] [--phases settle,load,rollups]``: crash drills.

SIGKILL Neo4j itself (the launcher's JVM) at a random point of a settlement run, a transactional
``downline load`` and a ``downline rollups refresh``, on the 2,000-member demo network. After each
kill: start Neo4j again (it recovers from its transaction log), stop it cleanly, run
``neo4j-admin database check`` through the launcher, start it, run the interrupted command again
and compare with an uninterrupted run:

- settlement: the ledger (every ledger line, run ids aside) identical line for line to the one
  an uninterrupted run to the same cutoff left. The runs are chained (cutoff k settles what
  became settleable since cutoff k - 1), so no reset is needed between kills;
- load: before the re-run every order that exists is whole (its buyer, product and seller
  relationships) and nothing exists that the files do not hold; after it, the graph is the
  uninterrupted load's. graph/loader.py promises per-batch atomicity and a repeatable load, not
  one transaction for the whole file: a killed load is *complete after the re-run*;
- rollups: everything a refresh writes equal to an uninterrupted full rebuild.

Results: bench/results/<date>-drills.md and .json, rewritten after every kill. Each ``--phases``
set runs on its own Neo4j, so ``python -m bench.drills --fresh --phases settle &``, then
``--phases load &`` and ``--phases rollups &`` run the three at once; the report merges them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import neo4j

from bench.scales import ROOT
from contract.settings import Settings
from graph import server
from graph.db import apply_schema, clear, connect
from graph.ledger import LINE

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "data" / "drills"
DATA = ROOT / "bench" / "data" / "2k"
PASSWORD = "downline-drills"
HEAP, PAGECACHE = "512m", "128m"
MEMBERS, ORDERS, SEED = 2_000, 20_000, 1
PHASES = ("settle", "load", "rollups")
SETTLE_BATCH = "20"  # many small transactions, so a kill lands between and inside them

Snapshot = list[Any]


@dataclass
class Kill:
    phase: str
    n: int
    after_s: float
    """Seconds after the command started doing its work (or was spawned, for rollups)."""
    command_exit: int | None
    recovery_s: float
    check_exit: int
    check_s: float
    partial: int
    """Rows the killed command had committed that the re-run did not have to write."""
    partial_ok: bool
    rerun_exit: int
    identical: bool
    note: str = ""


@dataclass
class Drills:
    started: str
    network: str
    kills: list[Kill] = field(default_factory=list)
    missed: dict[str, int] = field(default_factory=dict)
    baseline_s: dict[str, float] = field(default_factory=dict)
    finished: str | None = None


class Rig:
    """The drills' own Neo4j and the ``downline`` command pointed at it."""

    def __init__(self, root: Path) -> None:
        self.paths = server.ServerPaths(root / "neo4j")
        self.port = server.free_port()
        self.settings = Settings(
            neo4j_uri=f"bolt://127.0.0.1:{self.port}",
            neo4j_password=PASSWORD,
            neo4j_data_dir=self.paths.root,
        )
        self.env = {
            **os.environ,
            "NEO4J_URI": self.settings.neo4j_uri,
            "NEO4J_PASSWORD": PASSWORD,
            "DOWNLINE_NEO4J_DIR": str(self.paths.root),
            "DOWNLINE_SETTLE_BATCH": SETTLE_BATCH,
            "DOWNLINE_SETTLE_CONCURRENCY": "1",
        }
        self.check_dir = root / "checks"

    def start(self) -> None:
        server.start(self.paths, port=self.port, password=PASSWORD, heap=HEAP, pagecache=PAGECACHE)
        with self.driver() as d:
            apply_schema(d)

    def restart(self) -> float:
        launch = server.last_launch(self.paths)
        assert launch is not None
        started = time.perf_counter()
        server.restart(self.paths, launch, password=PASSWORD)
        return time.perf_counter() - started

    def driver(self) -> neo4j.Driver:
        return connect(self.settings)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "downline", *args],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "downline", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )

    def must(self, *args: str) -> None:
        done = self.run(*args)
        if done.returncode != 0:
            raise RuntimeError(f"downline {' '.join(args)} failed:\n{done.stderr[-3000:]}")

    def check(self, n: str) -> tuple[int, float]:
        """neo4j-admin database check on the stopped store; (exit code, seconds)."""
        report = self.check_dir / n
        report.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        result = server.admin(
            self.paths,
            "check",
            [f"--report-path={report}", "neo4j"],
            heap=HEAP,
            log=report / "check.log",
        )
        return result.returncode, time.perf_counter() - started

    def crash_and_recover(self) -> tuple[float, int, float]:
        """After a kill: start (recovery), stop cleanly, check, start; returns (recovery s,
        check exit, check s)."""
        recovery = self.restart()
        server.stop(self.paths)
        code, seconds = self.check(f"{time.time_ns()}")
        self.restart()
        return recovery, code, seconds


def query(rig: Rig, cypher: str, **params: Any) -> list[dict[str, Any]]:
    with rig.driver() as d:
        records, _, _ = d.execute_query(cypher, params)
    return [r.data() for r in records]


def ledger(rig: Rig) -> Snapshot:
    rows = query(rig, f"MATCH (o:Order)-[l:PAID|REVERSED]->(m) RETURN {LINE} AS p ORDER BY p.key")
    return [{k: v for k, v in r["p"].items() if k != "run_id"} for r in rows]


GRAPH = """
CALL () { MATCH (m:Member) OPTIONAL MATCH (m)-[:SPONSORED_BY]->(s)
          RETURN collect([m.id, s.id, m {.*}]) AS members }
CALL () { MATCH (p:Product) RETURN collect(p {.*}) AS products }
CALL () { MATCH (o:Order)
          RETURN collect([o {.*}, [(o)<-[:BOUGHT]-(b) | b.id], [(o)-[:OF_PRODUCT]->(p) | p.sku],
                          [(o)<-[:SOLD]-(s) | s.id]]) AS orders }
RETURN members, products, orders
"""


def loaded_graph(rig: Rig) -> Snapshot:
    row = query(rig, GRAPH)[0]
    return [
        sorted(row["members"], key=lambda m: m[0]),
        sorted(row["products"], key=lambda p: p["sku"]),
        sorted(row["orders"], key=lambda o: o[0]["id"]),
    ]


ROLLUPS = """
CALL () { MATCH (m:Member) RETURN collect(m {.*}) AS members }
CALL () { MATCH (c:LevelMark) RETURN collect(c {.*, version: null}) AS marks }
CALL () { MATCH (s:RankSeries) RETURN collect(s {.*, version: null}) AS series }
CALL () { MATCH (s:RollupState) RETURN collect(s {.*, version: null, refreshed_at: null}) AS state }
RETURN members, marks, series, state
"""


def rollups(rig: Rig) -> Snapshot:
    row = query(rig, ROLLUPS)[0]
    return [sorted(json.dumps(x, sort_keys=True, default=str) for x in row[k]) for k in row]


def count(rig: Rig, cypher: str) -> int:
    return int(next(iter(query(rig, cypher)[0].values())))


def wait_until(rig: Rig, process: subprocess.Popen[str], started: Callable[[], bool]) -> bool:
    """Polls until the command has begun its writes; False when it ended first."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if started():
                return True
        except neo4j.exceptions.Neo4jError:
            pass
        time.sleep(0.02)
    raise RuntimeError("the command never started writing")


def kill_during(
    rig: Rig,
    process: subprocess.Popen[str],
    begun: Callable[[], bool] | None,
    window_s: float,
    rng: random.Random,
) -> tuple[float, int | None] | None:
    """SIGKILLs Neo4j at a random point while ``process`` works; None when it finished first."""
    spawned = time.monotonic()
    if begun is not None and not wait_until(rig, process, begun):
        process.communicate()
        return None
    origin = time.monotonic() if begun is not None else spawned
    delay = rng.uniform(0.05, 0.75) * window_s
    while time.monotonic() < origin + delay:
        if process.poll() is not None:
            process.communicate()
            return None
        time.sleep(0.01)
    if process.poll() is not None:
        process.communicate()
        return None
    server.kill(rig.paths)
    try:
        process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    return time.monotonic() - origin, process.returncode


def timed(rig: Rig, args: tuple[str, ...], begun: Callable[[], bool] | None) -> float:
    """Runs a command uninterrupted; seconds from when it began writing (or was spawned)."""
    process = rig.spawn(*args)
    origin = time.monotonic()
    if begun is not None and wait_until(rig, process, begun):
        origin = time.monotonic()
    _, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"downline {' '.join(args)} failed:\n{err[-3000:]}")
    return time.monotonic() - origin


def ensure_data() -> Path:
    if not (DATA / "orders.csv").exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "downline", "demo-data", "--members", str(MEMBERS),
             "--orders", str(ORDERS), "--seed", str(SEED), "--out", str(DATA)],
            cwd=ROOT,
            check=True,
        )  # fmt: skip
    return DATA


def load_args(data: Path) -> tuple[str, ...]:
    return (
        "load",
        "--transactional",
        "--members",
        str(data / "members.csv"),
        "--products",
        str(data / "products.csv"),
        "--orders",
        str(data / "orders.csv"),
    )


def cutoffs(data: Path, n: int) -> list[datetime]:
    """``n`` cutoffs spread over the orders' year, the last one after every hold period."""
    first = datetime(2025, 11, 2, tzinfo=UTC)
    last = datetime(2026, 11, 15, tzinfo=UTC)
    step = (last - first) / n
    return [first + step * (k + 1) for k in range(n)]


def merge(parts: list[dict[str, Any]]) -> Drills:
    merged = Drills(
        started=min(p["started"] for p in parts),
        network=parts[0]["network"],
        finished=None
        if any(p["finished"] is None for p in parts)
        else max(p["finished"] for p in parts),
    )
    for part in parts:
        merged.kills += [Kill(**k) for k in part["kills"]]
        merged.missed.update(part["missed"])
        merged.baseline_s.update(part["baseline_s"])
    order = {phase: i for i, phase in enumerate(PHASES)}
    merged.kills.sort(key=lambda k: (order[k.phase], k.n))
    return merged


class Report:
    def __init__(self, drills: Drills, name: str) -> None:
        self.drills = drills
        self.name = name

    def write(self) -> None:
        """Saves this process's drills, then the results of every phase run so far (each
        ``--phases`` set runs in its own process with its own Neo4j, in parallel or not)."""
        WORK.mkdir(parents=True, exist_ok=True)
        (WORK / f"{self.name}.json").write_text(
            json.dumps(asdict(self.drills), indent=2, default=str) + "\n"
        )
        merged = merge([json.loads(p.read_text()) for p in sorted(WORK.glob("*.json"))])
        RESULTS.mkdir(parents=True, exist_ok=True)
        base = results_base(merged)
        base.with_suffix(".json").write_text(
            json.dumps(asdict(merged), indent=2, default=str) + "\n"
        )
        base.with_suffix(".md").write_text(Report(merged, self.name).markdown())

    def markdown(self) -> str:
        d = self.drills
        lines = [
            f"# Crash drills, {d.started[:10]}",
            "",
            f"`python -m bench.drills`, started {d.started}"
            + (
                f", finished {d.finished}"
                if d.finished
                else ", stopped before every phase had its kills (see the counts)"
            )
            + f". Network: {d.network}. Neo4j 5.26.16 Community embedded (heap {HEAP},"
            f" page cache {PAGECACHE}) on a shared 2-core machine.",
            "",
            "Each kill is a SIGKILL of Neo4j's JVM (the launcher) at a random point while the"
            " command writes. Then: start (recovery), clean stop, `neo4j-admin database check`"
            " through the launcher, start, the same command again, and a comparison with an"
            " uninterrupted run.",
            "",
            "| phase | kills | check failures | re-run failures | state after kill wrong"
            " | differences after re-run | killed with partial writes |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for phase in PHASES:
            ks = [k for k in d.kills if k.phase == phase]
            if not ks:
                continue
            lines.append(
                f"| {phase} | {len(ks)} | {sum(k.check_exit != 0 for k in ks)}"
                f" | {sum(k.rerun_exit != 0 for k in ks)} | {sum(not k.partial_ok for k in ks)}"
                f" | {sum(not k.identical for k in ks)} | {sum(k.partial > 0 for k in ks)} |"
            )
        total = d.kills
        lines += [
            f"| **all** | **{len(total)}** | **{sum(k.check_exit != 0 for k in total)}**"
            f" | **{sum(k.rerun_exit != 0 for k in total)}**"
            f" | **{sum(not k.partial_ok for k in total)}**"
            f" | **{sum(not k.identical for k in total)}**"
            f" | {sum(k.partial > 0 for k in total)} |",
            "",
            "Targets: 0 check failures, 0 differences.",
            "",
            "- **settle**: `downline settle --until C_k` in batches of"
            f" {SETTLE_BATCH} orders, one at a time; the runs are chained over the year, so kill"
            " k interrupts the run to cutoff k. After the kill the ledger holds only lines of the"
            " uninterrupted ledger (no wrong or doubled line); after the re-run it is that ledger"
            " line for line (every field of a line but `run_id`).",
            "- **load**: `downline load --transactional` of the whole network into an empty"
            " graph. What the product promises (graph/loader.py): every batch of orders is one"
            " transaction and an order is created with its relationships, and the load is"
            " repeatable; so after a kill every order present is whole, and after the re-run"
            " the graph is the uninterrupted load's (members, sponsors, products, orders and"
            " their relationships, every property). It is *complete after the re-run*, not one"
            " transaction for the whole file.",
            "- **rollups**: `downline rollups refresh` on the loaded network; after the re-run"
            " every member's rollup properties, every LevelMark, RankSeries and the RollupState"
            " (version ids and refresh time aside) equal an uninterrupted full rebuild's.",
            "",
            "Seconds of one uninterrupted run (from its first write; settle: the mean of the"
            " chained runs): "
            + ", ".join(f"{k} {v:.1f}" for k, v in d.baseline_s.items())
            + ". Kills that came after the command had finished were not counted and were"
            " tried again: " + (", ".join(f"{k} {v}" for k, v in d.missed.items()) or "none") + ".",
            "",
        ]
        if total:
            rec = sorted(k.recovery_s for k in total)
            chk = sorted(k.check_s for k in total)
            lines += [
                f"Start after a kill (recovery included): median {rec[len(rec) // 2]:.1f}s,"
                f" max {rec[-1]:.1f}s. Consistency check: median {chk[len(chk) // 2]:.1f}s.",
                "",
            ]
        lines += ["| phase | # | killed after s | partial rows | check | identical | note |"]
        lines += ["| --- | ---: | ---: | ---: | ---: | --- | --- |"]
        lines += [
            f"| {k.phase} | {k.n} | {k.after_s:.2f} | {k.partial} | {k.check_exit}"
            f" | {'yes' if k.identical else 'NO'} | {k.note} |"
            for k in total
        ]
        return "\n".join(lines) + "\n"


def refused(rerun: subprocess.CompletedProcess[str]) -> str:
    """Why a re-run failed (the last line it printed), for the report; empty when it did not."""
    if rerun.returncode == 0:
        return ""
    lines = [line for line in rerun.stderr.splitlines() if line.strip()]
    last = lines[-1].strip().replace("|", "/") if lines else "no message"
    return f"; re-run refused: {last}"


def settle_phase(rig: Rig, data: Path, kills: int, drills: Drills, report: Report) -> None:
    rng = random.Random(20261202)
    # About a third of the kills land after a short run finished (not counted): twice the
    # cutoffs leaves enough runs for every kill.
    points = cutoffs(data, 2 * kills)
    with rig.driver() as d:
        clear(d)
    rig.must(*load_args(data))
    rig.must("plan", "load", str(ROOT / "plans" / "default.toml"))
    lock = "MATCH (l:SettlementLock) RETURN count(l) > 0 AS held"

    def begun() -> bool:
        return bool(query(rig, lock)[0]["held"])

    expected: list[Snapshot] = []
    windows: list[float] = []
    for cutoff in points:
        windows.append(timed(rig, ("settle", "--until", cutoff.isoformat()), begun))
        expected.append(ledger(rig))
    drills.baseline_s["settle"] = round(sum(windows) / len(windows), 2)
    with rig.driver() as d:
        clear(d)
    rig.must(*load_args(data))
    rig.must("plan", "load", str(ROOT / "plans" / "default.toml"))
    n = 0
    for k, cutoff in enumerate(points):
        args = ("settle", "--until", cutoff.isoformat())
        if n >= kills:
            rig.must(*args)
            continue
        hit = kill_during(rig, rig.spawn(*args), begun, windows[k], rng)
        if hit is None:
            drills.missed["settle"] = drills.missed.get("settle", 0) + 1
            continue
        n += 1
        recovery, check, check_s = rig.crash_and_recover()
        after = ledger(rig)
        before = expected[k - 1] if k else []
        keys = {json.dumps(line, sort_keys=True, default=str) for line in expected[k]}
        partial_ok = all(json.dumps(line, sort_keys=True, default=str) in keys for line in after)
        rerun = rig.run(*args)
        drills.kills.append(
            Kill(
                "settle",
                n,
                hit[0],
                hit[1],
                recovery,
                check,
                check_s,
                len(after) - len(before),
                partial_ok,
                rerun.returncode,
                ledger(rig) == expected[k],
                f"cutoff {cutoff:%Y-%m-%d}, {len(expected[k]) - len(before)} new lines"
                + refused(rerun),
            )
        )
        report.write()
        print(f"settle kill {n}: {drills.kills[-1]}", flush=True)


WHOLE_ORDERS = """
MATCH (o:Order)
WHERE NOT EXISTS { (o)<-[:BOUGHT]-(:Member) } OR NOT EXISTS { (o)-[:OF_PRODUCT]->(:Product) }
   OR (o.seller_id IS NOT NULL AND NOT EXISTS { (o)<-[:SOLD]-(:Member) })
RETURN count(o) AS broken
"""


def load_phase(rig: Rig, data: Path, kills: int, drills: Drills, report: Report) -> None:
    rng = random.Random(20261203)
    args = load_args(data)

    def begun() -> bool:
        return count(rig, "MATCH (m:Member) RETURN count(m) > 0 AS any") > 0

    with rig.driver() as d:
        clear(d)
    window = timed(rig, args, begun)
    drills.baseline_s["load"] = round(window, 2)
    expected = loaded_graph(rig)
    order_ids = {o[0]["id"] for o in expected[2]}
    member_ids = {m[0] for m in expected[0]}
    n = 0
    while n < kills:
        with rig.driver() as d:
            clear(d)
        hit = kill_during(rig, rig.spawn(*args), begun, window, rng)
        if hit is None:
            drills.missed["load"] = drills.missed.get("load", 0) + 1
            continue
        n += 1
        recovery, check, check_s = rig.crash_and_recover()
        broken = count(rig, WHOLE_ORDERS)
        after = loaded_graph(rig)
        strays = sum(o[0]["id"] not in order_ids for o in after[2]) + sum(
            m[0] not in member_ids for m in after[0]
        )
        rows = len(after[0]) + len(after[1]) + len(after[2])
        rerun = rig.run(*args)
        drills.kills.append(
            Kill(
                "load",
                n,
                hit[0],
                hit[1],
                recovery,
                check,
                check_s,
                rows,
                broken == 0 and strays == 0,
                rerun.returncode,
                loaded_graph(rig) == expected,
                f"{len(after[0])} members, {len(after[2])} orders before the re-run;"
                f" {broken} broken orders" + refused(rerun),
            )
        )
        report.write()
        print(f"load kill {n}: {drills.kills[-1]}", flush=True)


def rollups_phase(rig: Rig, data: Path, kills: int, drills: Drills, report: Report) -> None:
    rng = random.Random(20261204)
    args = ("rollups", "refresh")
    if count(rig, "MATCH (o:Order) RETURN count(o) AS n") == 0:
        rig.must(*load_args(data))
    window = timed(rig, args, None)
    drills.baseline_s["rollups"] = round(window, 2)
    expected = rollups(rig)
    n = 0
    while n < kills:
        # A changed graph between refreshes would make the comparison vacuous; the same graph
        # and a kill at a random point of the (spawn-to-exit) run is the drill.
        hit = kill_during(rig, rig.spawn(*args), None, window, rng)
        if hit is None:
            drills.missed["rollups"] = drills.missed.get("rollups", 0) + 1
            continue
        n += 1
        recovery, check, check_s = rig.crash_and_recover()
        version = query(rig, "MATCH (s:RollupState) RETURN s.version AS v")
        stale = query(
            rig,
            "MATCH (c:LevelMark) WHERE c.version <> $v RETURN count(c) AS n",
            v=version[0]["v"] if version else "",
        )[0]["n"]
        rerun = rig.run(*args)
        drills.kills.append(
            Kill(
                "rollups",
                n,
                hit[0],
                hit[1],
                recovery,
                check,
                check_s,
                stale,
                True,
                rerun.returncode,
                rollups(rig) == expected,
                f"{stale} checkpoints of an unfinished refresh left before the re-run"
                + refused(rerun),
            )
        )
        report.write()
        print(f"rollups kill {n}: {drills.kills[-1]}", flush=True)


def results_base(drills: Drills) -> Path:
    """bench/results/<day the drills started>-drills (.json, .md): a later run never writes
    over an earlier day's results."""
    return RESULTS / f"{drills.started[:10]}-drills"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drills")
    parser.add_argument("--kills", type=int, default=20, help="kills per phase")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument(
        "--report", action="store_true", help="only write the results of the runs so far again"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="forget the results of earlier phase runs (else they are merged into the report)",
    )
    options = parser.parse_args(argv)
    if options.report:
        merged = merge([json.loads(p.read_text()) for p in sorted(WORK.glob("*.json"))])
        base = results_base(merged)
        base.with_suffix(".json").write_text(json.dumps(asdict(merged), indent=2) + "\n")
        base.with_suffix(".md").write_text(Report(merged, "all").markdown())
        return 0
    phases = [p for p in options.phases.split(",") if p]
    name = "-".join(phases)
    data = ensure_data()
    if options.fresh:
        shutil.rmtree(WORK, ignore_errors=True)
    shutil.rmtree(WORK / name, ignore_errors=True)
    (WORK / f"{name}.json").unlink(missing_ok=True)
    rig = Rig(WORK / name)
    drills = Drills(
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        network=f"demo-data {MEMBERS:,} members, {ORDERS:,} orders (seed {SEED})",
    )
    report = Report(drills, name)
    rig.start()
    try:
        steps = {"settle": settle_phase, "load": load_phase, "rollups": rollups_phase}
        for phase in phases:
            steps[phase](rig, data, options.kills, drills, report)
        drills.finished = datetime.now(UTC).isoformat(timespec="seconds")
        report.write()
    finally:
        server.stop(rig.paths)
    bad = [k for k in drills.kills if k.check_exit or not k.identical or not k.partial_ok]
    print(report.markdown())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
