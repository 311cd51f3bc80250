"""Per-token rate limits: a token bucket per bearer token, 429 with Retry-After when empty."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import Code, send_error

BUCKETS = 65_536
"""Tokens tracked at once; the least recently seen is forgotten (and starts full again)."""


class Buckets:
    """``rate`` requests per second per key on average, ``burst`` at once."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.time) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.levels: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds until one may."""
        now = self.clock()
        level, at = self.levels.get(key, (self.burst, now))
        level = min(self.burst, level + max(0.0, now - at) * self.rate)
        wait = 0.0
        if level >= 1.0:
            level -= 1.0
        else:
            wait = (1.0 - level) / self.rate
        self.levels[key] = (level, now)
        self.levels.move_to_end(key)
        if len(self.levels) > BUCKETS:
            self.levels.popitem(last=False)
        return wait


class Throttle:
    """ASGI wrapper behind RequireToken: counts each request against its token's bucket."""

    def __init__(self, app: ASGIApp, *, buckets: Buckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = scope.get("state", {}).get("token") if scope["type"] == "http" else None
        if token is not None:
            wait = self.buckets.take(token)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                await send_error(
                    send,
                    429,
                    Code.RATE_LIMITED,
                    f"too many requests for this token; retry in {seconds} s",
                    [(b"retry-after", str(seconds).encode())],
                )
                return
        await self.app(scope, receive, send)
