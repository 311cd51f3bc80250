"""The floor: every answer the benchmark checks, computed with numpy straight from the CSV files.

Nothing here talks to Neo4j. The sponsor tree is numbered in pre-order once, so a subtree is a
range of numbers; the unrefunded orders are sorted by their buyer's number, so a subtree's orders
are one contiguous slice. That is about as little work as a subtree sum can be, which is why it
is the floor the service is compared with, and it is independent of the service's own code.

Personal volume follows docs/model.md: an order refunded at any time never counts.
"""

from __future__ import annotations

import csv
import heapq
import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from contract.money import parse_yuan

Ints = NDArray[np.int64]
PPM = 1_000_000
METRICS = ("GROUP_VOLUME", "DOWNLINE_SIZE", "RECRUITS", "INFLUENCE", "AT_RISK")


@dataclass(frozen=True)
class Sums:
    """A subtree's revenue: what ``subtreeRevenue`` must answer."""

    group_volume: int
    order_count: int
    member_count: int


@dataclass(frozen=True)
class Ranked:
    member_id: str
    value: int


@dataclass(frozen=True)
class Network:
    ids: list[str]
    index: dict[str, int]
    parent: Ints  # member index of the sponsor, -1 for a root
    joined: Ints  # epoch seconds
    pre: Ints  # pre-order number of each member
    last: Ints  # largest pre-order number in its subtree
    depth: Ints
    # Members in pre-order: depth and joined_at, so a subtree's members are one slice.
    m_depth: Ints
    m_joined: Ints
    # Unrefunded orders sorted by their buyer's pre-order number.
    o_pre: Ints
    o_depth: Ints
    o_paid: Ints
    o_amount: Ints
    o_buyer: Ints
    orders_total: int
    # Every order, refunded or not, in file order: paid_at and refunded_at (-1: none).
    paid_all: Ints
    refunded_all: Ints
    last_paid: int  # epoch seconds of the latest paid_at
    last_event: int  # epoch seconds of the latest paid_at or refunded_at
    read_seconds: float

    @property
    def size(self) -> Ints:
        """Subtree sizes, the member included."""
        return self.last - self.pre + 1


def _epochs(texts: Sequence[str]) -> Ints:
    """ISO 8601 timestamps with an offset to epoch seconds, vectorised for the demo's format."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    arr = np.asarray(texts)
    if bool((np.char.str_len(arr) == 25).all()):
        local = arr.astype("U19").astype("datetime64[s]").astype(np.int64)
        offsets = np.asarray([t[19:] for t in texts])
        result = np.empty(len(texts), dtype=np.int64)
        for offset in np.unique(offsets):
            sign = -1 if offset[0] == "-" else 1
            seconds = sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
            mask = offsets == offset
            result[mask] = local[mask] - seconds
        return result
    return np.asarray([int(datetime.fromisoformat(t).timestamp()) for t in texts], dtype=np.int64)


def _rows(path: Path) -> Iterator[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        yield from reader


def _number(parent: Ints, joined: Ints) -> tuple[Ints, Ints, Ints]:
    """Pre-order numbers, subtree ends and depths (children in any fixed order)."""
    n = len(parent)
    children: list[list[int]] = [[] for _ in range(n)]
    roots: list[int] = []
    for i, p in enumerate(parent.tolist()):
        (roots if p < 0 else children[p]).append(i)
    pre = np.zeros(n, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    order = np.zeros(n, dtype=np.int64)
    depth_list = [0] * n
    stack = list(reversed(roots))
    counter = 0
    while stack:
        i = stack.pop()
        order[counter] = i
        counter += 1
        for c in reversed(children[i]):
            depth_list[c] = depth_list[i] + 1
            stack.append(c)
    if counter != n:
        raise ValueError("the sponsor tree in members.csv has a cycle")
    pre[order] = np.arange(n, dtype=np.int64)
    depth[:] = depth_list
    size = np.ones(n, dtype=np.int64)
    parent_list = parent.tolist()
    size_list = size.tolist()
    for i in order[::-1].tolist():
        p = parent_list[i]
        if p >= 0:
            size_list[p] += size_list[i]
    size[:] = size_list
    return pre, pre + size - 1, depth


def read_network(directory: Path, extra_orders: Sequence[Path] = ()) -> Network:
    """Reads members.csv and orders.csv of a demo network into arrays.

    ``extra_orders`` are more orders files in the same format (the grown store's orders
    recorded through the API).
    """
    started = time.perf_counter()
    ids: list[str] = []
    sponsors: list[str] = []
    joined_text: list[str] = []
    for row in _rows(directory / "members.csv"):
        ids.append(row[0])
        sponsors.append(row[1])
        joined_text.append(row[2])
    index = {member: i for i, member in enumerate(ids)}
    parent = np.asarray([index[s] if s else -1 for s in sponsors], dtype=np.int64)
    joined = _epochs(joined_text)
    pre, last, depth = _number(parent, joined)

    buyers: list[int] = []
    amounts: list[int] = []
    paid_text: list[str] = []
    refunded_text: list[str] = []
    kept: list[bool] = []
    fen: dict[str, int] = {}
    for row in itertools.chain.from_iterable(
        _rows(f) for f in (directory / "orders.csv", *extra_orders)
    ):
        buyers.append(index[row[2]])
        amount = fen.get(row[5])
        if amount is None:
            amount = fen[row[5]] = parse_yuan(row[5])
        amounts.append(amount)
        paid_text.append(row[6])
        kept.append(not row[7])
        if row[7]:
            refunded_text.append(row[7])
    paid = _epochs(paid_text)
    refunded = _epochs(refunded_text)
    keep = np.asarray(kept, dtype=bool)
    refunded_all = np.full(len(kept), -1, dtype=np.int64)
    refunded_all[~keep] = refunded
    buyer = np.asarray(buyers, dtype=np.int64)[keep]
    o_pre = pre[buyer]
    order = np.argsort(o_pre, kind="stable")
    by_pre = np.argsort(pre, kind="stable")
    last_paid = int(paid.max()) if len(paid) else 0
    last_event = max(last_paid, int(refunded.max()) if len(refunded) else 0)
    return Network(
        ids=ids,
        index=index,
        parent=parent,
        joined=joined,
        pre=pre,
        last=last,
        depth=depth,
        m_depth=depth[by_pre],
        m_joined=joined[by_pre],
        o_pre=o_pre[order],
        o_depth=depth[buyer][order],
        o_paid=paid[keep][order],
        o_amount=np.asarray(amounts, dtype=np.int64)[keep][order],
        o_buyer=buyer[order],
        orders_total=len(kept),
        paid_all=paid,
        refunded_all=refunded_all,
        last_paid=last_paid,
        last_event=last_event,
        read_seconds=time.perf_counter() - started,
    )


def subtree_sums(
    net: Network, member_id: str, start: int | None, end: int | None, max_depth: int | None
) -> Sums:
    """A member's subtree revenue over [start, end) (epoch seconds), at most max_depth below."""
    u = net.index[member_id]
    lo, hi = int(net.pre[u]), int(net.last[u])
    a, b = np.searchsorted(net.o_pre, [lo, hi + 1])
    keep = np.ones(b - a, dtype=bool)
    if start is not None:
        keep &= net.o_paid[a:b] >= start
    if end is not None:
        keep &= net.o_paid[a:b] < end
    if max_depth is not None:
        keep &= net.o_depth[a:b] - net.depth[u] <= max_depth
    members = np.ones(hi + 1 - lo, dtype=bool)
    if end is not None:
        members &= net.m_joined[lo : hi + 1] < end
    if max_depth is not None:
        members &= net.m_depth[lo : hi + 1] - net.depth[u] <= max_depth
    return Sums(
        group_volume=int(net.o_amount[a:b][keep].sum()),
        order_count=int(keep.sum()),
        member_count=int(members.sum()),
    )


def _window(net: Network, start: int | None, end: int | None) -> NDArray[np.bool_]:
    keep = np.ones(len(net.o_paid), dtype=bool)
    if start is not None:
        keep &= net.o_paid >= start
    if end is not None:
        keep &= net.o_paid < end
    return keep


def metric_values(
    net: Network, metric: str, start: int | None, end: int | None
) -> list[int] | Ints:
    """The value of a key-node metric (domain.md) for every member, indexed like ``ids``."""
    n = len(net.ids)
    keep = _window(net, start, end)
    pv = np.zeros(n, dtype=np.int64)
    np.add.at(pv, net.o_buyer[keep], net.o_amount[keep])
    if metric in ("GROUP_VOLUME", "AT_RISK"):
        cum = np.concatenate([[0], np.cumsum(pv[np.argsort(net.pre)])])
        gv: Ints = cum[net.last + 1] - cum[net.pre]
        if metric == "GROUP_VOLUME":
            return gv
        platform = int(pv.sum())
        if platform <= 0:
            return np.zeros(n, dtype=np.int64)
        if int(gv.max(initial=0)) < np.iinfo(np.int64).max // PPM:
            at_risk: Ints = gv * PPM // platform
            return at_risk
        # Very large orders: gv * PPM leaves int64, so exactly in Python integers.
        return [g * PPM // platform for g in gv.tolist()]
    if metric == "DOWNLINE_SIZE":
        if end is None:
            return net.last - net.pre
        joined = (net.m_joined < end).astype(np.int64)
        cum = np.concatenate([[0], np.cumsum(joined)])
        below: Ints = cum[net.last + 1] - cum[net.pre + 1]
        return below
    if metric == "RECRUITS":
        mask = net.parent >= 0
        if start is not None:
            mask &= net.joined >= start
        if end is not None:
            mask &= net.joined < end
        recruits = np.zeros(n, dtype=np.int64)
        np.add.at(recruits, net.parent[mask], 1)
        return recruits
    if metric == "INFLUENCE":
        # Σ pv(v) / 2^depth(v below u), rounded down once: exact in integers scaled by 2^scale.
        scale = int(net.depth.max(initial=0)) + 1
        infl = [v << scale for v in pv.tolist()]
        parent = net.parent.tolist()
        for i in np.argsort(net.pre)[::-1].tolist():
            p = parent[i]
            if p >= 0:
                infl[p] += infl[i] >> 1
        return [v >> scale for v in infl]
    raise ValueError(f"unknown metric {metric}")


def top(net: Network, metric: str, start: int | None, end: int | None, limit: int) -> list[Ranked]:
    """The ranking ``topInfluencers`` must return: highest value first, ties by member id; at
    risk ranks by its exact share, the group volume, not by the rounded ppm."""
    values = metric_values(net, metric, start, end)
    as_list = values if isinstance(values, list) else values.tolist()
    order = metric_values(net, "GROUP_VOLUME", start, end) if metric == "AT_RISK" else values
    by = order if isinstance(order, list) else order.tolist()
    best = heapq.nsmallest(limit, range(len(by)), key=lambda i: (-by[i], net.ids[i]))
    return [Ranked(net.ids[i], int(as_list[i])) for i in best]


def settled_counts(net: Network, cutoffs: Sequence[int], hold_s: int) -> tuple[int, int]:
    """Orders settled and orders reversed by settlement runs at ``cutoffs`` (ascending epochs).

    domain.md: an order settles in the first run whose cutoff is at least paid_at + hold, unless
    it is refunded by that cutoff; a settled order refunded by a later cutoff is reversed.
    """
    cut = np.asarray(cutoffs, dtype=np.int64)
    if not len(cut):
        return 0, 0
    first = np.searchsorted(cut, net.paid_all + hold_s, side="left")
    ran = first < len(cut)
    at = cut[np.minimum(first, len(cut) - 1)]
    refunded = net.refunded_all >= 0
    settled = ran & ~(refunded & (net.refunded_all <= at))
    reversed_ = settled & refunded & (net.refunded_all <= cut[-1])
    return int(settled.sum()), int(reversed_.sum())


def pick_members(net: Network) -> dict[str, str]:
    """The largest subtree, a 99th-percentile-sized one and a median-sized one (ties by id)."""
    sizes = net.size
    order = sorted(range(len(net.ids)), key=lambda i: (int(sizes[i]), net.ids[i]))
    n = len(order)
    return {
        "largest": net.ids[order[-1]],
        "p99": net.ids[order[int(0.99 * (n - 1))]],
        "median": net.ids[order[int(0.5 * (n - 1))]],
    }
