"""Expected failures of graph writes and reads, each with a stable code the API passes on."""

from __future__ import annotations


class DownlineError(Exception):
    """Base of the failures a caller is expected to handle; ``code`` is part of the contract."""

    code = "BAD_INPUT"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(DownlineError):
    code = "BAD_INPUT"


class NotFound(DownlineError):
    code = "NOT_FOUND"


class Conflict(DownlineError):
    """The input is well-formed but clashes with what is stored (a duplicate id, a cycle)."""

    code = "BAD_INPUT"
