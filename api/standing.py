"""Whether a member token's member exists and is not suspended, remembered briefly.

Asked on every member-token request, so the answer is kept for ``ttl`` seconds per member: a
member suspended (or deleted) keeps its access for at most that long, and a busy member costs one
read per ``ttl``, not one per request. Staff tokens are never looked up.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

import neo4j
from starlette.types import Scope

from api.errors import UNAVAILABLE_MESSAGE, ApiError, Code
from contract.settings import Settings
from graph import reads

STANDING_CACHE_SIZE = 65_536
"""Members remembered; the least recently asked is forgotten first."""
CHECK_TIMEOUT_S = 1.5
"""A look-up slower than this reports the database unavailable (inside the 2 s promise)."""


class MemberStanding:
    def __init__(self, *, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.clock = clock
        self.known: OrderedDict[str, tuple[bool, float]] = OrderedDict()

    async def __call__(self, scope: Scope, member_id: str) -> bool:
        now = self.clock()
        found = self.known.get(member_id)
        if found is not None and now < found[1]:
            self.known.move_to_end(member_id)
            return found[0]
        state = scope["state"]
        driver: neo4j.AsyncDriver = state["driver"]
        settings: Settings = state["settings"]
        try:
            records = await asyncio.wait_for(
                reads.members_by_ids(
                    driver,
                    [member_id],
                    timeout=min(settings.query_timeout_s, CHECK_TIMEOUT_S),
                    database=settings.neo4j_database,
                ),
                CHECK_TIMEOUT_S,
            )
        except TimeoutError as exc:
            raise ApiError(Code.UNAVAILABLE, UNAVAILABLE_MESSAGE) from exc
        record = records.get(member_id)
        good = record is not None and not record.suspended
        self.known[member_id] = (good, now + self.ttl)
        self.known.move_to_end(member_id)
        while len(self.known) > STANDING_CACHE_SIZE:
            self.known.popitem(last=False)
        return good
