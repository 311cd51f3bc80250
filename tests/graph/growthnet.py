"""A small seeded network for the growth, compliance and analytics tests, loaded the way users
load data (``downline load``, ``downline plan load``, ``downline settle``), and the figures the
tests expect, computed here in plain Python from the same rows."""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from contract.money import parse_yuan
from contract.settings import Settings
from tests import network
from tests.cli import downline

CST = timezone(timedelta(hours=8))
START = datetime(2026, 1, 1, 10, 0, tzinfo=CST)
PRODUCTS = {"GP399": (39_900, 0), "SKU1": (10_000, 1500), "SKU2": (3_333, 777)}
# Two runs, so orders refunded between them are reversed rather than never settled.
CUTOFFS = (datetime(2026, 3, 1, tzinfo=CST), datetime(2026, 6, 1, tzinfo=CST))
HOLD = timedelta(days=7)


@dataclass(frozen=True)
class Row:
    id: str
    kind: str
    buyer: str
    seller: str | None
    sku: str
    amount: int
    paid_at: datetime
    refunded_at: datetime | None = None


@dataclass
class Network:
    sponsor: dict[str, str | None] = field(default_factory=dict)
    joined: dict[str, datetime] = field(default_factory=dict)
    orders: list[Row] = field(default_factory=list)
    identity: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """Members' phone_hash, device_id, payee_account, for the risk files; most have none."""

    def member(self, member_id: str, sponsor: str | None, joined: datetime) -> None:
        self.sponsor[member_id] = sponsor
        self.joined[member_id] = joined

    def order(self, row: Row) -> None:
        self.orders.append(row)

    # --- the tree ---------------------------------------------------------------------------
    def uplines(self, member_id: str) -> list[str]:
        chain = []
        s = self.sponsor[member_id]
        while s is not None:
            chain.append(s)
            s = self.sponsor[s]
        return chain

    def depth_below(self, member_id: str, ancestor: str) -> int | None:
        if member_id == ancestor:
            return 0
        chain = self.uplines(member_id)
        return chain.index(ancestor) + 1 if ancestor in chain else None

    def downline(self, member_id: str) -> list[str]:
        return [m for m in self.sponsor if m != member_id and member_id in self.uplines(m)]

    def recruits(self, member_id: str) -> list[str]:
        return [m for m, s in self.sponsor.items() if s == member_id]

    # --- agency -----------------------------------------------------------------------------
    def gifts(self, member_id: str) -> list[Row]:
        return [o for o in self.orders if o.kind == "GIFT_PACKAGE" and o.buyer == member_id]

    def is_agent(self, member_id: str, t: datetime) -> bool:
        return any(
            g.paid_at <= t and not (g.refunded_at is not None and g.refunded_at <= t)
            for g in self.gifts(member_id)
        )

    def agent_since(self, member_id: str) -> datetime | None:
        held = [
            g.paid_at
            for g in self.gifts(member_id)
            if g.refunded_at is None or g.refunded_at > g.paid_at
        ]
        return min(held, default=None)

    # --- files ------------------------------------------------------------------------------
    def write(self, folder: Path) -> network.Files:
        return network.write(
            folder,
            [
                network.MemberRow(m, s, self.joined[m], identity=self.identity.get(m, ("", "", "")))
                for m, s in self.sponsor.items()
            ],
            [network.ProductRow(sku, sku, price, bp) for sku, (price, bp) in PRODUCTS.items()],
            [
                network.OrderRow(
                    o.id, o.kind, o.buyer, o.seller, o.sku, o.amount, o.paid_at, o.refunded_at
                )
                for o in self.orders
            ],
        )


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "NEO4J_URI": settings.neo4j_uri,
        "NEO4J_PASSWORD": settings.require_password(),
        "DOWNLINE_NEO4J_DIR": str(settings.neo4j_data_dir),
        "DOWNLINE_JWT_SECRET": settings.jwt_secret or "test-secret",
    }


def run_ok(env: dict[str, str], *args: str) -> str:
    done = downline(*args, env=env)
    assert done.returncode == 0, f"downline {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def load_and_settle(net: Network, folder: Path, env: dict[str, str]) -> list[Payout]:
    """Loads the network, settles it in two runs, and returns the exported payout ledger."""
    run_ok(env, *net.write(folder).load_args())
    run_ok(env, "plan", "load", "plans/default.toml")
    for cutoff in CUTOFFS:
        run_ok(env, "settle", "--until", cutoff.isoformat())
    out = folder / "payouts.csv"
    run_ok(env, "export", "payouts", "--out", str(out))
    with out.open(newline="") as f:
        return [
            Payout(
                r["order_id"],
                r["member_id"],
                int(r["tier"]),
                r["kind"],
                parse_yuan(r["amount"]),
                r["reversal"] == "true",
            )
            for r in csv.DictReader(f)
        ]


@dataclass(frozen=True)
class Payout:
    order_id: str
    member_id: str
    tier: int
    kind: str
    amount: int
    reversal: bool


def random_network(seed: int = 7, size: int = 28) -> Network:
    """Members joining over about four months, gift packages bought 0-45 days after joining,
    retail orders sold by the buyer (self-purchase), its sponsor or anyone, some refunded
    before and some after they settled. Two rows sit on the UTC+08:00 calendar's edges."""
    rng = random.Random(seed)
    net = Network()
    net.member("M00", None, START)
    t = START
    for i in range(1, size):
        t += timedelta(hours=rng.choice([3, 20, 50, 90, 130]))
        earlier = list(net.sponsor)
        sponsor = rng.choice(earlier[-6:] if rng.random() < 0.7 else earlier)
        net.member(f"M{i:02d}", sponsor, t)
    # Monday 00:30 in UTC+08:00 is still Sunday in UTC: a week and calendar edge.
    net.member("MTZ", "M01", datetime(2026, 2, 2, 0, 30, tzinfo=CST))
    n = 0
    for m, joined in list(net.joined.items()):
        if m == "M00" or rng.random() < 0.75:
            n += 1
            paid = joined + timedelta(days=rng.choice([0.1, 2, 10, 25, 29.9, 31, 45]))
            refunded = None
            if rng.random() < 0.12:
                refunded = paid + timedelta(days=rng.choice([2, 20]))
            net.order(Row(f"G{n:03d}", "GIFT_PACKAGE", m, None, "GP399", 39_900, paid, refunded))
    # Paid at 00:20 on 1 February, UTC+08:00: February's cohort, January's in UTC.
    net.order(
        Row("GTZ", "GIFT_PACKAGE", "M01", None, "GP399", 39_900,
            datetime(2026, 2, 1, 0, 20, tzinfo=CST))
    )  # fmt: skip
    net.order(
        Row("GTZ2", "GIFT_PACKAGE", "MTZ", None, "GP399", 39_900,
            datetime(2026, 2, 2, 0, 40, tzinfo=CST))
    )  # fmt: skip
    members = list(net.sponsor)
    end = datetime(2026, 5, 20, tzinfo=CST)
    for k in range(70):
        buyer = rng.choice(members)
        joined = net.joined[buyer]
        paid = joined + timedelta(hours=rng.randint(1, int((end - joined).total_seconds() // 3600)))
        how = rng.random()
        upline = net.sponsor[buyer]
        seller = buyer if how < 0.45 else (upline if how < 0.8 else rng.choice(members))
        sku = rng.choice(["SKU1", "SKU1", "SKU2"])
        refunded = None
        if rng.random() < 0.15:
            refunded = paid + timedelta(days=rng.choice([1, 25]))
        net.order(Row(f"R{k:03d}", "RETAIL", buyer, seller, sku, PRODUCTS[sku][0], paid, refunded))
    net.order(
        Row("RTZ", "RETAIL", "MTZ", "MTZ", "SKU1", 10_000, datetime(2026, 3, 1, 0, 10, tzinfo=CST))
    )
    return net


# --- expected figures -----------------------------------------------------------------------


def cst_date(t: datetime) -> date:
    return t.astimezone(CST).date()


def week_of(t: datetime) -> date:
    d = cst_date(t)
    return d - timedelta(days=d.weekday())


def month_of(t: datetime) -> date:
    return cst_date(t).replace(day=1)


def months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def fission(net: Network, member_id: str, start: datetime, end: datetime) -> dict[date, int]:
    counts: dict[date, int] = defaultdict(int)
    for d in net.downline(member_id):
        if start <= net.joined[d] < end:
            counts[week_of(net.joined[d])] += 1
    return dict(counts)


def activation(
    net: Network, member_id: str, start: datetime, end: datetime, days: int = 30
) -> tuple[int, int]:
    recruits = [r for r in net.recruits(member_id) if start <= net.joined[r] < end]
    activated = [
        r
        for r in recruits
        if any(
            g.paid_at < net.joined[r] + timedelta(days=days)
            and (g.refunded_at is None or g.refunded_at > g.paid_at)
            for g in net.gifts(r)
        )
    ]
    return len(recruits), len(activated)


def retention(
    net: Network, start: datetime, end: datetime, months: int, branch: str | None = None
) -> dict[date, tuple[int, list[int]]]:
    """cohort month -> (agents, active per k = 0..months), before any as-of cut."""
    cohorts: dict[date, list[str]] = defaultdict(list)
    for m in net.sponsor:
        since = net.agent_since(m)
        if since is None or not start <= since < end:
            continue
        if branch is not None and net.depth_below(m, branch) is None:
            continue
        cohorts[month_of(since)].append(m)
    out = {}
    for month, agents in cohorts.items():
        active = []
        for k in range(months + 1):
            active.append(
                sum(
                    1
                    for m in agents
                    if any(
                        o.kind == "RETAIL"
                        and o.buyer == m
                        and o.refunded_at is None
                        and months_between(month, month_of(o.paid_at)) == k
                        for o in net.orders
                    )
                )
            )
        out[month] = (len(agents), active)
    return out


def personal_volume(net: Network, start: datetime, end: datetime) -> dict[str, int]:
    pv: dict[str, int] = defaultdict(int)
    for o in net.orders:
        if o.refunded_at is None and start <= o.paid_at < end:
            pv[o.buyer] += o.amount
    return pv


def key_metrics(net: Network, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """member -> group_volume, downline_size, recruits, influence, at_risk_ppm (domain.md)."""
    pv = personal_volume(net, start, end)
    platform = sum(pv.values())
    out = {}
    for u in net.sponsor:
        subtree = [u, *net.downline(u)]
        gv = sum(pv[v] for v in subtree)
        levels: dict[int, int] = defaultdict(int)
        for v in subtree:
            depth = net.depth_below(v, u)
            assert depth is not None
            levels[depth] += pv[v]
        top = max(levels)
        influence = sum(g << (top - k) for k, g in levels.items()) >> top
        out[u] = {
            "group_volume": gv,
            "downline_size": sum(1 for v in net.downline(u) if net.joined[v] < end),
            "recruits": sum(1 for r in net.recruits(u) if start <= net.joined[r] < end),
            "influence": influence,
            "at_risk_ppm": gv * 1_000_000 // platform if platform else 0,
        }
    return out


def ranked(values: dict[str, int], limit: int) -> list[tuple[str, int]]:
    return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def share_bp(part: int, whole: int) -> int:
    return part * 10_000 // whole if whole > 0 else 0


@dataclass(frozen=True)
class Mix:
    total: int
    gift_package: int
    retail: int
    team_pay: int
    self_purchase: int

    @property
    def gift_package_bp(self) -> int:
        return share_bp(self.gift_package, self.total)

    @property
    def team_pay_bp(self) -> int:
        return share_bp(self.team_pay, self.total)

    @property
    def self_purchase_bp(self) -> int:
        return share_bp(self.self_purchase, self.retail)


def income(
    net: Network, ledger: list[Payout], start: datetime, end: datetime, member: str | None = None
) -> Mix:
    by_id = {o.id: o for o in net.orders}
    lines = [
        p
        for p in ledger
        if start <= by_id[p.order_id].paid_at < end and (member is None or p.member_id == member)
    ]
    return Mix(
        total=sum(p.amount for p in lines),
        gift_package=sum(p.amount for p in lines if p.kind == "GIFT_PACKAGE"),
        retail=sum(p.amount for p in lines if p.kind == "RETAIL"),
        team_pay=sum(p.amount for p in lines if p.tier >= 2),
        self_purchase=sum(
            p.amount
            for p in lines
            if p.kind == "RETAIL" and by_id[p.order_id].seller == by_id[p.order_id].buyer
        ),
    )


def path_violations(net: Network, ledger: list[Payout]) -> list[tuple[str, int]]:
    """(order, tier) of payouts whose member is not where the rules put that tier today."""
    by_id = {o.id: o for o in net.orders}
    bad = []
    for p in ledger:
        if p.reversal:
            continue
        o = by_id[p.order_id]
        first = net.sponsor[o.buyer] if o.kind == "GIFT_PACKAGE" else o.seller
        chain = [] if first is None else [first, *net.uplines(first)]
        if p.tier > len(chain) or chain[p.tier - 1] != p.member_id:
            bad.append((p.order_id, p.tier))
    return sorted(bad)


def pool(net: Network, o: Row) -> int:
    """The default plan's pool of an order (domain.md)."""
    if o.kind == "GIFT_PACKAGE":
        return o.amount * (10_000 - 3500) // 10_000
    if o.seller is None or not net.is_agent(o.seller, o.paid_at):
        return 0
    commission = o.amount * PRODUCTS[o.sku][1] // 10_000
    return commission + commission * 1000 // 10_000 + commission * 500 // 10_000


def settled_in(o: Row) -> int | None:
    """The index of the run that settles the order, or None."""
    for i, cutoff in enumerate(CUTOFFS):
        if o.paid_at + HOLD <= cutoff and not (
            o.refunded_at is not None and o.refunded_at <= cutoff
        ):
            return i
    return None
