"""Request bodies: refused over a size (413) before anything parses them, and refused when
their JSON nests deeper or holds more values than any GraphQL request here needs.

The JSON check scans brackets outside strings (no recursion), so a body of ten thousand nested
lists is refused as BAD_INPUT instead of reaching a recursive decoder.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import Code, send_error

MAX_JSON_DEPTH = 12
"""The request object, its variables and ten levels inside them."""
MAX_JSON_ITEMS = 5_000
"""Values in all arrays and objects of a body (commas, roughly)."""

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_STRUCTURE = re.compile(rb"[\[\]{}]")


def json_problem(body: bytes) -> str | None:
    """Why a JSON body nests too deep or holds too many values; None when it does not."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH and body.count(b",") < MAX_JSON_ITEMS:
        return None  # the common case: small bodies skip the scan
    bare = _STRINGS.sub(b'""', body)
    if bare.count(b",") >= MAX_JSON_ITEMS:
        return f"the request holds more than {MAX_JSON_ITEMS} values; at most that many are allowed"
    depth = deepest = 0
    for bracket in _STRUCTURE.findall(bare):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    if deepest > MAX_JSON_DEPTH:
        return (
            f"the request's JSON nests {deepest} levels deep; at most {MAX_JSON_DEPTH} are allowed"
        )
    return None


class LimitBody:
    """ASGI wrapper: 413 for a body over ``max_bytes`` (by Content-Length, or counted as a
    chunked body streams in), BAD_INPUT for one nested too deep; the app gets the body whole."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self.too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self.too_large(send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        problem = json_problem(body)
        if problem is not None:
            await send_error(send, 200, Code.BAD_INPUT, problem)
            return
        await self.app(scope, _replay(body, receive), send)

    async def too_large(self, send: Send) -> None:
        await send_error(
            send,
            413,
            Code.TOO_LARGE,
            f"the request body is over {self.max_bytes} bytes",
            [(b"connection", b"close")],
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = bytes(value).decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() else None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, whole; then whatever the connection says next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
