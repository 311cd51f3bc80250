"""Day buckets and windows: how an instant maps to a rollup day, and how a half-open window
splits into whole days (read from the level checkpoints) and at most two partial days.

Every rollup writer and reader shares this arithmetic, so a bucket is one day everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

# Day buckets start at midnight China Standard Time, so windows that begin and end on a local
# midnight (a day, a month, the last 30 days) need no partial-day scan at all.
BUCKET_TZ = timezone(timedelta(hours=8))
DAY_S = 86_400
BUCKET_OFFSET_S = 8 * 3600


def day_of(epoch_s: int) -> int:
    """The absolute day bucket (days since 1970-01-01 CST) of an instant."""
    return (epoch_s + BUCKET_OFFSET_S) // DAY_S


def day_start(day: int) -> datetime:
    return datetime.fromtimestamp(day * DAY_S - BUCKET_OFFSET_S, tz=UTC).astimezone(BUCKET_TZ)


def month_starts(first: int, span: int) -> list[int]:
    """Indexes (days since ``first``) where each calendar month (+08:00) starts, then ``span``."""
    starts: list[int] = []
    previous: tuple[int, int] | None = None
    for d in range(span):
        date = day_start(first + d)
        if (date.year, date.month) != previous:
            starts.append(d)
            previous = (date.year, date.month)
    return [*starts, span]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime) -> int:
    """Microseconds since the epoch, exact (``timestamp()`` goes through a float)."""
    d = at - EPOCH
    return (d.days * DAY_S + d.seconds) * 1_000_000 + d.microseconds


@dataclass(frozen=True)
class Window:
    """A half-open window cut into whole day buckets and the partial-day edges around them."""

    start: datetime | None
    end: datetime | None
    day0: int
    days: int

    @property
    def full_from(self) -> int | None:
        """Absolute day of the first whole day, None when unbounded."""
        if self.start is None:
            return None
        ts = int(self.start.timestamp())
        day = day_of(ts)
        return day if day_start(day).timestamp() == ts else day + 1

    @property
    def full_to(self) -> int | None:
        return None if self.end is None else day_of(int(self.end.timestamp()))

    def _clamp(self, day: int | None, default: int) -> int:
        if day is None:
            return default
        return min(max(day - self.day0, 0), self.days)

    @property
    def a(self) -> int:
        """Index into the rollup arrays of the first whole day."""
        return min(self._clamp(self.full_from, 0), self.b)

    @property
    def b(self) -> int:
        return self._clamp(self.full_to, self.days)

    @property
    def joined_to(self) -> int:
        return self._clamp(self.full_to, self.days)

    @property
    def split(self) -> bool:
        """Whether there are whole days at all (else the whole window is one edge)."""
        f, t = self.full_from, self.full_to
        return f is None or t is None or f <= t

    def edges(self) -> list[list[datetime]]:
        if not self.split:
            assert self.start is not None and self.end is not None
            return [[self.start, self.end]] if self.start < self.end else []
        out: list[list[datetime]] = []
        if self.start is not None and self.full_from is not None:
            first = day_start(self.full_from)
            if self.start < first:
                out.append([self.start, first])
        if self.end is not None and self.full_to is not None:
            last = day_start(self.full_to)
            if last < self.end:
                out.append([last, self.end])
        return out

    def join_edge(self) -> list[list[datetime]]:
        if self.end is None or self.full_to is None:
            return []
        last = day_start(self.full_to)
        return [[last, self.end]] if last < self.end else []

    def in_full_days(self, at: datetime) -> bool:
        """Whether an instant falls in the whole-day part of the window."""
        if not self.split:
            return False
        day = day_of(int(at.timestamp()))
        f, t = self.full_from, self.full_to
        return (f is None or day >= f) and (t is None or day < t)

    def contains(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)
