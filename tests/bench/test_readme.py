"""The README's benchmark tables are what the committed results say, and only that."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import readme
from bench.report import Report, Row, Target, judged


def test_the_readme_table_is_generated_from_the_newest_committed_results() -> None:
    text = readme.README.read_text()
    assert readme.rewrite(text, readme.block(readme.RESULTS)) == text, (
        "README.md's benchmark table is not what bench/results/ says: run python -m bench.readme"
    )
    assert readme.main(["--check"]) == 0


def cell(section: str, measure: str, figure: float, limit: float, **data: float) -> Row:
    targets = (Target("p99", figure, limit),)
    return Row(
        section,
        measure,
        f"p99 {figure * 1000:.0f} ms",
        target=f"p99 ≤ {limit * 1000:.0f} ms",
        status=judged(targets),
        data={"p50_s": figure / 2, "p99_s": figure, **data},
        targets=targets,
    )


def write(directory: Path, report: Report, started: str) -> Path:
    """The report's files as a run that started at ``started`` writes them."""
    written = report.write(directory)
    path = directory / f"{started[:10]}-{report.name}.json"
    result = json.loads(written.read_text())
    result["started"] = result["finished"] = started
    written.unlink()
    written.with_suffix(".md").rename(path.with_suffix(".md"))
    path.write_text(json.dumps(result))
    return path


def bulk(scale: str, members: int) -> Report:
    report = Report(scale, {"scale": scale, "members": members, "orders": 10 * members})
    for variant in ("all time", "last 30 days"):
        report.add(cell("subtreeRevenue", f"largest (9 members) · {variant} · server", 0.03, 0.02))
    report.add(Row("memory", "Neo4j peak (VmHWM)", "1.0 GiB"))
    return report


def grown() -> Report:
    report = Report("100k", {"scale": "100k", "days": 2, "mutations_per_day": 200}, kind="grown")
    for day, p99 in ((1, 0.010), (2, 0.400)):
        report.add(
            cell(f"day {day:02d}", "subtreeRevenue · after refresh · HTTP", p99, 0.020, errors=0)
        )
        report.add(Row(f"day {day:02d}", "rollups refresh", "3.0 s", data={"seconds": 3.0 * day}))
    return report


def test_the_block_shows_the_largest_run_of_the_latest_day_and_the_grown_store(
    tmp_path: Path,
) -> None:
    write(tmp_path, bulk("1m", 1_000_000), "2026-11-24T20:00:00+00:00")
    write(tmp_path, bulk("100k", 100_000), "2026-11-24T21:00:00+00:00")  # later, but smaller
    write(tmp_path, bulk("2k", 2_000), "2026-11-20T21:00:00+00:00")
    write(tmp_path, grown(), "2026-11-25T08:00:00+00:00")

    text = readme.block(tmp_path)

    assert "Latest run: **2026-11-24, SCALE=1m** (1,000,000 members" in text
    assert "`bench/results/2026-11-24-1m.md`" in text
    assert (
        "| `subtreeRevenue`, largest (9 members) · server, 2 windows | p50 15 ms, p99 30 ms"
        " | p99 ≤ 20 ms | missed (1.5x) on 2 of 2 |"
    ) in text
    assert "| memory: Neo4j peak (VmHWM) | 1.0 GiB |  |  |" in text
    assert "Grown store (2 days replayed through transactions, 200 GraphQL mutations a day)" in text
    assert "1 cell missed by more than 10x" in text
    assert (
        "| days 1–2: subtreeRevenue · after refresh · HTTP | p50 5.00 ms–200 ms,"
        " p99 10 ms–400 ms | p99 ≤ 20 ms | FAILED (20.0x) on 1 of 2 |"
    ) in text
    assert "| days 1–2: rollups refresh | 3.0 s–6.0 s |  |  |" in text


def test_results_written_before_cells_carried_targets_are_judged_by_the_same_rules(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, Report("100k", {"members": 100_000}), "2026-11-24T21:00:00+00:00")
    result = json.loads(path.read_text())
    result["rows"] = [
        {
            "section": "GraphQL throughput",
            "measure": "subtreeRevenue · 16 clients · 1 worker",
            "value": "0 req/s, —, 0 errors",
            "target": "",
            "status": "missed",
            "note": "no request completed in 10 s",
            "data": {"clients": 16, "requests": 0, "errors": 0, "per_s": 0.0, "p99_s": 0.0},
        },
        {
            "section": "rollups",
            "measure": "refresh (100,000 members, 1,000,000 orders)",
            "value": "36.0 s",
            "status": "met",
            "data": {"seconds": 36.0},
        },
    ]
    path.write_text(json.dumps(result))

    loaded = readme.load(path)

    assert [r.status for r in loaded.rows] == ["FAILED", "met"]
    assert [r.section for r in loaded.failed] == ["GraphQL throughput"]
    text = readme.block(tmp_path)
    assert "| GraphQL throughput: subtreeRevenue · 16 clients · 1 worker |" in text
    assert "| FAILED (∞x) |" in text


def test_check_mode_fails_on_a_stale_readme_and_the_markers_are_required(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results"
    write(results, bulk("1m", 1_000_000), "2026-11-24T20:00:00+00:00")
    target = tmp_path / "README.md"
    target.write_text(f"# x\n\n{readme.BEGIN}\nold table\n{readme.END}\n\nafter\n")
    args = ["--readme", str(target), "--results-dir", str(results)]

    assert readme.main([*args, "--check"]) == 1
    assert readme.main(args) == 0
    assert readme.main([*args, "--check"]) == 0
    rewritten = target.read_text()
    assert rewritten.startswith(f"# x\n\n{readme.BEGIN}\nLatest run: **2026-11-24, SCALE=1m**")
    assert rewritten.endswith(f"\n{readme.END}\n\nafter\n")
    with pytest.raises(ValueError, match="markers"):
        readme.rewrite("no markers here", "table")
