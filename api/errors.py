"""Error codes clients can switch on, and the masking that keeps internals out of responses."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from enum import StrEnum

import neo4j.exceptions as nx
from graphql import GraphQLError
from starlette.types import Send
from strawberry.extensions import SchemaExtension

from graph.errors import DownlineError

log = logging.getLogger("downline.api")


class Code(StrEnum):
    BAD_INPUT = "BAD_INPUT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    TIMEOUT = "TIMEOUT"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"
    # Refusals of money writes (graph/withdrawals.py); nothing was written.
    BELOW_MINIMUM = "BELOW_MINIMUM"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    WITHDRAWAL_OPEN = "WITHDRAWAL_OPEN"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    WRONG_STATE = "WRONG_STATE"
    # Refusals of risk decisions (graph/riskdecisions.py); nothing was written.
    ALREADY_DECIDED = "ALREADY_DECIDED"
    SETTLEMENT_RUNNING = "SETTLEMENT_RUNNING"
    TOO_COSTLY = "TOO_COSTLY"
    """The query's cost (api/limits.py) is over DOWNLINE_MAX_QUERY_COST."""
    TOO_LARGE = "TOO_LARGE"
    """The request body is over DOWNLINE_MAX_BODY (HTTP 413)."""
    RATE_LIMITED = "RATE_LIMITED"
    """The token made more requests than DOWNLINE_RATE_LIMIT allows (HTTP 429)."""


class ApiError(Exception):
    """A failure the client caused or can act on; its message is safe to show."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad_input(message: str) -> ApiError:
    return ApiError(Code.BAD_INPUT, message)


def forbidden(message: str = "not allowed for this token") -> ApiError:
    return ApiError(Code.FORBIDDEN, message)


UNAVAILABLE_MESSAGE = "the database is unavailable; try again shortly"
TIMEOUT_MESSAGE = "the query took too long and was stopped"
INTERNAL_MESSAGE = "internal error"


def classify(exc: BaseException | None) -> tuple[Code, str] | None:
    """The code and client-safe message for an exception; None for an unexpected one."""
    if isinstance(exc, ApiError):
        return exc.code, exc.message
    if isinstance(exc, DownlineError):
        return Code(exc.code), exc.message
    if isinstance(exc, TimeoutError):
        return Code.TIMEOUT, TIMEOUT_MESSAGE
    # The server stopped the transaction at its timeout: while it ran (TransactionTimedOut) or
    # while it waited for a lock (LockClientStopped).
    stopped = ("TransactionTimedOut", "LockClientStopped")
    if isinstance(exc, nx.Neo4jError) and any(c in (exc.code or "") for c in stopped):
        return Code.TIMEOUT, TIMEOUT_MESSAGE
    if isinstance(
        exc,
        nx.ServiceUnavailable
        | nx.SessionExpired
        | nx.ConnectionPoolError
        | nx.DatabaseUnavailable
        | nx.AuthError
        | ConnectionError,
    ):
        return Code.UNAVAILABLE, UNAVAILABLE_MESSAGE
    return None


def _rewrite(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    found = classify(original)
    preset = (error.extensions or {}).get("code")
    if (
        found is None
        and original is None
        and isinstance(preset, str)
        and preset in Code.__members__
    ):
        found = (Code(preset), error.message)  # a limit's own code (api/limits.py)
    if found is None and (
        original is None
        or (error.path is None and isinstance(original, GraphQLError | ValueError | TypeError))
    ):
        # Parse, validation and variable errors (a scalar refusing a value, with our message):
        # about the document, safe to show.
        found = (Code.BAD_INPUT, error.message)
    if found is None:
        log.error("unexpected error at %s", error.path, exc_info=original)
        found = (Code.INTERNAL, INTERNAL_MESSAGE)
    code, message = found
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": code.value},
    )


class ErrorCodes(SchemaExtension):
    """Gives every error an ``extensions.code`` and masks anything unexpected."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [_rewrite(e) for e in errors]
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = [_rewrite(e) for e in pre]


async def send_error(
    send: Send,
    status: int,
    code: Code,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A GraphQL-shaped error response, for a request refused before it reaches GraphQL."""
    body = json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code.value}}]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
