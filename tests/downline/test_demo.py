"""The demo network generator: its files keep the CSV contract and the business rules."""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from downline.demo import DemoSummary, write_demo_network

MEMBERS = 2_000
SEED = 7
START = datetime.fromisoformat("2025-11-01T00:00:00+08:00")
END = datetime.fromisoformat("2026-11-01T00:00:00+08:00")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
YUAN = re.compile(r"^\d+\.\d{2}$")
FILES = ("members.csv", "products.csv", "orders.csv")
HEADERS = {
    "members.csv": "member_id,sponsor_id,joined_at,name",
    "products.csv": "sku,name,price,commission_bp",
    "orders.csv": "order_id,kind,buyer_id,seller_id,sku,amount,paid_at,refunded_at",
}


@dataclass(frozen=True)
class Network:
    summary: DemoSummary
    members: dict[str, dict[str, str]]
    products: dict[str, dict[str, str]]
    orders: list[dict[str, str]]

    def joined(self, member_id: str) -> datetime:
        return datetime.fromisoformat(self.members[member_id]["joined_at"])

    def upline(self, member_id: str) -> list[str]:
        chain: list[str] = []
        sponsor = self.members[member_id]["sponsor_id"]
        while sponsor:
            chain.append(sponsor)
            sponsor = self.members[sponsor]["sponsor_id"]
        return chain


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def yuan_to_fen(text: str) -> int:
    whole, cents = text.split(".")
    return int(whole) * 100 + int(cents)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def network(out_dir: Path) -> Network:
    summary = write_demo_network(out_dir, members=MEMBERS, seed=SEED)
    return Network(
        summary=summary,
        members={row["member_id"]: row for row in read(out_dir / "members.csv")},
        products={row["sku"]: row for row in read(out_dir / "products.csv")},
        orders=read(out_dir / "orders.csv"),
    )


@pytest.fixture(scope="module")
def gift_packages(network: Network) -> dict[str, dict[str, str]]:
    """Each agent's gift-package order, by buyer."""
    return {o["buyer_id"]: o for o in network.orders if o["kind"] == "GIFT_PACKAGE"}


def test_same_seed_gives_the_same_bytes(out_dir: Path, network: Network, tmp_path: Path) -> None:
    again = write_demo_network(tmp_path / "again", members=MEMBERS, seed=SEED)
    other = write_demo_network(tmp_path / "other", members=MEMBERS, seed=SEED + 1)

    assert again == network.summary
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (out_dir / name).read_bytes()
    for name in ("members.csv", "orders.csv"):
        assert (tmp_path / "other" / name).read_bytes() != (out_dir / name).read_bytes()
    assert other.members == MEMBERS


def test_files_have_the_contract_headers(out_dir: Path, network: Network) -> None:
    for name in FILES:
        text = (out_dir / name).read_text(encoding="utf-8")
        assert text.split("\n", 1)[0] == HEADERS[name]
        assert text.endswith("\n")
        assert "\r" not in text


def test_summary_counts_what_the_files_hold(network: Network) -> None:
    depth: dict[str, int] = {}
    downline: Counter[str] = Counter()
    for member_id in network.members:
        chain = network.upline(member_id)
        depth[member_id] = len(chain)
        downline.update(chain)
    agents = {
        o["buyer_id"]
        for o in network.orders
        if o["kind"] == "GIFT_PACKAGE" and not o["refunded_at"]
    }

    assert network.summary == DemoSummary(
        members=len(network.members),
        products=len(network.products),
        orders=len(network.orders),
        agents=len(agents),
        refunds=sum(1 for o in network.orders if o["refunded_at"]),
        max_depth=max(depth.values()),
        largest_downline=max(downline.values()),
    )
    assert network.summary.members == MEMBERS
    assert network.summary.orders == 10 * MEMBERS


def test_members_form_a_forest_where_sponsors_join_first(network: Network) -> None:
    members = network.members
    roots = [m for m, row in members.items() if not row["sponsor_id"]]

    assert list(members) == [f"M{i:07d}" for i in range(1, MEMBERS + 1)]
    assert len(roots) == 1
    for member_id, row in members.items():
        assert TIMESTAMP.match(row["joined_at"]), row
        assert START <= network.joined(member_id) < END
        assert row["name"] and all("\u4e00" <= ch <= "\u9fff" for ch in row["name"]), row
        sponsor = row["sponsor_id"]
        if sponsor:
            assert sponsor in members, row
            assert network.joined(sponsor) < network.joined(member_id), row
    # Every chain ends at a root without meeting itself.
    for member_id in members:
        chain = network.upline(member_id)
        assert len(set(chain)) == len(chain) and member_id not in chain
        assert not chain or chain[-1] in roots
    earliest = min(members, key=network.joined)
    assert earliest in roots


def test_the_tree_is_deep_and_heavy_tailed(network: Network) -> None:
    recruits = Counter(row["sponsor_id"] for row in network.members.values() if row["sponsor_id"])

    assert network.summary.max_depth >= 20
    assert network.summary.largest_downline == MEMBERS - 1
    assert max(recruits.values()) >= 20
    assert sum(1 for n in recruits.values() if n == 1) > len(recruits) / 3


def test_products_have_prices_and_commissions_in_range(network: Network) -> None:
    gift = {sku: p for sku, p in network.products.items() if p["sku"].startswith("GP")}
    retail = {sku: p for sku, p in network.products.items() if p["sku"].startswith("SKU")}

    assert set(gift) == {"GP399", "GP499", "GP599"}
    assert len(retail) + len(gift) == len(network.products)
    assert 100 <= len(retail) <= 1000
    for product in network.products.values():
        assert YUAN.match(product["price"]), product
        assert product["name"], product
    for product in gift.values():
        assert 39_900 <= yuan_to_fen(product["price"]) <= 59_900
        assert product["commission_bp"] == "0"
    for product in retail.values():
        assert re.fullmatch(r"SKU\d{5}", product["sku"])
        assert 990 <= yuan_to_fen(product["price"]) <= 99_900
        assert 500 <= int(product["commission_bp"]) <= 4000


def test_orders_refer_to_what_exists_at_their_time(network: Network) -> None:
    assert [o["order_id"] for o in network.orders] == [
        f"O{i:09d}" for i in range(1, len(network.orders) + 1)
    ]
    for order in network.orders:
        assert order["kind"] in {"RETAIL", "GIFT_PACKAGE"}, order
        assert order["buyer_id"] in network.members, order
        assert not order["seller_id"] or order["seller_id"] in network.members, order
        product = network.products[order["sku"]]
        assert order["sku"].startswith("GP") == (order["kind"] == "GIFT_PACKAGE"), order
        assert YUAN.match(order["amount"]), order
        amount, price = yuan_to_fen(order["amount"]), yuan_to_fen(product["price"])
        quantities = (1,) if order["kind"] == "GIFT_PACKAGE" else (1, 2, 3)
        assert amount in {price * q for q in quantities}, order
        assert TIMESTAMP.match(order["paid_at"]), order
        paid = datetime.fromisoformat(order["paid_at"])
        assert network.joined(order["buyer_id"]) <= paid < END, order
        if order["refunded_at"]:
            assert TIMESTAMP.match(order["refunded_at"]), order
            assert paid < datetime.fromisoformat(order["refunded_at"]) < END, order
    paid_times = [datetime.fromisoformat(o["paid_at"]) for o in network.orders]
    assert paid_times == sorted(paid_times)


def test_about_a_third_are_agents_each_with_one_gift_package(
    network: Network, gift_packages: dict[str, dict[str, str]]
) -> None:
    bought = Counter(o["buyer_id"] for o in network.orders if o["kind"] == "GIFT_PACKAGE")

    assert set(bought.values()) == {1}
    assert 0.28 <= network.summary.agents / MEMBERS <= 0.40
    soon = sum(
        1
        for member_id, order in gift_packages.items()
        if datetime.fromisoformat(order["paid_at"]) - network.joined(member_id) < timedelta(days=1)
    )
    assert soon > len(gift_packages) / 2
    assert all(not o["seller_id"] for o in gift_packages.values())


def test_sellers_are_agents_when_they_sell(
    network: Network, gift_packages: dict[str, dict[str, str]]
) -> None:
    def agent_at(member_id: str, at: str) -> bool:
        package = gift_packages.get(member_id)
        return (
            package is not None
            and package["paid_at"] <= at  # same offset everywhere, so text order is time order
            and (not package["refunded_at"] or package["refunded_at"] > at)
        )

    retail = [o for o in network.orders if o["kind"] == "RETAIL"]
    sold = [o for o in retail if o["seller_id"]]
    by_agents = [o for o in retail if agent_at(o["buyer_id"], o["paid_at"])]
    self_purchases = [o for o in by_agents if o["seller_id"] == o["buyer_id"]]
    others = [o for o in sold if o["seller_id"] != o["buyer_id"]]

    assert [o for o in sold if not agent_at(o["seller_id"], o["paid_at"])] == []
    assert len(self_purchases) > 0.6 * len(by_agents)
    assert all(o["seller_id"] in network.upline(o["buyer_id"]) for o in others)
    assert any(o["seller_id"] == network.members[o["buyer_id"]]["sponsor_id"] for o in others)
    assert any(not o["seller_id"] for o in retail)


def test_about_five_percent_refunded_some_after_the_hold(network: Network) -> None:
    refunded = [o for o in network.orders if o["refunded_at"]]
    waits = [
        datetime.fromisoformat(o["refunded_at"]) - datetime.fromisoformat(o["paid_at"])
        for o in refunded
    ]

    assert 0.04 <= len(refunded) / len(network.orders) <= 0.06
    assert sum(1 for w in waits if w > timedelta(days=7)) > len(waits) / 20
    assert sum(1 for w in waits if w <= timedelta(days=7)) > len(waits) / 2


def test_order_count_and_progress(tmp_path: Path) -> None:
    reported: Counter[str] = Counter()

    summary = write_demo_network(
        tmp_path,
        members=300,
        seed=1,
        orders=50,
        progress=lambda stage, rows: reported.update({stage: rows}),
    )

    assert summary.orders == 50 and summary.agents <= 50
    assert len(read(tmp_path / "orders.csv")) == 50
    assert reported == {"members": 300, "products": summary.products, "orders": 50}


def test_a_single_member_is_a_root(tmp_path: Path) -> None:
    summary = write_demo_network(tmp_path, members=1, seed=3, orders=0)

    assert (summary.members, summary.orders, summary.max_depth, summary.largest_downline) == (
        1,
        0,
        0,
        0,
    )
    [member] = read(tmp_path / "members.csv")
    assert member["member_id"] == "M0000001" and member["sponsor_id"] == ""
    assert read(tmp_path / "orders.csv") == []


@pytest.mark.slow
def test_a_large_network_has_deep_chains_and_key_nodes(tmp_path: Path) -> None:
    summary = write_demo_network(tmp_path, members=100_000, seed=1, orders=100_000)

    assert summary.max_depth >= 30
    assert 20_000 <= summary.largest_downline < 100_000
