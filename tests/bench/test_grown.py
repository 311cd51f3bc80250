"""The grown store's pieces that need no server: its mutations, its numpy settlement replay,
the bulk figure it compares with, and how it reads the API's answers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import neo4j
import pytest

from bench import floor, split
from bench.grown import HUGE_FEN, Mutations, bulk_settle_rate, fen, movers, top_value
from bench.report import Report, Row
from bench.run import main
from contract.money import parse_timestamp, parse_yuan
from contract.settings import Settings
from downline.demo import write_demo_network

START = datetime.fromisoformat("2026-10-20T00:00:00+08:00")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> floor.Network:
    out = tmp_path_factory.mktemp("demo")
    write_demo_network(out, members=600, seed=5)
    return floor.read_network(out)


def day(number: int) -> split.Day:
    return split.Day(number, START + timedelta(days=number - 1), Path(), Path(), 0, 0, 0)


def test_movers_have_large_downlines_and_a_branch_outside_their_line(net: floor.Network) -> None:
    found = movers(net, 5)
    assert len(found) == 5
    sizes = [m.downline for m in found]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 10
    for m in found:
        i, away = net.index[m.member_id], net.index[m.away]
        assert net.ids[int(net.parent[i])] == m.home
        inside = net.pre[i] <= net.pre[away] <= net.last[i]
        above = net.pre[away] <= net.pre[i] <= net.last[away]
        assert not inside and not above


def test_a_days_mutations_stay_in_the_day_and_undo_their_transfers(net: floor.Network) -> None:
    mutations = Mutations(
        200,
        buyers=list(net.ids),
        heavy_buyers=net.ids[:5],
        prices={"SKU00001": 2_990, "SKU00002": 19_900},
        movers=movers(net, 4),
    )
    days = [mutations.plan(day(n)) for n in range(1, 11)]

    assert all(len(calls) == 200 for calls in days)
    assert len(mutations.recorded) == 10 * (200 - 10 - 4)
    assert len({r.order_id for r in mutations.recorded}) == len(mutations.recorded)
    for n, calls in enumerate(days, 1):
        d = day(n)
        kinds = [k for k, _, _ in calls]
        assert kinds.count("huge order") == 2 and kinds.count("refund") == 10
        moves = [v for k, _, v in calls if k == "transfer"]
        assert len(moves) == 4
        # Away and straight back, one member at a time, so the tree ends the day as it began.
        for away, back in zip(moves[::2], moves[1::2], strict=True):
            assert away["id"] == back["id"] and away["sponsor"] != back["sponsor"]
            assert net.ids[int(net.parent[net.index[back["id"]]])] == back["sponsor"]
        for kind, _, v in calls:
            at = v["input"]["paidAt"] if "input" in v else v["at"]
            assert d.start <= parse_timestamp(at) < d.end
            if kind == "huge order":
                assert v["input"]["amount"] == "999999999999.99"
    # Refunds come after payment, on the day they are sent; some are of orders long settled.
    refunded = [r for r in mutations.recorded if r.refunded_at is not None]
    assert len(refunded) == 10 * 10
    assert all(r.paid_at <= r.refunded_at for r in refunded if r.refunded_at)
    assert any(r.refunded_at - r.paid_at > timedelta(days=8) for r in refunded if r.refunded_at)
    assert not any(r.amount == HUGE_FEN for r in refunded)
    same = Mutations(200, list(net.ids), net.ids[:5], dict(mutations.prices), movers(net, 4))
    assert same.plan(day(1)) == days[0]  # seeded per day: the same run sends the same mutations


def test_the_ledger_is_an_orders_file(net: floor.Network, tmp_path: Path) -> None:
    mutations = Mutations(40, list(net.ids), net.ids[:5], {"SKU00001": 2_990}, movers(net, 2))
    mutations.plan(day(1))
    mutations.write(tmp_path / "api-orders.csv")
    lines = (tmp_path / "api-orders.csv").read_text().splitlines()
    assert lines[0] == "order_id,kind,buyer_id,seller_id,sku,amount,paid_at,refunded_at"
    assert len(lines) == 1 + len(mutations.recorded)
    assert sum(parse_yuan(line.split(",")[5]) for line in lines[1:]) == sum(
        r.amount for r in mutations.recorded
    )


def test_numpy_replays_daily_settlement_runs(net: floor.Network) -> None:
    hold = 7 * 86_400
    last = int(net.paid_all.max())
    cutoffs = [last - 10 * 86_400 + k * 86_400 for k in range(12)]
    settled, reversed_ = floor.settled_counts(net, cutoffs, hold)
    # One run at the last cutoff settles what the daily runs settle, less what they reversed:
    # an order refunded between its settlement and the last cutoff is settled once, then reversed.
    once, none_reversed = floor.settled_counts(net, cutoffs[-1:], hold)
    assert none_reversed == 0
    assert settled - reversed_ == once
    due = net.paid_all + hold <= cutoffs[-1]
    assert settled <= int(due.sum())
    assert floor.settled_counts(net, [], hold) == (0, 0)


def test_the_bulk_figure_is_the_latest_bulk_run_at_the_same_scale(tmp_path: Path) -> None:
    def write(scale: str, started: str, per_s: float, kind: str = "") -> None:
        report = Report(scale, {}, kind=kind)
        report.add(Row("settlement", "first run, cutoff x", "", data={"orders_per_s": per_s}))
        path = report.write(tmp_path)
        result = json.loads(path.read_text())
        result["started"] = started
        (tmp_path / f"{started[:10]}-{report.name}.json").write_text(json.dumps(result))
        path.unlink()

    assert bulk_settle_rate(tmp_path, "100k") is None
    write("100k", "2026-11-20T10:00:00+00:00", 7_500.0)
    write("100k", "2026-11-24T10:00:00+00:00", 8_698.0)
    write("100k", "2026-11-25T10:00:00+00:00", 1.0, kind="grown")
    write("1m", "2026-11-26T10:00:00+00:00", 7_638.0)
    assert bulk_settle_rate(tmp_path, "100k") == (8_698.0, "2026-11-24-100k.json")


def test_answers_are_read_in_integers_however_large() -> None:
    assert fen("6000003600282.04") == 600_000_360_028_204
    assert fen("-1.50") == -150
    with pytest.raises(ValueError):
        fen("1.5")
    assert top_value("GROUP_VOLUME", "999999999999.99") == HUGE_FEN
    assert top_value("AT_RISK", "0.012345") == 12_345
    assert top_value("AT_RISK", "1.000000") == 1_000_000
    assert top_value("RECRUITS", "42") == 42


def one_fen_more(driver: neo4j.Driver) -> None:
    driver.execute_query("MATCH (o:Order) SET o.amount = o.amount + 1")


def test_the_grown_store_end_to_end_and_a_wrong_answer_fails_it(
    settings: Settings,
    graph: neo4j.Driver,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two replayed days at 300 members against the test server; the base's orders are made one
    fen dearer in the graph than in the files, so the last day's sums must be caught."""
    monkeypatch.setenv("NEO4J_PASSWORD", settings.require_password())
    code = main(
        [
            "--scale",
            "2k",
            "--members",
            "300",
            "--orders",
            "3000",
            "--grown",
            "--days",
            "2",
            "--mutations",
            "12",
            "--neo4j-uri",
            settings.neo4j_uri,
            "--neo4j-dir",
            str(settings.neo4j_data_dir),
            "--data-dir",
            str(tmp_path / "data"),
            "--results-dir",
            str(tmp_path / "results"),
            "--reps",
            "2",
            "--cell-seconds",
            "0.1",
        ],
        after_load=one_fen_more,
    )
    out = capsys.readouterr().out

    assert code == 1
    [path] = (tmp_path / "results").glob("*-300m3000o-grown.json")
    result = json.loads(path.read_text())
    assert result["kind"] == "grown" and result["errors"] == []
    measures = {(r["section"], r["measure"]) for r in result["rows"]}
    for section in ("base", "day 01", "day 02"):
        for measure in ("settlement", "rollups refresh"):
            assert (section, measure) in measures
        for query in ("subtreeRevenue", "topInfluencers"):
            assert (section, f"{query} · after refresh · HTTP") in measures
            if section != "base":
                assert (section, f"{query} · a day unrefreshed · HTTP") in measures
    for section in ("day 01", "day 02"):
        assert (section, "load (transactional)") in measures
        assert (section, "mutations over HTTP") in measures
    checks = {c["what"]: c["ok"] for c in result["checks"]}
    assert checks["members and orders in the graph after the base load"]
    assert checks["members and orders in the grown store (CSV files and API orders)"]
    assert checks["orders settled and reversed over all daily runs (numpy replays the cutoffs)"]
    assert checks["day 02: orders of 999999999999.99 yuan come back exactly"]
    wrong = [what for what, ok in checks.items() if not ok]
    assert any(w.startswith("day 02 subtreeRevenue largest") for w in wrong)
    assert not any(w.startswith("day 01") for w in wrong)  # only the last day is checked
    statuses = {(r["section"], r["measure"]): r["status"] for r in result["rows"]}
    assert statuses[("day 02", "subtreeRevenue · after refresh · HTTP")] == "WRONG"
    assert "benchmark FAILED" in out
