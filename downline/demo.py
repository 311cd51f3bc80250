"""A realistic demo network in the data team's CSV contract, generated with numpy.

It never talks to Neo4j: it writes ``members.csv``, ``products.csv`` and ``orders.csv`` for
``downline load``, demos and load tests. Every random draw comes from one seeded generator and
covers whole arrays, so the same seed gives the same bytes whatever the chunk size.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["DemoSummary", "PlantedCase", "plant_risk", "write_demo_network"]

Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]
Bytes = NDArray[np.uint8]

DAY = 86_400
YEAR_DAYS = 365  # 2025-11-01 to 2026-11-01
END = YEAR_DAYS * DAY  # times are seconds of +08:00 wall clock since 2025-11-01T00:00:00
START_DATE = np.datetime64("2025-11-01", "D")
OFFSET = b"+08:00"
JOIN_WINDOW = END - 3_600  # the last recruit still has an hour to buy something

# The tree: each recruit picks a target among earlier members, recent ones with probability
# RECENT (chains dozens of levels deep, as teams grow through fresh recruits' friends), else
# weighted by a heavy-tailed recruiting talent; then with probability REDIRECT joins the target's
# sponsor instead, which is preferential attachment by number of recruits (a few key nodes).
RECENT = 0.8
RECENT_SKEW = 0.03  # target = i * U**RECENT_SKEW: close to i, mean lineage step ~3% of i
TALENT_ALPHA = 1.5
REDIRECT = 0.5
GROWTH = 2.0  # joins per day grow e**GROWTH-fold over the year

AGENT_SHARE = 1 / 3
AGENT_SHARE_RECRUITERS = 0.55  # members who recruit mostly do it because they earn as agents
GIFT_PACKAGES = (
    ("GP399", "新人礼包", 39_900),
    ("GP499", "尊享礼包", 49_900),
    ("GP599", "至尊礼包", 59_900),
)
GIFT_PACKAGE_MIX = (0.6, 0.28, 0.12)
GIFT_SOON = 0.75  # share of agents who buy the package within hours of joining
GIFT_REFUND = 0.02  # kept small: a refunded package ends agency, so such members never sell
RETAIL_REFUND = 0.051
REFUND_SCALE = 3.0 * DAY  # ~10% of refunds after the 7-day hold, so after settlement

PRODUCTS = 300
SELF_PURCHASE = 0.75  # of an agent's retail orders
NO_SELLER = 0.15  # of a non-agent's retail orders: bought in the app without anyone's link
CLIMB = 0.35  # chance of passing to the next agent up when the sponsor is not an agent
AGENT_ACTIVITY = 4.0
QUANTITIES = (0.8, 0.15, 0.05)  # 1, 2 or 3 items per retail order

CHUNK = 250_000
NAME_POOL = 5_000

# (commission bp range, price range in yuan, items) per category: margins set the commission.
CATEGORIES: tuple[tuple[tuple[int, int], tuple[float, float], str], ...] = (
    ((2000, 4000), (29.9, 399.0), "补水面膜 氨基酸洗面奶 防晒喷雾 玻尿酸精华 丝绒口红 眼霜"),
    ((1500, 3000), (9.9, 199.0), "洗发水 牙膏 沐浴露 洗衣凝珠 抽纸 洗手液 卸妆水 身体乳"),
    ((800, 2000), (9.9, 299.0), "每日坚果 燕麦片 纯牛奶 五常大米 橄榄油 土蜂蜜 龙井茶 螺蛳粉"),
    ((500, 1500), (19.9, 499.0), "纸尿裤 婴儿湿巾 婴儿洗衣液 儿童牙膏 宝宝米粉"),
    ((1500, 3000), (19.9, 599.0), "纯棉毛巾 收纳箱 保温杯 床上四件套 乳胶枕 香薰蜡烛"),
    ((500, 1200), (49.0, 999.0), "蓝牙耳机 充电宝 电动牙刷 吹风机 空气炸锅 破壁机"),
    ((2000, 4000), (39.0, 699.0), "纯棉T恤 运动鞋 羊毛围巾 冰丝袜 防晒衣 真丝睡衣"),
    ((2500, 4000), (59.0, 999.0), "维生素C片 深海鱼油 益生菌 乳清蛋白粉 胶原蛋白肽"),
)
PREFIXES = ("", "精选", "进口", "有机", "家庭装", "经典", "新款", "限定", "臻品", "优选")
SPECS = ("", "2件装", "礼盒装", "量贩装")


@dataclass(frozen=True)
class DemoSummary:
    members: int
    products: int
    orders: int
    agents: int
    refunds: int
    max_depth: int
    largest_downline: int


@dataclass(frozen=True)
class _Products:
    skus: list[str]
    names: list[str]
    price: Ints  # fen
    bp: Ints
    popularity: NDArray[np.float64]  # retail products only, in sku order after the packages


@dataclass(frozen=True)
class _Orders:
    gift: Bools
    buyer: Ints
    seller: Ints  # -1: none
    product: Ints
    amount: Ints  # fen
    paid: Ints
    refunded: Ints  # -1: not refunded


def write_demo_network(
    out_dir: Path,
    *,
    members: int,
    seed: int,
    orders: int | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> DemoSummary:
    """Writes the three files into out_dir; progress(stage, rows written in this call)."""
    if members < 1:
        raise ValueError(f"members must be at least 1, got {members}")
    if members > JOIN_WINDOW:
        raise ValueError(f"at most {JOIN_WINDOW} members fit one join per second in the year")
    n_orders = 10 * members if orders is None else orders
    if n_orders < 0:
        raise ValueError(f"orders must not be negative, got {n_orders}")
    rng = np.random.default_rng(seed)
    roots = max(1, members // 20_000)

    sponsor = _grow_tree(rng, members, roots)
    joined = _join_times(rng, members)
    depth = _depths(sponsor)
    levels = _levels(depth)
    downline = _downline_sizes(sponsor, levels)
    products = _products(rng)
    gift_member, gift_paid, gift_refunded = _gift_packages(rng, sponsor, joined, roots, n_orders)
    agent = np.zeros(members, dtype=np.bool_)
    agent[gift_member[gift_refunded < 0]] = True
    gp_paid = np.full(members, END, dtype=np.int64)
    gp_paid[gift_member] = gift_paid
    retail = _retail_orders(
        rng, n_orders - len(gift_member), sponsor, levels, joined, agent, gp_paid, products
    )
    gift_product = rng.choice(len(GIFT_PACKAGES), size=len(gift_member), p=GIFT_PACKAGE_MIX)
    table = _Orders(
        gift=np.concatenate(
            [np.ones(len(gift_member), np.bool_), np.zeros(len(retail.buyer), np.bool_)]
        ),
        buyer=np.concatenate([gift_member, retail.buyer]),
        seller=np.concatenate([np.full(len(gift_member), -1, np.int64), retail.seller]),
        product=np.concatenate([gift_product.astype(np.int64), retail.product]),
        amount=np.concatenate([products.price[gift_product], retail.amount]),
        paid=np.concatenate([gift_paid, retail.paid]),
        refunded=np.concatenate([gift_refunded, retail.refunded]),
    )
    surnames, given = _names(rng, seed, members)

    out_dir.mkdir(parents=True, exist_ok=True)
    _write_members(out_dir / "members.csv", sponsor, joined, surnames, given, progress)
    _write_products(out_dir / "products.csv", products, progress)
    _write_orders(out_dir / "orders.csv", table, products, members, progress)
    return DemoSummary(
        members=members,
        products=len(products.skus),
        orders=len(table.buyer),
        agents=int(agent.sum()),
        refunds=int((table.refunded >= 0).sum()),
        max_depth=int(depth.max()),
        largest_downline=int(downline.max()),
    )


def _grow_tree(rng: np.random.Generator, n: int, roots: int) -> Ints:
    """Sponsor index per member (-1 for roots); a sponsor always has a smaller index."""
    idx = np.arange(n, dtype=np.int64)
    before = np.maximum(idx - 1, 0)
    talent = np.cumsum(rng.pareto(TALENT_ALPHA, n) + 1.0)
    weighted = np.searchsorted(talent, rng.random(n) * talent[before], side="right")
    recent = np.floor(idx * rng.random(n) ** RECENT_SKEW).astype(np.int64)
    target = np.minimum(np.where(rng.random(n) < RECENT, recent, weighted), before)
    redirect = (rng.random(n) < REDIRECT) & (target >= roots)
    target[:roots] = -1
    redirect[:roots] = False
    # Every root recruits first; otherwise the recent picks leave all but the last root alone.
    first = np.arange(roots, min(2 * roots, n))
    target[first] = first - roots
    redirect[first] = False
    # Joining the target's sponsor depends on where the target itself ended up; each pass fixes
    # one more link of a redirect chain, and chains are short (REDIRECT**k).
    sponsor = target.copy()
    while True:
        moved = np.where(redirect, sponsor[target], target)
        if np.array_equal(moved, sponsor):
            return sponsor
        sponsor = moved


def _join_times(rng: np.random.Generator, n: int) -> Ints:
    """Strictly increasing join seconds with growing daily joins, so sponsors join first."""
    u = np.sort(rng.random(n))
    t = np.floor(JOIN_WINDOW * np.log1p(u * np.expm1(GROWTH)) / GROWTH).astype(np.int64)
    step = np.arange(n, dtype=np.int64)
    t = np.maximum.accumulate(t - step) + step  # at least one second apart
    # ...and still inside the window: the minimum of two strictly increasing sequences.
    inside: Ints = np.minimum(t, JOIN_WINDOW - n + step)
    return inside


def _depths(sponsor: Ints) -> Ints:
    """Levels below the root, by pointer jumping (log of the depth in passes)."""
    n = len(sponsor)
    up = np.where(sponsor < 0, np.arange(n, dtype=np.int64), sponsor)
    depth = (sponsor >= 0).astype(np.int64)
    while True:
        further = up[up]
        if np.array_equal(further, up):
            return depth
        depth = depth + depth[up]
        up = further


def _levels(depth: Ints) -> list[Ints]:
    """Members at each depth, shallowest first."""
    order = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[order], np.arange(int(depth.max()) + 2))
    return [order[bounds[d] : bounds[d + 1]] for d in range(len(bounds) - 1)]


def _downline_sizes(sponsor: Ints, levels: Sequence[Ints]) -> Ints:
    size = np.ones(len(sponsor), dtype=np.float64)
    for level in reversed(levels[1:]):
        size += np.bincount(sponsor[level], weights=size[level], minlength=len(sponsor))
    return size.astype(np.int64) - 1


def _products(rng: np.random.Generator) -> _Products:
    combos = [
        (c, f"{prefix}{item}{' ' + spec if spec else ''}")
        for c, (_, _, items) in enumerate(CATEGORIES)
        for item in items.split()
        for prefix in PREFIXES
        for spec in SPECS
    ]
    chosen = sorted(rng.choice(len(combos), size=PRODUCTS, replace=False).tolist())
    category = np.array([combos[i][0] for i in chosen], dtype=np.int64)
    bp_lo = np.array([CATEGORIES[c][0][0] for c in category]) // 100
    bp_hi = np.array([CATEGORIES[c][0][1] for c in category]) // 100
    bp = rng.integers(bp_lo, bp_hi + 1) * 100
    low = np.log([CATEGORIES[c][1][0] for c in category])
    high = np.log([CATEGORIES[c][1][1] for c in category])
    yuan = np.exp(low + rng.random(PRODUCTS) * (high - low))
    # Shop prices: 29.90 below a hundred yuan, 199.00 above.
    price = np.where(
        yuan < 100,
        np.floor(yuan).astype(np.int64) * 100 + 90,
        (np.round(yuan / 10).astype(np.int64) * 10 - 1) * 100,
    )
    price = np.clip(price, 990, 99_900)
    popularity = (1.0 / (rng.permutation(PRODUCTS) + 1.0) ** 0.9).astype(np.float64)
    return _Products(
        skus=[sku for sku, _, _ in GIFT_PACKAGES] + [f"SKU{i + 1:05d}" for i in range(PRODUCTS)],
        names=[name for _, name, _ in GIFT_PACKAGES] + [combos[i][1] for i in chosen],
        price=np.concatenate([np.array([p for _, _, p in GIFT_PACKAGES], dtype=np.int64), price]),
        bp=np.concatenate([np.zeros(len(GIFT_PACKAGES), dtype=np.int64), bp]),
        popularity=popularity,
    )


def _gift_packages(
    rng: np.random.Generator, sponsor: Ints, joined: Ints, roots: int, n_orders: int
) -> tuple[Ints, Ints, Ints]:
    """Who buys the one gift package that makes an agent, when, and which ones get refunded."""
    n = len(sponsor)
    recruiter = np.zeros(n, dtype=np.bool_)
    recruiter[sponsor[sponsor >= 0]] = True
    recruiter[:roots] = True
    wanted = AGENT_SHARE / (1 - GIFT_REFUND) * n
    others = n - int(recruiter.sum())
    share = np.where(recruiter, AGENT_SHARE_RECRUITERS, 0.0)
    if others:
        rest = (wanted - AGENT_SHARE_RECRUITERS * recruiter.sum()) / others
        share = np.where(recruiter, share, np.clip(rest, 0.02, 1.0))
    chosen = rng.random(n) < share
    chosen[:roots] = True
    member = np.flatnonzero(chosen)[:n_orders].astype(np.int64)

    remaining = END - joined[member]
    soon = rng.exponential(2 * 3_600, len(member))
    later = rng.random(len(member)) ** 2 * remaining
    delay = np.where(rng.random(len(member)) < GIFT_SOON, soon, later).astype(np.int64)
    delay = np.where(
        delay >= remaining, (rng.random(len(member)) * remaining).astype(np.int64), delay
    )
    paid = joined[member] + delay
    refund = (rng.random(len(member)) < GIFT_REFUND) & (member >= roots)
    return member, paid, _refunds(rng, paid, refund)


def _retail_orders(
    rng: np.random.Generator,
    count: int,
    sponsor: Ints,
    levels: Sequence[Ints],
    joined: Ints,
    agent: Bools,
    gp_paid: Ints,
    products: _Products,
) -> _Orders:
    """Retail orders: agents mostly buy from their own shop, others through an upline agent."""
    n = len(sponsor)
    tenure = (END - np.where(agent, gp_paid, joined)).astype(np.float64)
    weight = rng.lognormal(0.0, 1.0, n) * np.where(agent, AGENT_ACTIVITY, 1.0) * tenure
    cumulative = np.cumsum(weight)
    buyer = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
    buyer = np.minimum(buyer, n - 1).astype(np.int64)

    nearest = _nearest_agent_above(sponsor, levels, agent)
    seller = nearest[buyer]
    sponsor_sells = seller == sponsor[buyer]
    for _ in range(4):
        climb = (rng.random(count) < CLIMB) & ~sponsor_sells & (seller >= 0)
        above = nearest[np.maximum(seller, 0)]
        seller = np.where(climb & (above >= 0), above, seller)
    buyer_agent = agent[buyer]
    own_shop = buyer_agent & ((rng.random(count) < SELF_PURCHASE) | (seller < 0))
    seller = np.where(own_shop, buyer, seller)
    seller = np.where(~buyer_agent & (rng.random(count) < NO_SELLER), -1, seller)

    # A seller sells only once an agent, so every commission has an eligible tier 1.
    earliest = np.maximum(joined[buyer], np.where(seller >= 0, gp_paid[np.maximum(seller, 0)], 0))
    paid = earliest + (rng.random(count) * (END - earliest)).astype(np.int64)
    paid = np.minimum(paid, END - 1)

    popularity = np.cumsum(products.popularity)
    product = np.searchsorted(popularity, rng.random(count) * popularity[-1], side="right")
    product = np.minimum(product, PRODUCTS - 1).astype(np.int64) + len(GIFT_PACKAGES)
    quantity = rng.choice(len(QUANTITIES), size=count, p=QUANTITIES).astype(np.int64) + 1
    refunded = _refunds(rng, paid, rng.random(count) < RETAIL_REFUND)
    return _Orders(
        gift=np.zeros(count, dtype=np.bool_),
        buyer=buyer,
        seller=seller.astype(np.int64),
        product=product,
        amount=products.price[product] * quantity,
        paid=paid,
        refunded=refunded,
    )


def _nearest_agent_above(sponsor: Ints, levels: Sequence[Ints], agent: Bools) -> Ints:
    """The closest agent strictly above each member, or -1; filled level by level downwards."""
    nearest = np.full(len(sponsor), -1, dtype=np.int64)
    for level in levels[1:]:
        up = sponsor[level]
        nearest[level] = np.where(agent[up], up, nearest[up])
    return nearest


def _refunds(rng: np.random.Generator, paid: Ints, refund: Bools) -> Ints:
    """Refund times a few days after payment (some past the hold period), before the year ends."""
    delay = 600 + rng.exponential(REFUND_SCALE, len(paid)).astype(np.int64)
    room = END - 1 - paid
    delay = np.where(delay > room, (rng.random(len(paid)) * room).astype(np.int64) + 1, delay)
    return np.where(refund & (room >= 1), paid + delay, -1).astype(np.int64)


def _names(rng: np.random.Generator, seed: int, n: int) -> tuple[Bytes, Bytes]:
    """UTF-8 surname and given-name columns: Faker fills small pools once, numpy combines them."""
    from faker import Faker  # slow to import; only the demo needs it

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    surnames = _vocab([fake.last_name() for _ in range(NAME_POOL)])
    given = _vocab([fake.first_name() for _ in range(NAME_POOL)])
    return surnames[rng.integers(0, NAME_POOL, n)], given[rng.integers(0, NAME_POOL, n)]


# Rows are built as byte matrices with fields padded by NUL bytes, then the NULs are dropped:
# that formats millions of rows in a few numpy passes, and no field ever contains a NUL.


def _vocab(words: Sequence[str]) -> Bytes:
    encoded = np.array([w.encode() for w in words], dtype=np.bytes_)
    return encoded.view(np.uint8).reshape(len(words), -1)


def _ids(prefix: str, numbers: Ints, width: int) -> Bytes:
    """'M0000042' for 42; an empty field where the number is negative."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (np.maximum(numbers, 0)[:, None] // powers) % 10 + ord("0")
    out = np.concatenate([np.full((len(numbers), 1), ord(prefix), np.int64), digits], axis=1)
    out[numbers < 0] = 0
    return out.astype(np.uint8)


def _yuan(fen: Ints) -> Bytes:
    """'399.00' for 39900 fen, without leading zeros."""
    whole, cents = np.divmod(fen, 100)
    width = max(1, len(str(int(whole.max(initial=0)))))
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (whole[:, None] // powers) % 10 + ord("0")
    digits[(whole[:, None] < powers) & (powers > 1)] = 0
    tail = np.stack(
        [np.full(len(fen), ord(".")), cents // 10 + ord("0"), cents % 10 + ord("0")], axis=1
    )
    return np.concatenate([digits, tail], axis=1).astype(np.uint8)


_DAYS = _vocab(
    [f"{d}T" for d in np.datetime_as_string(START_DATE + np.arange(YEAR_DAYS + 1), unit="D")]
)


def _timestamps(seconds: Ints) -> Bytes:
    """'2026-03-04T10:15:00+08:00'; an empty field where seconds is negative."""
    day, clock = np.divmod(np.maximum(seconds, 0), DAY)
    hh, rest = np.divmod(clock, 3_600)
    mm, ss = np.divmod(rest, 60)
    zero, colon = ord("0"), ord(":")
    time = np.stack(
        [
            hh // 10 + zero,
            hh % 10 + zero,
            np.full_like(hh, colon),
            mm // 10 + zero,
            mm % 10 + zero,
            np.full_like(hh, colon),
            ss // 10 + zero,
            ss % 10 + zero,
        ],
        axis=1,
    ).astype(np.uint8)
    offset = np.broadcast_to(np.frombuffer(OFFSET, dtype=np.uint8), (len(seconds), len(OFFSET)))
    out = np.concatenate([_DAYS[day], time, offset], axis=1)
    out[seconds < 0] = 0
    return out


def _rows(fields: Sequence[Bytes]) -> bytes:
    """Comma-separated lines from per-field byte matrices."""
    n = len(fields[0])
    comma = np.full((n, 1), ord(","), dtype=np.uint8)
    parts: list[Bytes] = []
    for field in fields:
        parts += [field, comma]
    parts[-1] = np.full((n, 1), ord("\n"), dtype=np.uint8)
    flat = np.concatenate(parts, axis=1).ravel()
    kept: Bytes = flat[flat != 0]
    return kept.tobytes()


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, CHUNK):
        yield slice(start, min(start + CHUNK, n))


def _width(count: int, least: int) -> int:
    return max(least, len(str(count)))


def _write_members(
    path: Path,
    sponsor: Ints,
    joined: Ints,
    surnames: Bytes,
    given: Bytes,
    progress: Callable[[str, int], None] | None,
) -> None:
    width = _width(len(sponsor), 7)
    numbers = np.arange(1, len(sponsor) + 1, dtype=np.int64)
    with path.open("wb") as out:
        out.write(b"member_id,sponsor_id,joined_at,name\n")
        for part in _chunks(len(sponsor)):
            out.write(
                _rows(
                    [
                        _ids("M", numbers[part], width),
                        _ids("M", np.where(sponsor[part] >= 0, sponsor[part] + 1, -1), width),
                        _timestamps(joined[part]),
                        np.concatenate([surnames[part], given[part]], axis=1),
                    ]
                )
            )
            if progress is not None:
                progress("members", part.stop - part.start)


def _write_products(
    path: Path, products: _Products, progress: Callable[[str, int], None] | None
) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["sku", "name", "price", "commission_bp"])
        for sku, name, fen, bp in zip(
            products.skus,
            products.names,
            products.price.tolist(),
            products.bp.tolist(),
            strict=True,
        ):
            writer.writerow([sku, name, f"{fen // 100}.{fen % 100:02d}", bp])
    if progress is not None:
        progress("products", len(products.skus))


def _write_orders(
    path: Path,
    orders: _Orders,
    products: _Products,
    members: int,
    progress: Callable[[str, int], None] | None,
) -> None:
    # Order ids follow payment time, as a platform numbers them.
    order = np.argsort(orders.paid, kind="stable")
    width = _width(members, 7)
    id_width = _width(len(order), 9)
    kinds = _vocab(["RETAIL", "GIFT_PACKAGE"])
    skus = _vocab(products.skus)
    with path.open("wb") as out:
        out.write(b"order_id,kind,buyer_id,seller_id,sku,amount,paid_at,refunded_at\n")
        for part in _chunks(len(order)):
            rows = order[part]
            seller = orders.seller[rows]
            out.write(
                _rows(
                    [
                        _ids(
                            "O", np.arange(part.start + 1, part.stop + 1, dtype=np.int64), id_width
                        ),
                        kinds[orders.gift[rows].astype(np.int64)],
                        _ids("M", orders.buyer[rows] + 1, width),
                        _ids("M", np.where(seller >= 0, seller + 1, -1), width),
                        skus[orders.product[rows]],
                        _yuan(orders.amount[rows]),
                        _timestamps(orders.paid[rows]),
                        _timestamps(orders.refunded[rows]),
                    ]
                )
            )
            if progress is not None:
                progress("orders", part.stop - part.start)


# Planted risk (graph/risk.py): `downline demo-data --risk` adds the identity-signal columns and
# known cases, listed in RISK_PLANTED, so detection's recall and precision can be measured.
RISK_PLANTED = "risk_planted.csv"
RISK_RATE = 0.003
"""Planted cases per member, split evenly between self-referrals, farms and depth rings."""
FARM_SIZES = (5, 30)
FARM_SPREAD_DAYS = 6  # within graph/risk.py's FARM_WINDOW_DAYS (7)
SIGNAL_COLUMNS = ("phone_hash", "device_id", "payee_account")


@dataclass(frozen=True)
class PlantedCase:
    case: str
    """self_referral, farm or depth_ring: the flag kind that should find it."""
    case_id: str
    members: tuple[str, ...]
    """self_referral: upline then member; depth_ring: top first; farm: sponsor then recruits."""


def _digest(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]


def plant_risk(out_dir: Path, *, seed: int, rate: float = RISK_RATE) -> list[PlantedCase]:
    """Rewrites out_dir/members.csv with the identity-signal columns (every member its own
    phone_hash) and planted cases: self-referral pairs 1-3 tiers apart on one device, farms of
    5-30 new recruits of one sponsor joined within FARM_SPREAD_DAYS on one device, and depth
    rings of three consecutive tiers on one payee account; writes them to RISK_PLANTED."""
    path = out_dir / "members.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rng = random.Random(seed)
    sponsor = {r["member_id"]: r["sponsor_id"] or None for r in rows}
    joined_at = {r["member_id"]: r["joined_at"] for r in rows}
    signals: dict[str, dict[str, str]] = {
        m: {"phone_hash": "ph" + _digest(seed, m)} for m in sponsor
    }

    def ancestors(member: str, count: int) -> list[str] | None:
        chain: list[str] = []
        above = sponsor[member]
        while above is not None and len(chain) < count:
            chain.append(above)
            above = sponsor[above]
        return chain if len(chain) == count else None

    per_kind = max(1, round(len(rows) * rate / 3))
    used: set[str] = set()
    cases: list[PlantedCase] = []
    order = sorted(sponsor)
    rng.shuffle(order)
    candidates = iter(order)
    for kind in ("self_referral", "depth_ring"):
        for k in range(per_kind):
            for member in candidates:
                tiers = rng.randint(1, 3) if kind == "self_referral" else 2
                chain = ancestors(member, tiers)
                if chain is None or used & {member, *chain}:
                    continue
                members: tuple[str, ...]
                if kind == "self_referral":
                    members = (chain[-1], member)
                    column, value = "device_id", f"dv-sr-{seed}-{k}"
                else:
                    members = (chain[1], chain[0], member)
                    column, value = "payee_account", f"pa-ring-{seed}-{k}"
                for m in members:
                    signals[m][column] = value
                used.update({member, *chain})
                cases.append(PlantedCase(kind, f"{kind}-{k}", members))
                break
    farm_rows: list[dict[str, str]] = []
    for k in range(per_kind):
        for member in candidates:
            if member in used:
                continue
            used.add(member)
            joined = datetime.fromisoformat(joined_at[member])
            size = rng.randint(*FARM_SIZES)
            value = f"dv-farm-{seed}-{k}"
            recruits = []
            for j in range(size):
                recruit = f"RF{k:04d}{j:02d}"
                at = joined + timedelta(
                    days=1, seconds=rng.randint(0, FARM_SPREAD_DAYS * 86_400 - 86_400)
                )
                farm_rows.append(
                    {
                        "member_id": recruit,
                        "sponsor_id": member,
                        "joined_at": at.isoformat(),
                        "name": f"农场{k}-{j}",
                    }
                )
                signals[recruit] = {"phone_hash": "ph" + _digest(seed, recruit), "device_id": value}
                recruits.append(recruit)
            cases.append(PlantedCase("farm", f"farm-{k}", (member, *recruits)))
            break
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["member_id", "sponsor_id", "joined_at", "name", *SIGNAL_COLUMNS])
        for r in [*rows, *farm_rows]:
            mine = signals[r["member_id"]]
            writer.writerow(
                [r["member_id"], r["sponsor_id"], r["joined_at"], r["name"]]
                + [mine.get(c, "") for c in SIGNAL_COLUMNS]
            )
    with (out_dir / RISK_PLANTED).open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["case", "case_id", "member_id"])
        for case in cases:
            writer.writerows([case.case, case.case_id, m] for m in case.members)
    return cases
