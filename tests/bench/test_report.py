"""The verdict of a cell: met, missed by a factor, or FAILED past 10x, which fails the run."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from bench import scales
from bench.report import FAILED, MET, MISSED, WRONG, Report, Row, Target, judged
from bench.run import verdict


def p99_row(p99_s: float, limit_s: float = 0.020) -> Row:
    targets = (Target("p99", p99_s, limit_s),)
    return Row(
        "subtreeRevenue",
        "largest (96,120 members) · all time · server",
        f"p99 {p99_s * 1000:.0f} ms",
        target="p99 ≤ 20 ms",
        status=judged(targets),
        targets=targets,
    )


def render(report: Report) -> tuple[int, str]:
    out = io.StringIO()
    console = Console(file=out, width=200)
    report.render(console)
    code = verdict(report, console)
    return code, out.getvalue()


def test_factors_say_how_far_a_figure_is_from_its_limit() -> None:
    assert Target("p99", 0.010, 0.020).factor == 0.5
    assert Target("p99", 0.068, 0.020).factor == pytest.approx(3.4)
    assert Target("orders/s", 7_638, 30_000, True, "orders/s").factor == pytest.approx(3.93, 0.01)
    assert Target("orders/s", 0, 30_000, True, "orders/s").factor == math.inf
    assert Target("p99", float("nan"), 0.020).factor == math.inf


def test_a_miss_up_to_10x_is_missed_beyond_it_failed() -> None:
    assert judged([Target("p99", 0.020, 0.020)]) == MET
    assert judged([Target("p99", 0.200, 0.020)]) == MISSED
    assert judged([Target("p99", 0.2001, 0.020)]) == FAILED
    assert judged([Target("p99", 0.010, 0.020), Target("x", 5, 100, True, "x")]) == FAILED
    assert judged([]) == MET


def test_a_cell_missed_by_more_than_10x_fails_the_run_naming_cell_target_and_figure(
    tmp_path: Path,
) -> None:
    report = Report("100k", {})
    report.add(p99_row(0.068))
    report.add(p99_row(5.0))
    report.check("an answer", True)

    assert report.wrong == []
    assert [r.verdict() for r in report.rows] == ["missed (3.4x)", "FAILED (250.0x)"]
    assert not report.ok
    code, text = render(report)
    assert code == 1
    assert (
        "FAILED subtreeRevenue / largest (96,120 members) · all time · server:"
        " p99 5000 ms against ≤ 20 ms, 250.0x off (target: p99 ≤ 20 ms)"
    ) in " ".join(text.split())
    assert "1 cell(s) missed by more than 10x" in text

    path = report.write(tmp_path)
    result = json.loads(path.read_text())
    assert result["ok"] is False
    assert result["failed"] == [report.rows[1].failure()]
    assert result["rows"][1]["targets"] == [
        {"what": "p99", "figure": 5.0, "limit": 0.020, "higher": False, "unit": "s"}
    ]
    markdown = path.with_suffix(".md").read_text()
    assert "| missed (3.4x) |" in markdown
    assert "| FAILED (250.0x) |" in markdown
    assert "Cells missed by more than 10x (the run fails):" in markdown


def test_misses_within_10x_leave_the_run_ok() -> None:
    report = Report("100k", {})
    report.add(p99_row(0.150))
    code, text = render(report)
    assert report.ok and code == 0
    assert "missed (7.5x)" in text


def test_a_throughput_point_that_served_nothing_fails_whatever_its_concurrency() -> None:
    for clients in scales.GRAPHQL_CLIENTS:
        none_served = scales.throughput_targets(clients, 0, 0, 0.0, 0.0)
        assert judged(none_served) == FAILED, clients
        all_failed = scales.throughput_targets(clients, 500, 500, 50.0, 0.01)
        assert judged(all_failed) == FAILED, clients
    assert judged(scales.throughput_targets(1, 2_000, 0, 200.0, 0.008)) == MET
    assert judged(scales.throughput_targets(16, 2_000, 20, 200.0, 0.008)) == MISSED
    assert judged(scales.throughput_targets(64, 7_107, 0, 473.0, 0.293)) == MISSED


def test_a_wrong_answer_still_fails_and_a_failed_wrong_cell_is_listed_as_both() -> None:
    report = Report("100k", {})
    row = p99_row(5.0)
    report.add(Row(**{**row.__dict__, "status": WRONG}))
    report.check("subtreeRevenue largest (graph)", False, "got 1, numpy 2")
    code, text = render(report)
    assert code == 1
    assert "WRONG subtreeRevenue largest (graph)" in text
    assert "FAILED subtreeRevenue / largest" in text
    assert "1 wrong answer(s), 1 cell(s) missed by more than 10x" in text


def test_the_grown_store_writes_its_own_files(tmp_path: Path) -> None:
    report = Report("100k", {}, kind="grown")
    path = report.write(tmp_path)
    assert path.name.endswith("-100k-grown.json")
    assert json.loads(path.read_text())["kind"] == "grown"
    assert (
        path.with_suffix(".md")
        .read_text()
        .startswith("Downline benchmark (grown store), scale 100k")
    )
