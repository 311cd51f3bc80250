"""A first load into an empty store through Neo4j's offline importer.

Transactional writes cap ``downline load`` at about 11 000 rows/s; the importer behind
``neo4j-admin database import full`` writes the store files directly and is several times faster.
It can only build a whole database, so it is used only when the database is empty and Downline
runs its server (so it may stop and start it). The graph it writes is the one the transactional
path writes: the same labels, relationship types, property names and types.

Its input files are written while orders.csv is checked (one pass over the big file), into a
work directory beside the store; a big orders.csv is checked and written in two halves at once,
in two processes (the machines it runs on have two cores). The store is swapped only after the
importer succeeded: the empty database is moved aside first and put back if anything fails, so
a failed bulk load leaves the store as it was.
"""

from __future__ import annotations

import csv
import itertools
import multiprocessing
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import IO

import neo4j

from contract.importfiles import (
    GoodOrder,
    KnownMember,
    MemberRow,
    ProductRow,
    RowError,
    check_orders,
    line_start_near,
)
from contract.rules import DEFAULT_RULES, Rules
from graph import server
from graph.cypherfiles import split_statements
from graph.db import SCHEMA_FILE

# Files below this size load faster through transactions than through a server restart.
AUTO_MIN_BYTES = 8_000_000
# Below this size orders.csv is checked in one process: a second one costs more than it saves.
SPLIT_MIN_BYTES = 32_000_000
INDEX_WAIT_S = 6 * 3600

ORDER_FIELDS = (
    "order_id",
    "kind",
    "buyer_id",
    "seller_id",
    "sku",
    "amount",
    "commission_bp",
    "paid_at",
    "refunded_at",
    "unsettled_since",
)
# The importer maps integer ids several times faster than string ids (at 1M members and 10M
# orders, relationships in 66 s instead of 168 s): every node gets a number of its own in its
# group (``:ID``, not kept), and its contract id is an ordinary ``id`` property. An orders row
# leads with the numbers of the order, its buyer and its product, which BOUGHT and OF_PRODUCT
# read from the same file; the rest of its columns are the Order's properties.
HEADERS = {
    "members": ":ID(Member),id,name,joined_at:datetime,suspended:boolean",
    "products": ":ID(Product),sku,name,price:long,commission_bp:long",
    "sponsored_by": ":START_ID(Member),:END_ID(Member)",
    "orders": ":ID(Order),:IGNORE,:IGNORE,id,kind,buyer_id,seller_id,sku,amount:long,"
    "commission_bp:long,paid_at:datetime,refunded_at:datetime,unsettled_since:datetime",
    "bought": ":END_ID(Order),:START_ID(Member)" + ",:IGNORE" * len(ORDER_FIELDS) + ",:IGNORE",
    "of_product": ":START_ID(Order),:IGNORE,:END_ID(Product)" + ",:IGNORE" * len(ORDER_FIELDS),
    "sold": ":START_ID(Member),:END_ID(Order)",
    # One node per distinct (kind, value); its number is not kept as a property.
    "identifiers": ":ID(Identifier),kind,value",
    "uses": ":START_ID(Member),:END_ID(Identifier)",
}
# The second half of a split orders file numbers its orders from here (the first from 0).
SECOND_HALF_NUMBERS = 1 << 40

ANY_NODE = "MATCH (n) RETURN count(n) > 0 AS any LIMIT 1"
# A CREATE INDEX statement, maybe after comment lines.
_PLAIN_INDEX = re.compile(r"^(?:\s*//[^\n]*\n)*\s*CREATE\s+INDEX\b", re.IGNORECASE)
# Any schema statement (CREATE INDEX or CONSTRAINT); the file's other statements migrate data.
_SCHEMA = re.compile(r"^(?:\s*//[^\n]*\n)*\s*CREATE\s+(?:INDEX|CONSTRAINT)\b", re.IGNORECASE)


class BulkImportFailed(RuntimeError):
    """The importer or the restart failed; the store was put back as it was before."""


@dataclass(frozen=True)
class ManagedServer:
    """The embedded server behind the driver, which this process may stop and start again."""

    paths: server.ServerPaths
    launch: server.Launch
    password: str


def managed_server(
    root: Path, *, host: str, port: int, password: str | None
) -> ManagedServer | None:
    """The server Downline runs in ``root`` when it is the one at ``host:port``, else None."""
    if host not in {"127.0.0.1", "localhost"} or not password:
        return None
    paths = server.ServerPaths(root)
    launch = server.last_launch(paths)
    if launch is None or launch.port != port or server.running_port(paths) != port:
        return None
    return ManagedServer(paths, launch, password)


def is_empty(driver: neo4j.Driver, database: str = "neo4j") -> bool:
    records, _, _ = driver.execute_query(ANY_NODE, database_=database)
    return not records[0]["any"]


def _has_line_break(text: str) -> bool:
    return "\n" in text or "\r" in text


def nobody(ids: list[str]) -> Mapping[str, KnownMember]:
    """What an empty graph holds of any member."""
    return {}


# What the second half's process sends back: None when it found anything wrong, else its row
# count, orders and SOLD rows written, and the order ids it read, one a line.
_HalfOutcome = tuple[int, int, int, str] | None


@dataclass
class ImportFiles:
    """The importer's input, written into ``directory``; a context that deletes it at the end."""

    directory: Path
    multiline: bool = False
    orders: int = 0
    sold: int = 0
    sponsors: int = 0
    identifiers: int = 0
    uses: int = 0
    order_parts: list[str] = field(default_factory=list)
    """Suffixes of the orders and SOLD files written (``orders{part}.csv``)."""
    members: dict[str, int] = field(default_factory=dict)
    """The importer's number of each member (HEADERS), given before any file refers to it."""
    products: dict[str, int] = field(default_factory=dict)
    _handles: list[IO[str]] = field(default_factory=list)

    def __enter__(self) -> ImportFiles:
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True)
        for name, header in HEADERS.items():
            (self.directory / f"{name}.header.csv").write_text(header + "\n", encoding="utf-8")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _open(self, name: str) -> IO[str]:
        handle = (self.directory / f"{name}.csv").open("w", encoding="utf-8", newline="")
        self._handles.append(handle)
        return handle

    def _close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles.clear()

    def number(self, members: Iterable[str], products: Iterable[str]) -> None:
        """Gives each member and product not numbered yet the next number of its group."""
        for member_id in members:
            self.members.setdefault(member_id, len(self.members))
        for sku in products:
            self.products.setdefault(sku, len(self.products))

    def write_nodes(self, members: list[MemberRow], products: list[ProductRow]) -> None:
        """Writes the members, their sponsors and the products; a sponsor in neither the file
        nor the graph gets a number no node has, so the importer refuses it."""
        self.number((m.member_id for m in members), (p.sku for p in products))
        number, sku_number = self.members, self.products
        with (self.directory / "products.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            for p in products:
                self.multiline |= _has_line_break(p.name)
                writer.writerow((sku_number[p.sku], p.sku, p.name, p.price, p.commission_bp))
        with (
            (self.directory / "members.csv").open("w", encoding="utf-8", newline="") as f,
            (self.directory / "sponsored_by.csv").open("w", encoding="utf-8", newline="") as s,
        ):
            nodes, sponsors = csv.writer(f), csv.writer(s)
            for m in members:
                self.multiline |= _has_line_break(m.name)
                me = number[m.member_id]
                nodes.writerow((me, m.member_id, m.name, m.joined_at, "false"))
                if m.sponsor_id:
                    sponsors.writerow((me, number.get(m.sponsor_id, -1)))
                    self.sponsors += 1
        self._write_identifiers(members)

    def _write_identifiers(self, members: list[MemberRow]) -> None:
        """Identity signals: each distinct (kind, value) once, one USES per member and signal."""
        keys: dict[tuple[str, str], int] = {}
        with (
            (self.directory / "identifiers.csv").open("w", encoding="utf-8", newline="") as f,
            (self.directory / "uses.csv").open("w", encoding="utf-8", newline="") as u,
        ):
            nodes, uses = csv.writer(f), csv.writer(u)
            for m in members:
                for kind, value in m.identifiers:
                    key = keys.get((kind, value))
                    if key is None:
                        key = keys[(kind, value)] = len(keys)
                        nodes.writerow((key, kind, value))
                    uses.writerow((self.members[m.member_id], key))
                    self.uses += 1
        self.identifiers = len(keys)

    def start_orders(
        self, commission_bp: Mapping[str, int], part: str = "", first: int = 0
    ) -> Callable[[GoodOrder], None]:
        """A sink for ``check_orders``: each good row becomes an Order and its relationships,
        the orders numbered from ``first`` on (every buyer, seller and product is numbered)."""
        order = csv.writer(self._open(f"orders{part}")).writerow
        sold = csv.writer(self._open(f"sold{part}")).writerow
        self.order_parts.append(part)
        bp = commission_bp
        member, product = self.members, self.products
        numbers = itertools.count(first)

        def accept(row: GoodOrder) -> None:
            order_id, kind, buyer_id, seller_id, sku, fen, paid_at, refunded_at = row
            # The order copies its product's rate and is unsettled from its paid_at, as the
            # transactional CREATE does.
            unsettled_since = paid_at
            me = next(numbers)
            order(
                (
                    me,
                    member[buyer_id],
                    product[sku],
                    order_id,
                    kind,
                    buyer_id,
                    seller_id,
                    sku,
                    fen,
                    bp[sku],
                    paid_at,
                    refunded_at,
                    unsettled_since,
                )
            )
            self.orders += 1
            if seller_id:
                sold((member[seller_id], me))
                self.sold += 1

        return accept

    def check_orders(
        self,
        path: Path,
        members: Mapping[str, KnownMember],
        skus: Mapping[str, int],
        errors: list[RowError],
        rules: Rules = DEFAULT_RULES,
        *,
        split_min_bytes: int = SPLIT_MIN_BYTES,
    ) -> int:
        """``check_orders`` into an empty graph, writing the good rows; returns the row count.

        A big file is checked in two halves at once: a forked process takes the second half
        (sharing the members checked so far), this one the first. Only a clean outcome of both,
        with no order id in both halves, is kept; anything else (a bad row, a quote left open
        across the split) checks the whole file again in this process, so a refusal names the
        same lines in the same order as the transactional path.
        """
        # Numbered before the split, so that both processes give a member the same number.
        self.number(members, skus)
        size = path.stat().st_size
        split = line_start_near(path, size // 2) if size >= split_min_bytes else size
        if 0 < split < size:
            count = self._check_halves(path, split, members, skus, rules)
            if count is not None:
                return count
            self._drop_orders()
        sink = self.start_orders(skus)
        return check_orders(path, members, nobody, skus, errors, sink, rules)

    def _check_halves(
        self,
        path: Path,
        split: int,
        members: Mapping[str, KnownMember],
        skus: Mapping[str, int],
        rules: Rules,
    ) -> int | None:
        """Both halves' row count, or None when either found anything wrong."""
        context = multiprocessing.get_context("fork")  # the child shares ``members``, unpickled
        receive, send = context.Pipe(duplex=False)
        # Buffered output would be written twice, once more by the child as it exits.
        sys.stdout.flush()
        sys.stderr.flush()
        child = context.Process(
            target=self._check_second_half,
            args=(send, path, split, members, skus, rules),
            daemon=True,
        )
        child.start()
        send.close()
        outcome: _HalfOutcome = None
        try:
            errors: list[RowError] = []
            seen: set[str] = set()
            sink = self.start_orders(skus, "-1")
            try:
                count = check_orders(
                    path, members, nobody, skus, errors, sink, rules, seen=seen, stop=split
                )
            except ValueError:
                return None
            if errors:
                return None
            try:
                outcome = receive.recv()
            except EOFError:
                return None
        finally:
            if outcome is None:
                child.terminate()
            child.join()
            receive.close()
        if outcome is None:
            return None
        their_count, their_orders, their_sold, their_ids = outcome
        if not seen.isdisjoint(their_ids.split("\n")):
            return None
        self.order_parts.append("-2")
        self.orders += their_orders
        self.sold += their_sold
        return count + their_count

    def _check_second_half(
        self,
        send: Connection,
        path: Path,
        split: int,
        members: Mapping[str, KnownMember],
        skus: Mapping[str, int],
        rules: Rules,
    ) -> None:
        """Runs in the forked process: checks and writes the rows from ``split`` on."""
        outcome: _HalfOutcome = None
        try:
            errors: list[RowError] = []
            seen: set[str] = set()
            sink = self.start_orders(skus, "-2", SECOND_HALF_NUMBERS)
            count = check_orders(
                path, members, nobody, skus, errors, sink, rules, seen=seen, start=split
            )
            self._close()
            if not errors:
                outcome = (count, self.orders, self.sold, "\n".join(seen))
        except Exception:  # the whole-file check words whatever went wrong
            outcome = None
        finally:
            send.send(outcome)
            send.close()

    def _drop_orders(self) -> None:
        """Forgets the orders written so far (before checking the whole file again)."""
        self._close()
        for part in self.order_parts:
            for name in ("orders", "sold"):
                (self.directory / f"{name}{part}.csv").unlink(missing_ok=True)
        self.order_parts.clear()
        self.orders = self.sold = 0

    def arguments(self, database: str, *, threads: int, off_heap: str) -> list[str]:
        """``neo4j-admin database import full`` arguments for these files."""
        self._close()
        d = self.directory

        def group(kind: str, label: str, name: str, *data: str) -> str:
            files = [d / f"{name}.header.csv", *(d / f"{f}.csv" for f in data or (name,))]
            return f"--{kind}={label}={','.join(str(f) for f in files)}"

        args = [
            group("nodes", "Member", "members"),
            group("nodes", "Product", "products"),
            group("relationships", "SPONSORED_BY", "sponsored_by"),
        ]
        if self.identifiers:
            args += [
                group("nodes", "Identifier", "identifiers"),
                group("relationships", "USES", "uses"),
            ]
        if self.order_parts:
            orders = [f"orders{part}" for part in self.order_parts]
            args += [
                group("nodes", "Order", "orders", *orders),
                group("relationships", "BOUGHT", "bought", *orders),
                group("relationships", "OF_PRODUCT", "of_product", *orders),
                group("relationships", "SOLD", "sold", *(f"sold{p}" for p in self.order_parts)),
            ]
        return [
            *args,
            "--id-type=integer",
            "--bad-tolerance=0",
            f"--multiline-fields={'true' if self.multiline else 'false'}",
            f"--threads={threads}",
            f"--max-off-heap-memory={off_heap}",
            f"--report-file={d / 'import.report'}",
            "--overwrite-destination=true",
            database,
        ]


def _aside(path: Path) -> Path:
    return path.with_name(path.name + ".before-bulk-import")


def replace_database(
    target: ManagedServer,
    files: ImportFiles,
    *,
    database: str,
    step: Callable[[str], None] | None = None,
) -> None:
    """Stops the server, builds the database from ``files``, starts it again.

    The database there before (empty) is moved aside and comes back if the import or the restart
    fails, so no half-written store is ever left behind.
    """
    say = step or (lambda _: None)
    paths = target.paths
    say("stopping Neo4j")
    server.stop(paths)
    moved: list[tuple[Path, Path]] = []
    try:
        for path in paths.database_dirs(database):
            if path.exists():
                aside = _aside(path)
                shutil.rmtree(aside, ignore_errors=True)
                path.rename(aside)
                moved.append((path, aside))
        say("running Neo4j's bulk importer")
        log = paths.root / "bulk-import.log"
        log.unlink(missing_ok=True)
        # The stopped server's heap and page cache are free now: the importer gets them.
        result = server.bulk_import(
            paths,
            files.arguments(
                database, threads=os.cpu_count() or 2, off_heap=target.launch.pagecache
            ),
            heap=target.launch.heap,
            log=log,
        )
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise BulkImportFailed(f"Neo4j's importer exited with {result.returncode}:\n{tail}")
        say("starting Neo4j")
        server.restart(paths, target.launch, password=target.password)
    except BaseException as exc:
        server.stop(paths)
        for path, aside in moved:
            shutil.rmtree(path, ignore_errors=True)
            aside.rename(path)
        server.restart(paths, target.launch, password=target.password)
        if isinstance(exc, Exception) and not isinstance(exc, BulkImportFailed):
            raise BulkImportFailed(f"the bulk import failed: {exc}") from exc
        raise
    for _, aside in moved:
        shutil.rmtree(aside, ignore_errors=True)


def build_schema(driver: neo4j.Driver, database: str) -> float:
    """Creates the constraints and indexes on the imported graph and waits until they are online.

    Returns the seconds it took; populating them is part of what a load costs. The plain indexes
    are created first, in one transaction, so Neo4j fills them all from one scan of the store in
    the background while each uniqueness constraint (which waits for its own index) is built.
    The schema file's data migrations are left out: they bring stores written by older versions
    up to date, and the importer wrote today's graph (each one would only scan it for nothing,
    the orders' one all of them).
    """
    started = time.perf_counter()
    statements = [
        s for s in split_statements(SCHEMA_FILE.read_text(encoding="utf-8")) if _SCHEMA.match(s)
    ]
    indexes = [s for s in statements if _PLAIN_INDEX.match(s)]
    with driver.session(database=database) as session:
        with session.begin_transaction() as tx:
            for statement in indexes:
                tx.run(statement).consume()
            tx.commit()
        for statement in statements:
            if statement not in indexes:
                session.run(neo4j.Query(statement)).consume()
        session.run("CALL db.awaitIndexes($seconds)", seconds=INDEX_WAIT_S).consume()
    return time.perf_counter() - started
