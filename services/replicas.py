"""Read replicas (只读副本, issue 17): PostgreSQL streaming standbys that take the public's reads off the primary.

`<SERVICE>_DATABASE_REPLICA_URLS` (comma-separated) names them. What goes where is chosen per request, explicitly, by
the dependency an endpoint asks for: `SessionDep` (services/db.py) is always the primary — every write, and every
read that must see what was just written; an endpoint whose readers accept a replica asks for a read session from
`replica_read` (the catalogue: catalog_service/deps.py `PublicSessionDep`), which gives a replica's session only when

  * a replica is in rotation — the health checker (`ReplicaSet.run`) checks each one every
    `<SERVICE>_REPLICA_CHECK_INTERVAL_SECONDS`: a replica that errors or lags more than
    `<SERVICE>_REPLICA_MAX_LAG_SECONDS` leaves the rotation, and returns by itself once it answers and has caught
    up (lag = how long ago the primary passed the WAL position the replica has replayed);
  * read-your-writes (读己之写): a write's response carries `X-Gongkai-Commit-LSN` (the primary's WAL position
    after its commit); a client that sends it back as `X-Gongkai-Min-LSN` is served by a replica only once the
    replica has replayed that position — waited for at most `<SERVICE>_REPLICA_WAIT_SECONDS`, then the primary;
  * the service's own `confirm(replica_session, primary_session)` agrees (the catalogue: every visibility
    revocation committed on the primary is already on the replica, so a withdrawal is never served late).
Otherwise the request reads from the primary. A read that falls back is counted (`fallbacks`, on /metrics).

SQLite is the single-process embedded default and has no replicas: replica URLs with a SQLite database are refused
at start (services/settings.py)."""

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import Principal, PrincipalDep
from services.db import Database, make_engine

__all__ = ["COMMIT_LSN_HEADER", "MIN_LSN_HEADER", "CommitLsnMiddleware", "Replica", "ReplicaCollector",
           "ReplicaSessionDep", "ReplicaSet", "format_lsn", "parse_lsn", "replica_read", "replica_session",
           "replica_snapshot"]

COMMIT_LSN_HEADER = "X-Gongkai-Commit-LSN"
MIN_LSN_HEADER = "X-Gongkai-Min-LSN"
_log = logging.getLogger("gongkai.replicas")

Confirm = Callable[[AsyncSession, AsyncSession], Awaitable[bool]]


def format_lsn(lsn: int) -> str:
    """PostgreSQL's text form of a WAL position (asyncpg gives pg_lsn as an integer): `16/B374D848`."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(value: str | None) -> int | None:
    """`16/B374D848` → its integer; None for anything else (a malformed header is ignored, not an error: the
    request is then served as if it had none)."""
    if not value or value.count("/") != 1:
        return None
    high, low = value.strip().split("/")
    try:
        high_n, low_n = int(high, 16), int(low, 16)
    except ValueError:
        return None
    if not (0 <= high_n <= 0xFFFFFFFF and 0 <= low_n <= 0xFFFFFFFF):
        return None
    return (high_n << 32) | low_n


@dataclass
class Replica:
    """One standby and what the last health check found."""

    name: str  # host:port/database, never credentials: shown on /readyz and /metrics
    database: Database
    in_rotation: bool = False
    replay_lsn: int | None = None
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    error: str | None = None
    checked_at: float | None = None
    served: int = 0  # reads answered by this replica


@dataclass
class ReplicaSet:
    """The replicas of one service's database, their health, and the choice of one for a read."""

    primary: Database
    replicas: list[Replica]
    max_lag_seconds: float = 10.0
    check_interval_seconds: float = 1.0
    wait_seconds: float = 1.0
    fallbacks: collections.Counter[str] = field(default_factory=collections.Counter)
    # (monotonic time, primary WAL position) per check: when the primary passed a position a replica has replayed.
    _samples: collections.deque[tuple[float, int]] = field(default_factory=lambda: collections.deque(maxlen=3600))
    _turn: Iterator[int] = field(default_factory=itertools.count)

    @classmethod
    def from_urls(cls, primary: Database, urls: list[str], *, pool_size: int, **kwargs: Any) -> "ReplicaSet":
        replicas = []
        for url in urls:
            parsed = make_url(url)
            name = f"{parsed.host}:{parsed.port or 5432}/{parsed.database}"
            replicas.append(Replica(name, Database(make_engine(url, pool_size=pool_size))))
        return cls(primary, replicas, **kwargs)

    # ---- health ------------------------------------------------------------------------------------------------

    async def check(self) -> None:
        """One round: the primary's WAL position, then each replica's replayed position and its lag."""
        try:
            async with self.primary.session(write=False) as session:
                primary_lsn = int((await session.execute(text("SELECT pg_current_wal_lsn()"))).scalar_one())
        except Exception as exc:  # the primary's own readiness check reports it; replicas are judged next round
            _log.warning("replica check: primary unavailable (%s)", type(exc).__name__)
            return
        now = time.monotonic()
        self._samples.append((now, primary_lsn))
        for replica in self.replicas:
            await self._check_one(replica, primary_lsn, now)

    async def _check_one(self, replica: Replica, primary_lsn: int, now: float) -> None:
        was = replica.in_rotation
        try:
            async with replica.database.session(write=False) as session:
                row = (await asyncio.wait_for(session.execute(text(
                    "SELECT pg_last_wal_replay_lsn(), "
                    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())")), timeout=2.0)).one()
            if row[0] is None:
                raise RuntimeError("not a standby (pg_last_wal_replay_lsn() is null)")
            replay = int(row[0])
            replica.replay_lsn, replica.lag_bytes = replay, max(0, primary_lsn - replay)
            replica.lag_seconds = self._lag_seconds(replay, now, float(row[1]) if row[1] is not None else None)
            replica.error = None
            replica.in_rotation = replica.lag_seconds <= self.max_lag_seconds
        except Exception as exc:  # down, refusing, timing out: out of the rotation until a check succeeds
            replica.error = type(exc).__name__ if not isinstance(exc, RuntimeError) else str(exc)
            replica.in_rotation = False
        replica.checked_at = now
        if was != replica.in_rotation:
            _log.warning("replica %s %s the rotation (lag %s s, error %s)", replica.name,
                         "joins" if replica.in_rotation else "leaves", replica.lag_seconds, replica.error)

    def _lag_seconds(self, replay: int, now: float, replay_age: float | None) -> float:
        """0 when the replica has replayed everything the primary had at this check; else how long ago the primary
        was first seen past the replayed position. Before the samples reach back that far, the age of the last
        replayed commit (an upper bound: the primary may have been idle since)."""
        if replay >= self._samples[-1][1]:
            return 0.0
        if self._samples[0][1] <= replay:
            first_past = next(t for t, lsn in self._samples if lsn > replay)
            return round(now - first_past, 3)
        return round(max(now - self._samples[0][0], replay_age or 0.0), 3)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.check()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.check_interval_seconds)
            except TimeoutError:
                pass

    # ---- choosing ------------------------------------------------------------------------------------------------

    def pick(self) -> Replica | None:
        """The next replica in rotation (round robin), or None."""
        ready = [r for r in self.replicas if r.in_rotation]
        return ready[next(self._turn) % len(ready)] if ready else None

    def leave(self, replica: Replica, exc: BaseException) -> None:
        """A read on `replica` failed: out of the rotation now, not at the next check."""
        replica.in_rotation, replica.error = False, type(exc).__name__

    async def replayed(self, session: AsyncSession, lsn: int) -> bool:
        """Whether the replica of `session` has replayed `lsn`, waiting at most `wait_seconds`."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            replay = (await session.execute(text("SELECT pg_last_wal_replay_lsn()"))).scalar_one()
            if replay is not None and int(replay) >= lsn:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)

    def status(self) -> dict[str, Any]:
        """For /readyz: every replica's state. A replica out of rotation never makes the service unready (the
        primary serves its reads)."""
        return {"ok": True, "in_rotation": sum(r.in_rotation for r in self.replicas),
                "fallbacks": dict(self.fallbacks),
                "replicas": [{"name": r.name, "in_rotation": r.in_rotation, "lag_seconds": r.lag_seconds,
                              "lag_bytes": r.lag_bytes, "error": r.error} for r in self.replicas]}

    async def dispose(self) -> None:
        for replica in self.replicas:
            await replica.database.dispose()


@asynccontextmanager
async def replica_read(request: Request, *, allowed: bool = True,
                       confirm: Confirm | None = None) -> AsyncIterator[AsyncSession]:
    """A read-only unit of work for this request: a replica's session when one may serve it (see the module's
    docstring), else the primary's. Committed on success like services/db.get_session, else rolled back."""
    replicas: ReplicaSet | None = getattr(request.state, "replicas", None)
    session = await _replica_session(request, replicas, confirm) if replicas is not None and allowed else None
    if session is None:
        session = request.state.database.session(write=False)
    async with session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@asynccontextmanager
async def replica_snapshot(request: Request, *, allowed: bool = True,
                           confirm: Confirm | None = None) -> AsyncIterator[AsyncSession]:
    """`Database.snapshot()` (one REPEATABLE READ, READ ONLY transaction: a long export and the position it names
    agree) on a replica when one may serve it, else on the primary; always rolled back. The confirmation is the
    snapshot's first statement, so it checks exactly the state the whole export is read from. A replica that fails
    later cuts the stream (an export without its trailer is started again, as when the primary fails)."""
    replicas: ReplicaSet | None = getattr(request.state, "replicas", None)
    session = (await _replica_session(request, replicas, confirm, snapshot=True)
               if replicas is not None and allowed else None)
    if session is None:
        async with request.state.database.snapshot() as primary_snapshot:
            yield primary_snapshot
        return
    async with session:
        try:
            yield session
        finally:
            await session.rollback()


def replica_session(allowed: Callable[[Principal], bool] | None = None,
                    confirm: Confirm | None = None) -> Callable[..., AsyncIterator[AsyncSession]]:
    """A FastAPI dependency giving `replica_read`'s session: `allowed(principal)` says whether this caller's read may
    go to a replica (e.g. not the staff who write what the endpoint shows: they read the primary, so they see their
    own writes); None: every caller's may. A service with its own visibility rule passes its `confirm`."""

    async def dependency(request: Request, principal: PrincipalDep) -> AsyncIterator[AsyncSession]:
        async with replica_read(request, allowed=allowed is None or allowed(principal), confirm=confirm) as session:
            yield session

    return dependency


# The read session of an endpoint whose data no caller writes through this service's API (figures fed by consumers,
# reference data): a replica's whenever one may answer, for everyone. With no replicas configured, the primary's.
ReplicaSessionDep = Annotated[AsyncSession, Depends(replica_session(), scope="function")]


async def _replica_session(request: Request, replicas: ReplicaSet, confirm: Confirm | None, *,
                           snapshot: bool = False) -> AsyncSession | None:
    replica = replicas.pick()
    if replica is None:
        replicas.fallbacks["no_replica"] += 1
        return None
    session = replica.database.session(write=False)
    try:
        wanted = parse_lsn(request.headers.get(MIN_LSN_HEADER))
        if wanted is not None and not await replicas.replayed(session, wanted):
            replicas.fallbacks["behind_client"] += 1
            await session.close()
            return None
        if snapshot:
            # A REPEATABLE READ snapshot is taken at its transaction's first statement: opened only now, after the
            # wait, it holds the client's write (the wait's own statements would have fixed an older one).
            await session.close()
            session = replica.database.snapshot_session()
        if confirm is not None:
            async with request.state.database.session(write=False) as primary:
                agreed = await confirm(session, primary)
            if not agreed:
                replicas.fallbacks["unconfirmed"] += 1
                await session.close()
                return None
    except Exception as exc:  # the replica failed (the primary's failure in `confirm` is the same for both)
        replicas.leave(replica, exc)
        replicas.fallbacks["replica_error"] += 1
        await session.close()
        return None
    replica.served += 1
    return session


class CommitLsnMiddleware:
    """Adds `X-Gongkai-Commit-LSN` to the response of a request that wrote (services/db.get_session leaves the
    primary's WAL position after the commit in the request's state): the position a replica must have replayed
    before it may answer this client's next read (sent back as `X-Gongkai-Min-LSN`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_lsn(message: dict) -> None:
            if message["type"] == "http.response.start":
                lsn = scope.get("state", {}).get("commit_lsn")
                if lsn is not None:
                    message["headers"] = [*message.get("headers", []),
                                          (COMMIT_LSN_HEADER.lower().encode(), format_lsn(lsn).encode())]
            await send(message)

        await self.app(scope, receive, send_with_lsn)


class ReplicaCollector:
    """/metrics: lag and state per replica, reads served, reads that fell back to the primary (by reason)."""

    def __init__(self, replicas: ReplicaSet) -> None:
        self.replicas = replicas

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily("gongkai_db_replica_lag_seconds", "How long ago the primary passed the WAL position "
                                "this replica has replayed (0: caught up)", labels=["replica"])
        lag_bytes = GaugeMetricFamily("gongkai_db_replica_lag_bytes", "WAL bytes not yet replayed by this replica",
                                      labels=["replica"])
        rotation = GaugeMetricFamily("gongkai_db_replica_in_rotation", "1 while this replica serves reads",
                                     labels=["replica"])
        served = CounterMetricFamily("gongkai_db_replica_reads", "Reads answered by this replica", labels=["replica"])
        for r in self.replicas.replicas:
            lag.add_metric([r.name], -1.0 if r.lag_seconds is None else r.lag_seconds)
            lag_bytes.add_metric([r.name], -1.0 if r.lag_bytes is None else float(r.lag_bytes))
            rotation.add_metric([r.name], float(r.in_rotation))
            served.add_metric([r.name], float(r.served))
        fallbacks = CounterMetricFamily("gongkai_db_replica_fallbacks", "Reads that could have gone to a replica "
                                        "and were answered by the primary", labels=["reason"])
        for reason in ("no_replica", "behind_client", "unconfirmed", "replica_error"):
            fallbacks.add_metric([reason], float(self.replicas.fallbacks[reason]))
        yield from (lag, lag_bytes, rotation, served, fallbacks)
