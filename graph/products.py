"""Products and their commission rates."""

from __future__ import annotations

from dataclasses import dataclass

import neo4j

from contract.rules import DEFAULT_RULES, Rules, check_id, check_name
from graph.db import fetch_one
from graph.errors import BadInput
from graph.members import bad_input


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: int
    commission_bp: int


UPSERT_PRODUCT = """
MERGE (p:Product {sku: $sku})
SET p.name = $name, p.price = $price, p.commission_bp = $commission_bp
RETURN p {.sku, .name, .price, .commission_bp} AS product
"""


async def upsert_product(
    driver: neo4j.AsyncDriver,
    *,
    sku: str,
    name: str,
    price: int,
    commission_bp: int,
    rules: Rules = DEFAULT_RULES,
    database: str = "neo4j",
) -> Product:
    """A rate change applies to orders recorded from now on; past orders keep theirs. A product
    whose rate is 0 is a gift package (contract/rules.py, gift_package_product)."""
    if not sku.strip():
        raise BadInput("sku must not be empty")
    if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
        raise BadInput(f"price must be a positive number of fen, got {price!r}")
    with bad_input():
        check_id(sku, "sku")
        name = check_name(name)
        rules.check_amount(price, "price")
    if not 0 <= commission_bp <= 10_000:
        raise BadInput(f"commission_bp must be within 0-10000, got {commission_bp}")

    async def work(tx: neo4j.AsyncManagedTransaction) -> Product:
        row = await fetch_one(
            tx, UPSERT_PRODUCT, sku=sku, name=name, price=price, commission_bp=commission_bp
        )
        assert row is not None
        return Product(**row["product"])

    async with driver.session(database=database) as session:
        return await session.execute_write(work)
