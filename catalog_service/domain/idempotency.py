"""Idempotency-Key for system clients' calls (reliability.md §2.1; draft-ietf-httpapi-idempotency-key-header).

The key is claimed by inserting its row at the start of the request's transaction and filled with the response
before commit, so the effects and the stored response commit (or vanish) together. A concurrent duplicate blocks
on the row's primary key until the first commits, then replays it; if the first rolled back, it runs itself.
A failed request (4xx/5xx raised before the response) stores nothing, so retrying it is safe.
"""

import hashlib
import json
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.errors import IdempotencyKeyReused
from catalog_service.models import IdempotencyKey
from services.audit import leave_out_request_entry

__all__ = ["claim", "fingerprint", "remember"]


def fingerprint(route: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


def _replay(row: IdempotencyKey, request_hash: str) -> str:
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused("This Idempotency-Key was used for a different request; use a new key.",
                                   errors=[{"loc": ["header", "Idempotency-Key"],
                                            "msg": "key reused with a different request", "type": "reused"}])
    return row.response_body


def _unaudited(session: AsyncSession, body: str) -> str:
    # A replay changes nothing, so the audit log gets no entry for it (services/audit.py).
    leave_out_request_entry(session)
    return body


async def claim(session: AsyncSession, principal_sub: str, key: str, request_hash: str) -> str | None:
    """The stored response body to replay, or None when this request holds the key and must run."""
    row = await session.get(IdempotencyKey, (principal_sub, key))
    if row is not None:
        return _unaudited(session, _replay(row, request_hash))
    try:
        async with session.begin_nested():
            session.add(IdempotencyKey(principal_sub=principal_sub, key=key, request_hash=request_hash,
                                       status_code=0, response_body=""))
    except IntegrityError:
        # A concurrent request with the same key committed first (our insert waited for it): replay that one.
        row = await session.get(IdempotencyKey, (principal_sub, key), populate_existing=True)
        assert row is not None
        return _unaudited(session, _replay(row, request_hash))
    return None


async def remember(session: AsyncSession, principal_sub: str, key: str, status_code: int, body: str) -> None:
    row = await session.get(IdempotencyKey, (principal_sub, key))
    assert row is not None, "claim() first"
    row.status_code, row.response_body = status_code, body
    await session.flush()
