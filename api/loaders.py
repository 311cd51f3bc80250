"""The per-request context: the shared driver, who is asking, and DataLoaders (one round trip per
level of a nested list, and each member read once per request)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

import neo4j
from strawberry.dataloader import DataLoader

from api.auth import Principal
from api.errors import UNAVAILABLE_MESSAGE, ApiError, Code, forbidden
from api.health import Liveness
from contract.settings import Settings
from graph import reads, riskdecisions
from graph.metrics import MemberMetrics
from graph.rollupreader import RollupReader

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

Window = tuple[datetime | None, datetime | None]
UplineKey = tuple[str, int]
PageKey = tuple[str, int, str | None]
MetricsKey = tuple[str, datetime | None, datetime | None]


@dataclass
class Context:
    driver: neo4j.AsyncDriver
    settings: Settings
    principal: Principal
    rollups: RollupReader | None = None
    """The process's rollup reader (the app's lifespan builds one); a context without one
    reads through a reader of its own, with nothing kept between requests."""
    liveness: Liveness | None = None
    """Asked when a graph call is slow, so a paused Neo4j is UNAVAILABLE, not a hang."""
    started: float = field(default_factory=time.monotonic)
    """When the request began; its deadline counts from here."""
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        if self.rollups is None:
            self.rollups = RollupReader(self.driver, database=self.settings.neo4j_database)
        self.loaders = Loaders(self)

    @property
    def reader(self) -> RollupReader:
        assert self.rollups is not None
        return self.rollups

    @property
    def database(self) -> str:
        return self.settings.neo4j_database

    @property
    def remaining(self) -> float:
        """Seconds left before the request's deadline (DOWNLINE_REQUEST_DEADLINE)."""
        return self.started + self.settings.request_deadline_s - time.monotonic()

    @property
    def timeout(self) -> float:
        """The server-side timeout of the next transaction: the query timeout, or what is
        left of the request's deadline (never 0, which Neo4j reads as no timeout at all)."""
        return max(0.01, min(self.settings.query_timeout_s, self.remaining))

    async def run(self, call: Awaitable[T]) -> T:
        """Any graph call, stopped with TIMEOUT a little after its transaction timeout or at the
        request's deadline, and with UNAVAILABLE when it is slow and Neo4j does not answer."""
        task = asyncio.ensure_future(call)
        stop = time.monotonic() + min(self.settings.query_timeout_s + 1.0, self.remaining)
        try:
            while True:
                left = stop - time.monotonic()
                wait = left if self.liveness is None else min(left, SLOW_CALL_S)
                done, _ = await asyncio.wait({task}, timeout=max(wait, 0.0))
                if done:
                    return task.result()
                if wait >= left:
                    raise TimeoutError
                if self.liveness is not None and not await self.liveness.alive():
                    raise ApiError(Code.UNAVAILABLE, UNAVAILABLE_MESSAGE)
        finally:
            if not task.done():
                task.cancel()
                task.add_done_callback(_forget)

    def require_staff(self) -> None:
        if not self.principal.is_staff:
            raise forbidden("only analysts and admins may ask this")

    def require_admin(self) -> None:
        if self.principal.role != "admin":
            raise forbidden("only admins may do this")

    async def require_visible(self, member_id: str, *, asked: bool = True) -> None:
        """A member token sees itself and its own downline; anything else is FORBIDDEN.

        The refusal names ``member_id`` only when the caller ``asked`` for it by that id (an
        argument of the request); an id the graph led to (a sponsor) is never named, since it
        may be someone outside the caller's downline."""
        if not await self.loaders.visible.load(member_id):
            if asked:
                raise forbidden(f"member {member_id} is not in your downline")
            raise forbidden("that member is not in your downline")

    @property
    def viewer(self) -> str | None:
        """Whose downline bounds what is shown: the member of a member token ("" for a member
        token without one: nobody's), None for staff (everything)."""
        return None if self.principal.is_staff else (self.principal.member_id or "")


SLOW_CALL_S = 0.5
"""A graph call still running after this long makes the context ask whether Neo4j answers."""


def _forget(task: asyncio.Future[Any]) -> None:
    """A cancelled call's late failure is expected; retrieving it keeps asyncio quiet."""
    if not task.cancelled():
        task.exception()


def _grouped(keys: Sequence[K], group: Callable[[K], Any]) -> dict[Any, list[K]]:
    groups: dict[Any, list[K]] = defaultdict(list)
    for key in keys:
        groups[group(key)].append(key)
    return groups


class Loaders:
    """Each DataLoader is made when a request first needs it (most need one or two)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @cached_property
    def members(self) -> DataLoader[str, reads.MemberRecord | None]:
        return DataLoader(self._members)

    @cached_property
    def members_and_sponsors(self) -> DataLoader[str, reads.MemberRecord | None]:
        return DataLoader(self._members_and_sponsors)

    @cached_property
    def uplines(self) -> DataLoader[UplineKey, tuple[str, ...]]:
        return DataLoader(self._uplines)

    @cached_property
    def recruits(self) -> DataLoader[PageKey, reads.RecruitsPage | None]:
        return DataLoader(self._recruits)

    @cached_property
    def visible(self) -> DataLoader[str, bool]:
        return DataLoader(self._visible)

    @cached_property
    def metrics(self) -> DataLoader[MetricsKey, MemberMetrics | None]:
        return DataLoader(self._metrics)

    @cached_property
    def frozen(self) -> DataLoader[str, int]:
        """Fen each risk flag holds frozen: one read for every flag of a page."""
        return DataLoader(self._frozen)

    def _kw(self) -> dict[str, Any]:
        return {"timeout": self.ctx.timeout, "database": self.ctx.database}

    async def _frozen(self, ids: list[str]) -> list[int]:
        found = await self.ctx.run(riskdecisions.flags_frozen(self.ctx.driver, ids, **self._kw()))
        return [found.get(i, 0) for i in ids]

    async def _members(self, ids: list[str]) -> list[reads.MemberRecord | None]:
        found = await self.ctx.run(reads.members_by_ids(self.ctx.driver, ids, **self._kw()))
        return [found.get(i) for i in ids]

    async def _members_and_sponsors(self, ids: list[str]) -> list[reads.MemberRecord | None]:
        """Members shown with their sponsor: both in one read, primed into ``members``."""
        found = await self.ctx.run(
            reads.members_by_ids(self.ctx.driver, ids, sponsors=True, **self._kw())
        )
        for record in found.values():
            self.members.prime(record.id, record)
        return [found.get(i) for i in ids]

    async def _uplines(self, keys: list[UplineKey]) -> list[tuple[str, ...]]:
        out: dict[UplineKey, tuple[str, ...]] = {}
        for depth, group in _grouped(keys, lambda k: k[1]).items():
            ids = [k[0] for k in group]
            found = await self.ctx.run(
                reads.uplines(self.ctx.driver, ids, max_depth=depth, **self._kw())
            )
            out.update({k: found.get(k[0], ()) for k in group})
        return [out[k] for k in keys]

    async def _recruits(self, keys: list[PageKey]) -> list[reads.RecruitsPage | None]:
        found = await self.ctx.run(reads.recruits_pages(self.ctx.driver, keys, **self._kw()))
        return [found.get(k) for k in keys]

    async def _visible(self, ids: list[str]) -> list[bool]:
        principal = self.ctx.principal
        if principal.is_staff:
            return [True] * len(ids)
        if principal.member_id is None:
            return [False] * len(ids)
        found = await self.ctx.run(
            reads.within_downline(self.ctx.driver, principal.member_id, ids, **self._kw())
        )
        return [i in found for i in ids]

    async def _metrics(self, keys: list[MetricsKey]) -> list[MemberMetrics | None]:
        out: dict[MetricsKey, MemberMetrics | None] = {}
        for (start, end), group in _grouped(keys, lambda k: (k[1], k[2])).items():
            found = await self.ctx.run(
                self.ctx.reader.member_metrics(
                    [k[0] for k in group], start=start, end=end, timeout=self.ctx.timeout
                )
            )
            out.update({k: found.get(k[0]) for k in group})
        return [out[k] for k in keys]
