"""The organ's staff directory (办理人员名录) for assignment (分办), learnt from the tokens of staff who call.

Why from token claims and not an admin-kept list: people, names and roles are managed in the organ's identity
platform (统一身份认证); a second list kept by hand here would drift from it, and `assign` names the handler by the
token `sub` the identity platform issues, which is exactly what a seen token carries. The cost: a colleague who has
never called the service is not listed yet (the UI can still assign by `sub`), and one who has left stays until
their `last_seen_at` is old enough for the UI to grey them out (`seen_within_days` filters them away).

Recording is bookkeeping, not a change of record: its own short transaction (no audit entry, no event), at most once
an hour per person and process unless the name or roles changed (`_recent`), so a busy work-list costs no writes.
Only reads record (the API calls it on GETs): a request that writes holds its own transaction, which on SQLite a
second writer would wait behind.
"""

import time
from datetime import timedelta
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from request_service.domain.applications import HANDLING_ROLES
from request_service.models import StaffMember
from services.auth import Principal
from services.db import Database, utcnow

__all__ = ["record_seen", "staff_of"]

REFRESH_SECONDS = 3600
# Per database (a process serves one; tests build many): (organ, sub) → (name, roles, monotonic time recorded).
_recent: WeakKeyDictionary[Database, dict[tuple[str, str], tuple[str, tuple[str, ...], float]]] = \
    WeakKeyDictionary()


async def record_seen(database: Database, principal: Principal) -> None:
    """Note a handling staff member of an organ (others are not in the directory)."""
    roles = tuple(sorted(principal.roles & HANDLING_ROLES))
    if not roles or not principal.organ or principal.is_anonymous:
        return
    key = (principal.organ, principal.sub)
    recent = _recent.setdefault(database, {})
    cached = recent.get(key)
    now = time.monotonic()
    if cached is not None and cached[:2] == (principal.name, roles) and now - cached[2] < REFRESH_SECONDS:
        return
    for _ in range(2):  # a concurrent first sighting inserts the row: then update it
        try:
            async with database.transaction() as session:
                row = await session.get(StaffMember, key)
                if row is None:
                    session.add(StaffMember(organ_code=principal.organ, sub=principal.sub, name=principal.name,
                                            roles=list(roles), last_seen_at=utcnow()))
                else:
                    row.name, row.roles, row.last_seen_at = principal.name, list(roles), utcnow()
            break
        except IntegrityError:
            continue
    recent[key] = (principal.name, roles, now)


async def staff_of(session, organ_code: str, *, role: str | None, seen_within_days: int) -> list[StaffMember]:
    since = utcnow() - timedelta(days=seen_within_days)
    rows = (await session.execute(select(StaffMember).where(
        StaffMember.organ_code == organ_code, StaffMember.last_seen_at >= since)
        .order_by(StaffMember.name, StaffMember.sub))).scalars().all()
    return [r for r in rows if role is None or role in (r.roles or [])]
