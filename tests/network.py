"""The one factory for test networks: rows of the CSV contract turned into a store.

A network is written as the three contract files and loaded the way users load them (the
loader, or ``downline load``), or recorded row by row through the transactional write path.
The builders beside the tests (tests/graph/netbuild.py, rollnet.py, growthnet.py,
tests/api/conftest.py, tests/web/test_dashboard.py) only describe networks and model them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import neo4j

from contract.importfiles import (
    IDENTIFIER_KINDS,
    MEMBER_COLUMNS,
    ORDER_COLUMNS,
    PRODUCT_COLUMNS,
)
from contract.money import format_yuan
from graph import loader, members, orders, products
from tests.cli import downline


@dataclass(frozen=True)
class MemberRow:
    member_id: str
    sponsor_id: str | None
    joined_at: datetime
    name: str = ""
    identity: tuple[str, str, str] = ("", "", "")
    """phone_hash, device_id, payee_account (IDENTIFIER_KINDS' order); "" where absent."""

    def cells(self) -> list[str]:
        name = self.name or f"name {self.member_id}"
        return [self.member_id, self.sponsor_id or "", self.joined_at.isoformat(), name]


@dataclass(frozen=True)
class ProductRow:
    sku: str
    name: str
    price: int
    commission_bp: int

    def cells(self) -> list[str]:
        return [self.sku, self.name, format_yuan(self.price), str(self.commission_bp)]


@dataclass(frozen=True)
class OrderRow:
    order_id: str
    kind: str
    buyer_id: str
    seller_id: str | None
    sku: str
    amount: int
    paid_at: datetime
    refunded_at: datetime | None = None

    def cells(self) -> list[str]:
        refunded = "" if self.refunded_at is None else self.refunded_at.isoformat()
        return [
            self.order_id,
            self.kind,
            self.buyer_id,
            self.seller_id or "",
            self.sku,
            format_yuan(self.amount),
            self.paid_at.isoformat(),
            refunded,
        ]


@dataclass(frozen=True)
class Files:
    members: Path
    products: Path
    orders: Path

    def load_args(self) -> list[str]:
        """The ``downline load`` command line for these files."""
        return [
            "load",
            "--members",
            str(self.members),
            "--products",
            str(self.products),
            "--orders",
            str(self.orders),
        ]


def write(
    folder: Path,
    member_rows: Iterable[MemberRow],
    product_rows: Iterable[ProductRow],
    order_rows: Iterable[OrderRow] = (),
) -> Files:
    """The three contract files, headers included, in ``folder``.

    members.csv has the optional identity columns only when some member has a signal, so the
    contract's four columns stay what most tests load."""
    folder.mkdir(parents=True, exist_ok=True)
    files = Files(folder / "members.csv", folder / "products.csv", folder / "orders.csv")
    people = list(member_rows)
    signals = any(any(m.identity) for m in people)
    member_columns = MEMBER_COLUMNS + (IDENTIFIER_KINDS if signals else ())
    tables: list[tuple[Path, tuple[str, ...], list[list[str]]]] = [
        (files.members, member_columns, [member_cells(m, signals) for m in people]),
        (files.products, PRODUCT_COLUMNS, [p.cells() for p in product_rows]),
        (files.orders, ORDER_COLUMNS, [o.cells() for o in order_rows]),
    ]
    for path, columns, rows in tables:
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(columns)
            w.writerows(rows)
    return files


def member_cells(row: MemberRow, signals: bool) -> list[str]:
    return row.cells() + (list(row.identity) if signals else [])


def load(driver: neo4j.Driver, files: Files) -> None:
    """Loads the files with the loader ``downline load`` runs."""
    loader.load(driver, members=files.members, products=files.products, orders=files.orders)


def load_with_cli(env: dict[str, str], files: Files) -> None:
    """Loads the files with the real ``downline load`` command."""
    done = downline(*files.load_args(), env=env)
    assert done.returncode == 0, f"downline load: {done.stdout}\n{done.stderr}"


async def record(
    driver: neo4j.AsyncDriver,
    member_rows: Iterable[MemberRow],
    product_rows: Iterable[ProductRow],
    order_rows: Iterable[OrderRow] = (),
) -> None:
    """Records the rows one by one through the transactional write path (the API's)."""
    for p in product_rows:
        await products.upsert_product(
            driver, sku=p.sku, name=p.name, price=p.price, commission_bp=p.commission_bp
        )
    for m in member_rows:
        await members.register_member(
            driver,
            member_id=m.member_id,
            name=m.name or f"Name {m.member_id}",
            joined_at=m.joined_at,
            sponsor_id=m.sponsor_id,
        )
    for o in order_rows:
        await orders.record_order(
            driver,
            order_id=o.order_id,
            kind=o.kind,
            buyer_id=o.buyer_id,
            seller_id=o.seller_id,
            sku=o.sku,
            amount=o.amount,
            paid_at=o.paid_at,
        )
        if o.refunded_at is not None:
            await orders.refund_order(driver, order_id=o.order_id, refunded_at=o.refunded_at)
