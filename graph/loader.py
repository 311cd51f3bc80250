"""Bulk import of the data team's CSV files: check everything first, then write in big batches.

Two paths write the same graph. A first load into an empty database of a server Downline runs
goes through Neo4j's offline importer (graph/bulkimport.py). Every other load is transactional:
every write is an ``UNWIND $rows`` + ``MERGE`` on a constrained key, so loading the same files
again (or again after a load was killed halfway) changes nothing that is already there.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import neo4j

from contract.importfiles import (
    Checked,
    KnownMember,
    MemberRow,
    OrderRow,
    RowError,
    check_members,
    check_orders,
    check_products,
    order_rows,
)
from contract.rules import DEFAULT_RULES, Rules
from graph import statistics
from graph.bulkimport import (
    AUTO_MIN_BYTES,
    ImportFiles,
    ManagedServer,
    build_schema,
    is_empty,
    nobody,
    replace_database,
)
from graph.db import bump_changes
from graph.orders import AWAIT_REVERSAL

T = TypeVar("T")
OrderCheck = Callable[[Path, Mapping[str, KnownMember], dict[str, int], list[RowError]], int]
"""check_orders(path, members, skus, errors) given the file's members; returns the row count."""
BATCH = 10_000
LOOKUP_BATCH = 50_000

# One row of lists, not a record per member: decoding a day's ~34k records (a DateTime each)
# cost the client seconds at 1M, the read itself a fraction of that. A root's sponsor is ""
# (collect would skip a null and misalign the lists).
LOOKUP_MEMBERS = """
UNWIND $ids AS id
MATCH (m:Member {id: id})
WITH m, m.joined_at AS joined
RETURN collect(m.id) AS ids, collect(joined.epochSeconds) AS seconds,
       collect(joined.nanosecond) AS nanos, collect(joined.offsetSeconds) AS offsets,
       collect(coalesce([(m)-[:SPONSORED_BY]->(s) | s.id][0], '')) AS sponsors
"""

ALL_SKUS = "MATCH (p:Product) RETURN p.sku AS sku, p.commission_bp AS commission_bp"

MERGE_PRODUCTS = """
UNWIND $rows AS row
MERGE (p:Product {sku: row.sku})
ON CREATE SET p.name = row.name, p.price = row.price, p.commission_bp = row.commission_bp
WITH p, row
WHERE p.name <> row.name OR p.price <> row.price OR p.commission_bp <> row.commission_bp
SET p.name = row.name, p.price = row.price, p.commission_bp = row.commission_bp
"""

MERGE_MEMBERS = """
UNWIND $rows AS row
MERGE (m:Member {id: row.member_id})
ON CREATE SET m.name = row.name, m.joined_at = datetime(row.joined_at), m.suspended = false
"""

# A second pass, because sponsors may come after their recruits in the file.
MERGE_SPONSORS = """
UNWIND $rows AS row
MATCH (m:Member {id: row.member_id})
MATCH (s:Member {id: row.sponsor_id})
MERGE (m)-[:SPONSORED_BY]->(s)
"""

# Identity signals (docs/model.md, "Identity signals"): one shared node per (kind, value).
MERGE_IDENTIFIERS = """
UNWIND $rows AS row
MATCH (m:Member {id: row.member_id})
MERGE (i:Identifier {kind: row.kind, value: row.value})
MERGE (m)-[:USES]->(i)
"""

STORED_ORDERS = """
UNWIND $ids AS id
MATCH (o:Order {id: id})
RETURN o.id AS id, o.refunded_at IS NOT NULL AS refunded
"""

# An order and its relationships are created in one transaction, so an order that exists is
# complete: new orders can be CREATEd (cheaper than MERGE) and stored ones only take refunds.
# The uniqueness constraint still guards against a concurrent loader of the same rows.
CREATE_ORDERS = """
UNWIND $rows AS row
MATCH (b:Member {id: row.buyer_id})
MATCH (p:Product {sku: row.sku})
CREATE (o:Order {id: row.order_id, kind: row.kind, buyer_id: row.buyer_id,
                 seller_id: row.seller_id, sku: row.sku, amount: row.amount,
                 commission_bp: p.commission_bp, paid_at: datetime(row.paid_at),
                 refunded_at: datetime(row.refunded_at), unsettled_since: datetime(row.paid_at)})
CREATE (b)-[:BOUGHT]->(o)
CREATE (o)-[:OF_PRODUCT]->(p)
WITH o, row
WHERE row.seller_id IS NOT NULL
MATCH (s:Member {id: row.seller_id})
CREATE (s)-[:SOLD]->(o)
"""

ADD_REFUNDS = f"""
UNWIND $rows AS row
MATCH (o:Order {{id: row.order_id}})
WHERE o.refunded_at IS NULL
SET o.refunded_at = datetime(row.refunded_at)
{AWAIT_REVERSAL}
"""


class LoadRefused(Exception):
    """At least one row is bad; nothing was written."""

    def __init__(self, checked: Checked) -> None:
        super().__init__(f"{len(checked.errors)} bad row(s); nothing was written")
        self.errors = checked.errors


@dataclass
class LoadReport:
    members: int = 0
    products: int = 0
    orders: int = 0
    seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    bulk: bool = False
    """True when Neo4j's offline importer wrote the graph, False for transactions."""
    index_seconds: float = 0.0

    @property
    def rows(self) -> int:
        return self.members + self.products + self.orders

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[str, int, int], None]
"""progress(stage, rows done in this call, stage total)"""


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def lookup_members(
    driver: neo4j.Driver, ids: Sequence[str], database: str = "neo4j"
) -> dict[str, KnownMember]:
    found: dict[str, KnownMember] = {}
    for chunk in _batches(ids, LOOKUP_BATCH):
        records, _, _ = driver.execute_query(
            LOOKUP_MEMBERS, ids=chunk, database_=database, routing_=neo4j.RoutingControl.READ
        )
        r = records[0]
        for member_id, seconds, nanos, offset, sponsor in zip(
            r["ids"], r["seconds"], r["nanos"], r["offsets"], r["sponsors"], strict=True
        ):
            joined = datetime.fromtimestamp(seconds, timezone(timedelta(seconds=offset)))
            found[member_id] = KnownMember(
                sponsor or None, joined + timedelta(microseconds=nanos // 1000)
            )
    return found


def check_files(
    driver: neo4j.Driver,
    *,
    members: Path | None,
    products: Path | None,
    orders: Path | None,
    database: str = "neo4j",
    rules: Rules = DEFAULT_RULES,
) -> Checked:
    """Checks every row of every file given, against each other and the graph."""

    def existing(ids: list[str]) -> Mapping[str, KnownMember]:
        return lookup_members(driver, ids, database)

    def stored_skus() -> dict[str, int]:
        records, _, _ = driver.execute_query(ALL_SKUS, database_=database)
        return {r["sku"]: r["commission_bp"] for r in records}

    return _check(members, products, orders, existing, stored_skus, rules=rules)


def _check(
    members: Path | None,
    products: Path | None,
    orders: Path | None,
    existing: Callable[[list[str]], Mapping[str, KnownMember]],
    stored_skus: Callable[[], dict[str, int]],
    order_check: OrderCheck | None = None,
    *,
    rules: Rules,
) -> Checked:
    """The checks both paths share (contract/importfiles.py and contract/rules.py);
    ``order_check`` replaces ``check_orders`` (the bulk path writes good orders as it checks)."""
    checked = Checked()
    known: dict[str, KnownMember] = {}
    if members is not None:
        checked.members, known = check_members(members, existing, checked.errors, rules)
    if products is not None:
        checked.products = check_products(products, checked.errors, rules)
    if orders is not None:
        # The file's products are written before its orders: their rates are the ones that count.
        skus = stored_skus() | {p.sku: p.commission_bp for p in checked.products}
        if order_check is not None:
            checked.order_count = order_check(orders, known, skus, checked.errors)
        else:
            checked.order_count = check_orders(
                orders, known, existing, skus, checked.errors, rules=rules
            )
    return checked


def _write_orders(
    driver: neo4j.Driver, chunk: list[OrderRow], counters: dict[str, int], database: str
) -> int:
    """Writes one batch: CREATE for new orders, refunds for stored ones; returns its size."""
    records, _, _ = driver.execute_query(
        STORED_ORDERS,
        ids=[o.order_id for o in chunk],
        database_=database,
        routing_=neo4j.RoutingControl.READ,
    )
    stored = {r["id"]: r["refunded"] for r in records}
    fresh = [vars(o) for o in chunk if o.order_id not in stored]
    refunds = [
        vars(o) for o in chunk if o.refunded_at and o.order_id in stored and not stored[o.order_id]
    ]
    if fresh:
        _run(driver, CREATE_ORDERS, fresh, counters, database)
    if refunds:
        _run(driver, ADD_REFUNDS, refunds, counters, database)
    return len(chunk)


def _run(
    driver: neo4j.Driver,
    query: str,
    rows: Sequence[Mapping[str, Any]],
    counters: dict[str, int],
    database: str,
) -> None:
    def work(tx: neo4j.ManagedTransaction) -> neo4j.ResultSummary:
        summary = tx.run(query, rows=rows).consume()
        bump_changes(tx)  # the API's cached delta must not outlive this batch
        return summary

    with driver.session(database=database) as session:
        summary = session.execute_write(work)
    for key, value in vars(summary.counters).items():
        if isinstance(value, int) and not isinstance(value, bool) and value:
            counters[key] = counters.get(key, 0) + value


def _write(
    driver: neo4j.Driver,
    query: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    stage: str,
    total: int,
    progress: Progress | None,
    counters: dict[str, int],
    database: str,
    batch: int = BATCH,
) -> None:
    for chunk in _batches(rows, batch):
        _run(driver, query, chunk, counters, database)
        if progress is not None:
            progress(stage, len(chunk), total)


def load(
    driver: neo4j.Driver,
    *,
    members: Path | None = None,
    products: Path | None = None,
    orders: Path | None = None,
    progress: Progress | None = None,
    database: str = "neo4j",
    bulk: ManagedServer | None = None,
    bulk_min_bytes: int = AUTO_MIN_BYTES,
    step: Callable[[str], None] | None = None,
    resample: bool = True,
    rules: Rules = DEFAULT_RULES,
) -> LoadReport:
    """Checks all files, then writes them; raises LoadRefused (writing nothing) on any bad row.

    ``rules`` are the deployment's input limits (Settings.rules), the same the API applies.

    With ``bulk`` (the server Downline runs behind ``driver``), a database that is empty gets the
    offline importer when the files hold at least ``bulk_min_bytes``. A transactional load ends
    by resampling the indexes it changed (graph/statistics.py); ``resample=False`` leaves them as
    a store filled only by mutations has them (the plan-shape tests' worst case).
    """
    started = time.perf_counter()
    if bulk is not None and bulk_path(
        driver, [members, products, orders], database=database, min_bytes=bulk_min_bytes
    ):
        return _load_bulk(
            driver,
            bulk,
            members=members,
            products=products,
            orders=orders,
            database=database,
            step=step,
            started=started,
            rules=rules,
        )
    checked = check_files(
        driver, members=members, products=products, orders=orders, database=database, rules=rules
    )
    if checked.errors:
        raise LoadRefused(checked)
    report = LoadReport(
        members=len(checked.members), products=len(checked.products), orders=checked.order_count
    )
    common: dict[str, Any] = {
        "progress": progress,
        "counters": report.counters,
        "database": database,
    }
    _write(
        driver,
        MERGE_PRODUCTS,
        (vars(p) for p in checked.products),
        stage="products",
        total=report.products,
        **common,
    )
    _write(
        driver,
        MERGE_MEMBERS,
        (vars(m) for m in checked.members),
        stage="members",
        total=report.members,
        batch=20_000,
        **common,
    )
    _write(
        driver,
        MERGE_SPONSORS,
        (vars(m) for m in checked.members if m.sponsor_id),
        stage="sponsors",
        total=sum(1 for m in checked.members if m.sponsor_id),
        batch=20_000,
        **common,
    )
    identifiers = identifier_rows(checked.members)
    _write(
        driver,
        MERGE_IDENTIFIERS,
        identifiers,
        stage="identifiers",
        total=len(identifiers),
        batch=20_000,
        **common,
    )
    if orders is not None:
        # Parsing the next batch overlaps with Neo4j writing the current one.
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending: Future[int] | None = None
            for chunk in _batches(order_rows(orders), BATCH):
                if pending is not None and progress is not None:
                    progress("orders", pending.result(), report.orders)
                pending = writer.submit(_write_orders, driver, chunk, report.counters, database)
            if pending is not None:
                done = pending.result()
                if progress is not None:
                    progress("orders", done, report.orders)
    if resample:
        statistics.resample(driver, database=database)
    report.seconds = time.perf_counter() - started
    return report


def identifier_rows(members: Iterable[MemberRow]) -> list[dict[str, str]]:
    """One row per (member, identity signal) of the checked members."""
    return [
        {"member_id": m.member_id, "kind": kind, "value": value}
        for m in members
        for kind, value in m.identifiers
    ]


def bulk_path(
    driver: neo4j.Driver, files: Sequence[Path | None], *, database: str, min_bytes: int
) -> bool:
    """Whether the offline importer is worth it: big enough files and an empty database."""
    size = sum(f.stat().st_size for f in files if f is not None)
    return size >= min_bytes and is_empty(driver, database)


def _load_bulk(
    driver: neo4j.Driver,
    target: ManagedServer,
    *,
    members: Path | None,
    products: Path | None,
    orders: Path | None,
    database: str,
    step: Callable[[str], None] | None,
    started: float,
    rules: Rules,
) -> LoadReport:
    say = step or (lambda _: None)
    with ImportFiles(target.paths.root / "bulk-import") as files:
        # The same checks as the transactional path, against an empty graph; the good orders
        # are written out for the importer in the same pass (in two processes for a big file).
        say("checking the files and writing the importer's input")
        checked = _check(
            members,
            products,
            orders,
            nobody,
            dict,
            lambda path, known, skus, errors: files.check_orders(path, known, skus, errors, rules),
            rules=rules,
        )
        if checked.errors:
            raise LoadRefused(checked)
        files.write_nodes(checked.members, checked.products)
        if not is_empty(driver, database):
            raise RuntimeError(
                "something was written to the graph while the files were checked; nothing was"
                " loaded, run the load again"
            )
        replace_database(target, files, database=database, step=say)
        report = LoadReport(
            members=len(checked.members),
            products=len(checked.products),
            orders=checked.order_count,
            bulk=True,
            counters={
                "nodes_created": len(checked.members)
                + len(checked.products)
                + files.orders
                + files.identifiers,
                "relationships_created": files.sponsors
                + 2 * files.orders
                + files.sold
                + files.uses,
            },
        )
    say("creating constraints and indexes")
    report.index_seconds = build_schema(driver, database)
    report.seconds = time.perf_counter() - started
    return report
