"""Idempotency-Key for create endpoints (reliability.md §2.1, draft-ietf-httpapi-idempotency-key-header).

A client that retries a submission with the same key gets the first response again instead of a second
application; the same key with a different body is a 422 `idempotency_key_reused`. Keys are scoped by
(route, caller) and kept `idempotency_ttl_hours` (≥ 24 h); an older record is forgotten and the key starts afresh.

The claim is made first, in the request's own transaction, so the record, the application and its events commit
together or not at all (Brandur Leach: when all effects are local, one ACID transaction). A concurrent duplicate
waits on the primary key (PostgreSQL) or on the single writer (SQLite), then finds the committed record and
replays it. Failed requests (validation, unknown organ …) roll the claim back, so their retries are fresh.

The receipt holds the 查询码, which is never stored in clear: the record keeps only a hash of the key, and the
response is AES-GCM-encrypted under a key derived from the Idempotency-Key itself. Only a caller who knows the
key (and sends the same body) can have it replayed.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.errors import IdempotencyKeyReused
from request_service.models import IdempotencyRecord
from services.audit import leave_out_request_entry
from services.db import utcnow
from services.errors import Conflict

__all__ = ["Replay", "claim", "complete", "fingerprint"]


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str]


def fingerprint(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _derive(purpose: bytes, scope: str, key: str) -> bytes:
    return hashlib.sha256(b"gongkai-idempotency-v1\0" + purpose + b"\0" + scope.encode() + b"\0" + key.encode()
                          ).digest()


def _key_hash(scope: str, key: str) -> str:
    return _derive(b"lookup", scope, key).hex()


def _seal(scope: str, key: str, key_hash: str, data: dict[str, Any]) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_derive(b"seal", scope, key)).encrypt(nonce, json.dumps(data).encode(), key_hash.encode())
    return base64.b64encode(nonce + sealed).decode()


def _open(scope: str, key: str, key_hash: str, token: str) -> dict[str, Any]:
    raw = base64.b64decode(token)
    return json.loads(AESGCM(_derive(b"seal", scope, key)).decrypt(raw[:12], raw[12:], key_hash.encode()))


def _replay(record: IdempotencyRecord, scope: str, key: str, fp: str) -> Replay:
    if record.fingerprint != fp:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request body; use a new key.")
    if record.status_code is None or record.response is None:
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
    stored = _open(scope, key, record.key_hash, record.response)
    return Replay(record.status_code, stored["body"], stored["headers"])


def _unaudited(session: AsyncSession, replay: Replay) -> Replay:
    # A replay changes nothing, so the audit log gets no entry for it (services/audit.py): else anyone could replay
    # one anonymous submission into any number of entries.
    leave_out_request_entry(session)
    return replay


async def claim(session: AsyncSession, scope: str, key: str, fp: str, *, ttl_hours: int) -> Replay | None:
    """The stored response to replay, or None after claiming the key for this request."""
    key_hash = _key_hash(scope, key)
    record = await session.get(IdempotencyRecord, key_hash)
    if record is not None and record.created_at < utcnow() - timedelta(hours=ttl_hours):
        await session.delete(record)
        await session.flush()
        record = None
    if record is not None:
        return _unaudited(session, _replay(record, scope, key, fp))
    try:
        async with session.begin_nested():
            session.add(IdempotencyRecord(key_hash=key_hash, fingerprint=fp, created_at=utcnow()))
    except IntegrityError:  # a concurrent request with this key committed first
        record = await session.get(IdempotencyRecord, key_hash, populate_existing=True)
        if record is None:
            raise
        return _unaudited(session, _replay(record, scope, key, fp))
    return None


async def complete(session: AsyncSession, scope: str, key: str, status_code: int, body: dict[str, Any],
                   headers: dict[str, str]) -> None:
    key_hash = _key_hash(scope, key)
    record = await session.get(IdempotencyRecord, key_hash)
    if record is None:  # claim() was not called: a programming error, not the client's
        raise RuntimeError("complete() without claim()")
    record.status_code = status_code
    record.response = _seal(scope, key, key_hash, {"body": body, "headers": headers})
    await session.flush()
