"""Plan shapes of the rollup refresh and of the subtreeRevenue / topInfluencers reads.

Each runs on the grown store (tests/stores.py) with stale and fresh statistics and only
EXPLAINs. Before the fix, on the stale store: LEVELS found its target by a scan of the whole
Member(id) index per target and the few members after a checkpoint by a scan of the whole
Member(depth, pre) index per level and bound (the 4.6-7 s subtreeRevenue calls); it also sorted
every checkpoint of a level below the bound (``Top``) to keep one, with fresh statistics too;
DELTA's refunds scanned every member by Member(pre) and expanded every order they bought (the
10 s timeouts); DAY_JOINS scanned the whole Member(joined_at) index; the exact walk scanned the
Member(id) index. Every estimate was 0 rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graph import delta, levels, metrics, rollups, window
from graph.cypherfiles import split_statements
from graph.db import BUMP, CHANGES_KEY
from tests.plans import assert_shape, explain
from tests.stores import AFTER_REFRESH, GrownStore

ROOT = Path(__file__).resolve().parent.parent.parent
EPOCH = datetime.fromtimestamp(0).astimezone()
DAY = window.day_of(int(AFTER_REFRESH.timestamp()))
SPAN = {"start": window.day_start(DAY), "end": window.day_start(DAY + 1)}
# Operators that mean "read more than needed, then throw most of it away".
SORTS = {"Sort", "Top", "PartialSort", "PartialTop"}


def _plan(store: GrownStore, query: str, params: Mapping[str, Any] | None = None) -> Any:
    return explain(store.driver, query, params, database=store.database)


def _walk(plan: Mapping[str, Any], parent: str = "") -> Iterator[tuple[str, str, str]]:
    """(operator, its details, its parent operator) for every operator of the plan."""
    name = str(plan["operatorType"]).split("@")[0]
    details = " ".join(str((plan.get("args") or {}).get("Details", "")).split())
    yield name, details, parent
    for child in plan.get("children", []):
        yield from _walk(child, name)


def assert_no_sort(plan: Mapping[str, Any]) -> None:
    """Orders and limits come from the index order, not from sorting what a seek found."""
    sorts = [(name, details) for name, details, _ in _walk(plan) if name in SORTS]
    assert not sorts, f"{sorts[0]} in the plan"


def test_member_read_scans_members_once(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, rollups.READ_MEMBERS)
    assert_shape(plan, anchors=[r"^NodeByLabelScan m:Member$"])


def test_order_span_reads_the_ends_of_the_paid_at_index(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, rollups.ORDER_SPAN)
    assert_shape(plan, anchors=[r"^NodeIndexScan .*o:Order\(paid_at\)"])
    assert_no_sort(plan)


def test_order_chunks_seek_their_paid_at_range(grown_store: GrownStore) -> None:
    params = {"lo": EPOCH, "hi": AFTER_REFRESH, "offset": 1, "day": 2}
    plan = _plan(grown_store, rollups.READ_ORDERS, params)
    assert_shape(plan, anchors=[r"NodeIndexSeekByRange .*o:Order\(paid_at\) WHERE paid_at >= \$lo"])


def test_refresh_writes_find_members_by_their_key(grown_store: GrownStore) -> None:
    assert_shape(_plan(grown_store, rollups.WRITE_MEMBERS, {"rows": []}))
    assert_shape(_plan(grown_store, rollups.WRITE_STATE, {"key": "x", "state": {}}))


@pytest.mark.parametrize(
    "query, anchor",
    [
        (rollups.DELETE_MARKS, r"^NodeIndexScan .*c:LevelMark\(version\)"),
        (rollups.DELETE_SERIES, r"^NodeIndexScan .*s:RankSeries\(version\)"),
    ],
    ids=["marks", "series"],
)
def test_old_versions_are_found_by_their_version_index(
    grown_store: GrownStore, query: str, anchor: str
) -> None:
    assert_shape(_plan(grown_store, query, {"version": "x"}), anchors=[anchor])


def test_cypher_file_expands_recruits_from_each_member(grown_store: GrownStore) -> None:
    (statement,) = split_statements((ROOT / "cypher" / "rollups.cypher").read_text("utf-8"))
    assert_shape(_plan(grown_store, statement), anchors=[r"^NodeIndexScan .*m:Member\(pre\)"])


def test_delta_anchors_on_its_watermarks(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, delta.DELTA, {"key": delta.STATE_KEY, "epoch": EPOCH})
    assert_shape(
        plan,
        anchors=[
            r"NodeIndexSeekByRange .*o:Order\(paid_at\) WHERE paid_at > max_paid",
            r"NodeIndexSeekByRange .*o:Order\(refunded_at\) WHERE refunded_at > max_refunded",
            r"NodeIndexSeekByRange .*m:Member\(joined_at\) WHERE joined_at >= max_joined",
            r"^NodeIndexScan .*m:Member\(transferred_at\)",
        ],
    )


def test_change_mark_reads_only_keys_counts_and_index_ends(grown_store: GrownStore) -> None:
    """Every cached read pays for this statement, so it must stay O(1): keys by their unique
    index, counts from the count store, the newest refund and transfer from their index's end."""
    plan = _plan(grown_store, delta.MARK, {"key": delta.STATE_KEY, "changes": CHANGES_KEY})
    assert_shape(
        plan,
        anchors=[
            r"NodeUniqueIndexSeek .*s:RollupState\(key\)",
            r"NodeUniqueIndexSeek .*c:ChangeMark\(key\)",
            r"NodeCountFromCountStore",
            r"NodeIndexScan .*o:Order\(refunded_at\)",
            r"NodeIndexScan .*m:Member\(transferred_at\)",
        ],
    )
    assert_shape(_plan(grown_store, BUMP, {"changes": CHANGES_KEY}))


def test_day_orders_seek_the_day(grown_store: GrownStore) -> None:
    params = {**SPAN, "max_paid": AFTER_REFRESH, "max_refunded": AFTER_REFRESH}
    plan = _plan(grown_store, levels.DAY_ORDERS, params)
    assert_shape(
        plan, anchors=[r"NodeIndexSeekByRange .*o:Order\(paid_at\) WHERE paid_at >= \$start"]
    )


def test_day_joins_seek_the_day(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, levels.DAY_JOINS, SPAN)
    assert_shape(
        plan,
        anchors=[r"NodeIndexSeekByRange .*m:Member\(joined_at\) WHERE joined_at >= \$start"],
    )


def test_levels_seek_one_checkpoint_and_a_few_members_per_level(grown_store: GrownStore) -> None:
    targets = [{"id": grown_store.root_id, "max_depth": None}]
    params = {"targets": targets, "a": 0, "b": 3, "jb": 3}
    plan = _plan(grown_store, levels.LEVELS, params)
    # The per-level reads are the design (docs/model.md, "Rollups"): the nearest checkpoint in
    # (depth, pre) order, one index entry, and fewer than CHECKPOINT_EVERY members after it.
    assert_shape(
        plan,
        anchors=[
            r"NodeIndexSeek .*c:LevelMark\(depth, pre\) WHERE depth = d AND pre <= p",
            r"NodeIndexSeek .*m:Member\(depth, pre\) WHERE depth = d AND pre > .*c\.pre",
        ],
    )
    assert_no_sort(plan)
    parents = {parent for name, details, parent in _walk(plan) if "c:LevelMark" in details}
    assert parents == {"Limit"}


@pytest.mark.parametrize("query", [levels.ROLLED, levels.EXACT], ids=["rolled", "exact"])
def test_member_reads_start_from_the_member_key(grown_store: GrownStore, query: str) -> None:
    params: dict[str, object] = {"ids": [grown_store.root_id], "id": grown_store.root_id}
    params |= {"start": None, "end": None, "max_depth": None}
    assert_shape(_plan(grown_store, query, params))


def test_series_seek_their_version(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, metrics.SERIES, {"version": "x"})
    assert_shape(plan, anchors=[r"NodeIndexSeek .*r:RankSeries\(version\) WHERE version ="])


def test_platform_volume_seeks_the_window(grown_store: GrownStore) -> None:
    params = {"start": metrics.EARLIEST, "end": AFTER_REFRESH + timedelta(days=1)}
    plan = _plan(grown_store, metrics.PLATFORM_EXACT, params)
    assert_shape(
        plan, anchors=[r"NodeIndexSeekByRange .*o:Order\(paid_at\) WHERE paid_at >= \$start"]
    )


@pytest.mark.parametrize("prop", sorted(set(metrics.STORED.values())))
def test_rankings_walk_each_stored_value_in_index_order(grown_store: GrownStore, prop: str) -> None:
    walk = _plan(grown_store, metrics.WALK[prop], {"skip": 0, "limit": 20})
    assert_shape(walk, anchors=[rf"^NodeIndexScan .*m:Member\({prop}\)"])
    assert_no_sort(walk)
    ties = _plan(grown_store, metrics.TIES[prop], {"v": 0})
    assert_shape(ties, anchors=[rf"^NodeIndexSeek .*m:Member\({prop}\) WHERE {prop} = \$v"])


def test_smallest_ids_read_the_id_index_in_order(grown_store: GrownStore) -> None:
    plan = _plan(grown_store, metrics.SMALLEST_IDS, {"n": 3})
    assert_shape(plan, anchors=[r"^NodeIndexScan .*m:Member\(id\)"])
    assert_no_sort(plan)


def test_risers_walk_up_from_each_changed_member(grown_store: GrownStore) -> None:
    ids = [grown_store.moved_id, grown_store.leaf_id, "M9999999"]
    assert_shape(_plan(grown_store, metrics.RISERS, {"ids": ids}))
