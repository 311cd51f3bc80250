"""What every command prints when it refuses: the message as written, markup characters kept."""

from __future__ import annotations

import os

from tests.cli import downline


def test_an_error_prints_brackets_in_the_value_as_they_are() -> None:
    # Rich would read "[red]" and "[/]" as markup and drop them from the message.
    done = downline("settle", "--until", "[red]2026[/]", env=dict(os.environ))
    assert done.returncode == 1
    assert (
        done.stderr.strip() == "error: --until/--from: '[red]2026[/]' is not an ISO 8601 timestamp"
    )
    assert done.stdout == ""
