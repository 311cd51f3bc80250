"""The bench's child tasks: where a settlement run's time went."""

from __future__ import annotations

from bench.tasks import step_seconds


def test_step_seconds_splits_a_run_at_its_progress_messages() -> None:
    marks = [
        (1.0, "taking over the lock of dead run R0"),
        (2.5, "run R1: settling 10 order(s) up to 2026-01-01T00:00:00+08:00"),
        (3.0, "run R1: links done"),
        (7.0, "run R1: payouts done"),
    ]
    assert step_seconds(0.0, 7.25, marks) == {
        "prepare": 2.5,
        "links": 0.5,
        "payouts": 4.0,
        "finish": 0.25,
    }
