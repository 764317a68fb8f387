"""Webhook subscriptions (推送订阅) of integrating agencies, and the dispatcher that delivers them.

A subscription (role `integration`) names an organ — the token's own or one of its subordinates — and the event types
it wants; it receives the public changes of that organ's records and its subordinates'. Only its owner (the token's
`sub`) sees or changes it: another client gets 404, as for an id that does not exist.

Delivery, in two steps that each commit their effect with their progress:
1. Fan-out: a FeedConsumer ("webhooks") reads the catalogue's own outbox in commit order and, in the transaction that
   moves its cursor, writes one delivery per matching subscription, numbered 1, 2, … per subscription (`seq`).
   The public change types only, and only events of the public history (sync._was_public): a record never
   published never reaches a subscriber.
2. Sending: per subscription, one process at a time (a lease on the row), the oldest pending delivery first; the
   next is not sent before it succeeded or was dead-lettered (in order per subscription). A delivery is marked
   delivered only after the receiver answered 2xx, so a crash in between sends it again (at least once; the
   `webhook-id` is the same, receivers dedupe on it).

The body is built when sent, from the record as the public sees it then — exactly the change feed's rule: a retry
or a replay never carries what has since been withdrawn or classified. A published/updated/repealed event whose
record is no longer public is sent as `document.removed`, a tombstone with the id only, which never says why; a
withdrawal (撤回, or 定密 after publication: the outbox does not tell them apart either) as `document.withdrawn`, also
only the id.

Application status (`application.status_changed`, for partner platforms): the request service's application events,
relayed into this outbox by domain/application_feed.py with a positive list of fields, go through the same fan-out
(scoped by the application's organ subtree) and sender; the body carries the tracking number, organ code, status with
its labels, the statutory due date and the time — never the applicant, the contact or the request.

Failures: exponential backoff with jitter (base·2^(n−1), capped, each delay 50–100 % at random), so retries of many
subscribers do not arrive in lockstep; a delivery still failing CATALOG_WEBHOOK_RETRY_WINDOW_SECONDS (≥ 24 h in
production) after its first attempt is dead-lettered and the next one goes. A subscription whose deliveries have
failed without a success for CATALOG_WEBHOOK_DISABLE_AFTER_SECONDS is disabled with the reason; its deliveries keep
being fanned out and wait, so re-enabling it resumes where it stopped, nothing lost. The subscriber can replay from a
sequence number (every delivery from there is sent again, in order) and retry a dead delivery.
"""

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.config import Settings
from catalog_service.domain import webhook_http
from catalog_service.domain.application_feed import APPLICATION_STATUS_CHANGED
from catalog_service.domain.documents import public_reads
from catalog_service.domain.events import PUBLIC_CHANGE_TYPES
from catalog_service.domain.organs import get_organ_by_code
from catalog_service.domain.sync import _was_public
from catalog_service.domain.visibility import visible_documents
from catalog_service.errors import (
    IntegrationScopeMissing,
    OutsideOrgan,
    WebhookDeliveryNotFound,
    WebhookSubscriptionNotFound,
    WebhookUrlRefused,
)
from catalog_service.models import Document, Organ, WebhookAttempt, WebhookDelivery, WebhookSubscription, outbox
from catalog_service.schemas import (
    WebhookAttemptRead,
    WebhookDeliveryDetail,
    WebhookDeliveryRead,
    WebhookSubscriptionCreate,
    WebhookSubscriptionRead,
    WebhookSubscriptionUpdate,
)
from services.auth import ANONYMOUS, Principal
from services.concurrency import bump_version, require_if_match
from services.db import Database, utcnow
from services.outbox import EventRead, FeedConsumer, record_event
from services.pagination import decode_cursor, encode_cursor, invalid_cursor
from services.vocab import ApplicationStatus

__all__ = ["FANOUT_FEED", "WebhookDispatcher", "create_subscription", "delete_subscription", "get_delivery",
           "get_subscription", "list_deliveries", "list_subscriptions", "read_subscription", "replay",
           "retry_delivery", "rotate_secret", "update_subscription"]

log = logging.getLogger("gongkai.catalog.webhooks")
FANOUT_FEED = "webhooks"


# ---- subscriptions ---------------------------------------------------------------------------------------------

async def _organ_in_scope(session: AsyncSession, principal: Principal, code: str | None) -> Organ:
    """The subscription's organ: the token's, or one of its subordinates (an integration client syncs what its organ
    oversees, no more)."""
    if not principal.organ:
        raise IntegrationScopeMissing("The integration token names no organ (claim `organ`).")
    own = await get_organ_by_code(session, principal.organ)
    if code is None or code == own.code:
        return own
    organ = await get_organ_by_code(session, code)
    if not organ.path.startswith(own.path):
        raise OutsideOrgan("A subscription may cover only the token's organ and its subordinates.")
    return organ


async def _check_url(url: str, settings: Settings) -> None:
    try:
        await webhook_http.check_url(url, settings)
    except webhook_http.UrlRefused as exc:
        raise WebhookUrlRefused(f"The webhook address is refused: {exc}.", errors=[
            {"loc": ["body", "url"], "msg": str(exc), "type": "url_refused"}]) from None


def read_subscription(sub: WebhookSubscription, organ_code: str) -> WebhookSubscriptionRead:
    return WebhookSubscriptionRead.model_validate({
        **{c: getattr(sub, c) for c in WebhookSubscriptionRead.model_fields if hasattr(sub, c)},
        "organ_code": organ_code})


def _event(session: AsyncSession, sub: WebhookSubscription, kind: str, organ_code: str) -> None:
    # For the audit log (it names the entity and version through this event); never the secret, never the URL's
    # query (it may carry the receiver's own token).
    record_event(session, outbox, f"webhook_subscription.{kind}", entity_type="webhook_subscription",
                 entity_id=sub.id, version=sub.version,
                 payload={"organ_code": organ_code, "event_types": list(sub.event_types), "status": sub.status})


async def create_subscription(session: AsyncSession, principal: Principal, data: WebhookSubscriptionCreate,
                              settings: Settings) -> tuple[WebhookSubscription, str, str]:
    """The subscription, its organ code and its secret (shown once). Events already in the outbox are not sent."""
    organ = await _organ_in_scope(session, principal, data.organ_code)
    await _check_url(data.url, settings)
    head = (await session.execute(select(func.max(outbox.events.c.id)))).scalar_one_or_none() or 0
    secret = webhook_http.new_secret()
    sub = WebhookSubscription(owner=principal.sub, organ_id=organ.id, url=data.url, event_types=data.event_types,
                              description=data.description, secret=secret, start_event_id=head)
    session.add(sub)
    await session.flush()
    _event(session, sub, "created", organ.code)
    return sub, organ.code, secret


async def get_subscription(session: AsyncSession, principal: Principal, subscription_id: str,
                           *, for_update: bool = False) -> tuple[WebhookSubscription, str]:
    stmt = (select(WebhookSubscription, Organ.code).join(Organ, Organ.id == WebhookSubscription.organ_id)
            .where(WebhookSubscription.id == subscription_id, WebhookSubscription.owner == principal.sub))
    row = (await session.execute(stmt)).first()
    if row is None:  # someone else's: the same answer as a random id (no existence oracle)
        raise WebhookSubscriptionNotFound("No such webhook subscription.")
    return row[0], row[1]


async def list_subscriptions(session: AsyncSession, principal: Principal
                             ) -> list[tuple[WebhookSubscription, str]]:
    rows = (await session.execute(
        select(WebhookSubscription, Organ.code).join(Organ, Organ.id == WebhookSubscription.organ_id)
        .where(WebhookSubscription.owner == principal.sub).order_by(WebhookSubscription.created_at,
                                                                     WebhookSubscription.id))).all()
    return [(r[0], r[1]) for r in rows]


async def update_subscription(session: AsyncSession, principal: Principal, subscription_id: str,
                              data: WebhookSubscriptionUpdate, if_match: str | None,
                              settings: Settings) -> tuple[WebhookSubscription, str]:
    sub, code = await get_subscription(session, principal, subscription_id)
    require_if_match(if_match, sub.version)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        await _check_url(changes["url"], settings)
    await bump_version(session, sub, sub.version)
    for name in ("url", "event_types", "description"):
        if name in changes and (changes[name] is not None or name == "description"):
            setattr(sub, name, changes[name])
    if changes.get("status") == "active" and sub.status != "active":
        # Re-enabled: the clock of failures starts again; pending deliveries go at once, in order.
        sub.status, sub.disabled_reason, sub.failing_since = "active", None, None
        await session.execute(update(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id,
                                                            WebhookDelivery.status == "pending")
                              .values(next_attempt_at=utcnow()))
    elif changes.get("status") == "disabled":
        sub.status, sub.disabled_reason = "disabled", "disabled by the subscriber"
    sub.updated_at = utcnow()
    await session.flush()
    _event(session, sub, "updated", code)
    return sub, code


async def delete_subscription(session: AsyncSession, principal: Principal, subscription_id: str,
                              if_match: str | None) -> None:
    sub, code = await get_subscription(session, principal, subscription_id)
    require_if_match(if_match, sub.version)
    _event(session, sub, "deleted", code)
    attempts = select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == sub.id)
    await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts)))
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
    await session.delete(sub)
    await session.flush()


async def rotate_secret(session: AsyncSession, principal: Principal, subscription_id: str,
                        settings: Settings) -> tuple[WebhookSubscription, str, str]:
    """A new secret; the current one keeps signing (alongside) for the overlap period, then stops."""
    sub, code = await get_subscription(session, principal, subscription_id)
    await bump_version(session, sub, sub.version)
    secret = webhook_http.new_secret()
    sub.previous_secret, sub.secret = sub.secret, secret
    sub.previous_secret_expires_at = utcnow() + timedelta(seconds=settings.webhook_secret_overlap_seconds)
    sub.updated_at = utcnow()
    await session.flush()
    _event(session, sub, "secret_rotated", code)
    return sub, code, secret


async def replay(session: AsyncSession, principal: Principal, subscription_id: str, from_seq: int) -> int:
    """Every delivery from `from_seq` on is pending again, due now; the sender goes through them in order."""
    sub, _ = await get_subscription(session, principal, subscription_id)
    result = await session.execute(
        update(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id, WebhookDelivery.seq >= from_seq)
        .values(status="pending", attempts=0, first_attempt_at=None, next_attempt_at=utcnow(), delivered_at=None)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


async def _delivery(session: AsyncSession, sub: WebhookSubscription, delivery_id: str) -> WebhookDelivery:
    delivery = (await session.execute(select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == sub.id))).scalar_one_or_none()
    if delivery is None:
        raise WebhookDeliveryNotFound("No such delivery of this subscription.")
    return delivery


async def retry_delivery(session: AsyncSession, principal: Principal, subscription_id: str,
                         delivery_id: str) -> WebhookDelivery:
    """A dead (or pending) delivery is due again now, with a fresh retry window; a delivered one is sent again."""
    sub, _ = await get_subscription(session, principal, subscription_id)
    delivery = await _delivery(session, sub, delivery_id)
    delivery.status, delivery.attempts, delivery.first_attempt_at = "pending", 0, None
    delivery.next_attempt_at, delivery.delivered_at = utcnow(), None
    await session.flush()
    return delivery


def _attempt_read(attempt: WebhookAttempt | None) -> WebhookAttemptRead | None:
    return WebhookAttemptRead.model_validate(attempt) if attempt is not None else None


async def list_deliveries(session: AsyncSession, principal: Principal, subscription_id: str,
                          status: str | None, cursor: str | None, limit: int
                          ) -> tuple[list[WebhookDeliveryRead], str | None]:
    """Newest first (by seq), each with its last attempt (the delivery log at a glance)."""
    sub, _ = await get_subscription(session, principal, subscription_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if cursor:
        (before,) = decode_cursor(cursor, 1)
        if not isinstance(before, int):
            raise invalid_cursor()
        stmt = stmt.where(WebhookDelivery.seq < before)
    rows = (await session.execute(stmt.order_by(WebhookDelivery.seq.desc()).limit(limit + 1))).scalars().all()
    page, more = rows[:limit], len(rows) > limit
    last: dict[str, WebhookAttempt] = {}
    if page:
        newest = (select(WebhookAttempt.delivery_id, func.max(WebhookAttempt.id).label("id"))
                  .where(WebhookAttempt.delivery_id.in_([d.id for d in page]))
                  .group_by(WebhookAttempt.delivery_id).subquery())
        for attempt in (await session.execute(
                select(WebhookAttempt).join(newest, WebhookAttempt.id == newest.c.id))).scalars():
            last[attempt.delivery_id] = attempt
    items = [WebhookDeliveryRead.model_validate({**delivery_fields(d), "last_attempt": _attempt_read(last.get(d.id))})
             for d in page]
    return items, (encode_cursor([page[-1].seq]) if more else None)


def delivery_fields(d: WebhookDelivery) -> dict[str, Any]:
    # An application status delivery keeps the tracking number in `document_id` (the row's subject key).
    application = d.event_type == APPLICATION_STATUS_CHANGED
    return {"id": d.id, "seq": d.seq, "event_type": d.event_type,
            "document_id": None if application else d.document_id,
            "tracking_no": d.document_id if application else None,
            "occurred_at": d.occurred_at, "status": d.status, "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at if d.status == "pending" else None, "delivered_at": d.delivered_at}


async def get_delivery(session: AsyncSession, principal: Principal, subscription_id: str,
                       delivery_id: str) -> WebhookDeliveryDetail:
    sub, _ = await get_subscription(session, principal, subscription_id)
    delivery = await _delivery(session, sub, delivery_id)
    log_rows = (await session.execute(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                                      .order_by(WebhookAttempt.id))).scalars().all()
    attempts = [WebhookAttemptRead.model_validate(a) for a in log_rows]
    return WebhookDeliveryDetail.model_validate({**delivery_fields(delivery), "log": attempts,
                                                 "last_attempt": attempts[-1] if attempts else None})


# ---- fan-out: outbox → deliveries -------------------------------------------------------------------------------

def _wants(sub: WebhookSubscription, event: EventRead) -> bool:
    if event.entity_type == "application":
        return APPLICATION_STATUS_CHANGED in sub.event_types
    return event.type in sub.event_types or (
        "document.removed" in sub.event_types and event.type != "document.withdrawn")


async def fan_out(session: AsyncSession, events: list[EventRead]) -> None:
    """One delivery per matching subscription, numbered per subscription; runs in the consumer's transaction.

    Documents: the public change types of the public history. Applications: the relayed status changes
    (domain/application_feed.py), scoped like documents by the organ subtree, and only those that happened after
    the subscription was created (the relay may still be catching up on older history)."""
    relevant = [e for e in events if (e.entity_type == "document" and e.type in PUBLIC_CHANGE_TYPES
                                      and _was_public(e.type, e.payload or {}))
                or (e.entity_type == "application" and e.type == APPLICATION_STATUS_CHANGED)]
    if not relevant:
        return
    subs = (await session.execute(
        select(WebhookSubscription, Organ.path).join(Organ, Organ.id == WebhookSubscription.organ_id)
        .order_by(WebhookSubscription.id))).all()
    if not subs:
        return
    doc_ids = {e.entity_id for e in relevant if e.entity_type == "document"}
    paths = dict((await session.execute(
        select(Document.id, Organ.path).join(Organ, Organ.id == Document.organ_id)
        .where(Document.id.in_(doc_ids)))).all()) if doc_ids else {}
    organ_codes = {(e.payload or {}).get("organ_code") for e in relevant if e.entity_type == "application"} - {None}
    organ_paths = dict((await session.execute(
        select(Organ.code, Organ.path).where(Organ.code.in_(organ_codes)))).all()) if organ_codes else {}
    rows: list[dict[str, Any]] = []
    for sub, organ_path in subs:
        seq = sub.last_seq
        for event in relevant:
            if event.entity_type == "application":
                path = organ_paths.get((event.payload or {}).get("organ_code"))
                if event.occurred_at < sub.created_at:
                    continue
            else:
                path = paths.get(event.entity_id)
            if event.id <= sub.start_event_id or path is None or not path.startswith(organ_path):
                continue
            if not _wants(sub, event):
                continue
            seq += 1
            rows.append({"id": str(uuid.uuid4()), "subscription_id": sub.id, "seq": seq, "event_id": event.id,
                         "event_type": event.type, "document_id": event.entity_id, "occurred_at": event.occurred_at,
                         "status": "pending", "attempts": 0, "next_attempt_at": utcnow(), "created_at": utcnow()})
        if seq != sub.last_seq:
            await session.execute(update(WebhookSubscription).where(WebhookSubscription.id == sub.id)
                                  .values(last_seq=seq).execution_options(synchronize_session=False))
    if rows:
        await session.execute(insert(WebhookDelivery), rows)


# ---- sending ------------------------------------------------------------------------------------------------------

@dataclass
class _Due:
    delivery: WebhookDelivery
    url: str
    secrets: list[str]
    event_types: list[str]


def backoff(settings: Settings, attempts: int, rng: random.Random) -> float:
    """Seconds before the next attempt after `attempts` failures: base·2^(n−1), capped, jittered to 50–100 %."""
    delay = min(settings.webhook_retry_max_seconds, settings.webhook_retry_base_seconds * 2 ** max(attempts - 1, 0))
    return delay * (0.5 + rng.random() / 2)


def _delivered_type(event_type: str, public_now: bool) -> str:
    if public_now:
        # A record withdrawn and public again: its withdrawal event now announces it as published.
        return "document.published" if event_type == "document.withdrawn" else event_type
    return "document.withdrawn" if event_type == "document.withdrawn" else "document.removed"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _application_body(session: AsyncSession, delivery: WebhookDelivery) -> dict[str, Any]:
    """An application status delivery: built from a positive list of the relayed event's fields, so nothing the
    relay did not pick (and nothing personal) can reach a partner platform, whatever the stored payload holds."""
    payload = (await session.execute(select(outbox.events.c.payload).where(outbox.events.c.id == delivery.event_id))
               ).scalar_one()
    status = ApplicationStatus(payload["status"])
    return {"type": APPLICATION_STATUS_CHANGED, "timestamp": _timestamp(delivery.occurred_at),
            "data": {"subscription_id": delivery.subscription_id, "seq": delivery.seq,
                     "tracking_no": payload["tracking_no"], "organ_code": payload["organ_code"],
                     "status": {"code": status.value, "zh": status.zh, "en": status.en},
                     "due_on": payload.get("due_on")}}


async def build_body(session: AsyncSession, delivery: WebhookDelivery) -> tuple[str, bytes]:
    """The delivered type and the JSON body, from the record as the public sees it now (the change feed's rule)."""
    if delivery.event_type == APPLICATION_STATUS_CHANGED:
        body = await _application_body(session, delivery)
        return body["type"], json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    docs = (await session.execute(visible_documents(ANONYMOUS).where(Document.id == delivery.document_id))
            ).scalars().all()
    views = await public_reads(session, docs) if docs else []
    type_ = _delivered_type(delivery.event_type, bool(views))
    data: dict[str, Any] = {"subscription_id": delivery.subscription_id, "seq": delivery.seq,
                            "document_id": delivery.document_id,
                            "change": "upsert" if views else "tombstone",
                            "record": views[0].model_dump(mode="json") if views else None}
    body = {"type": type_, "timestamp": _timestamp(delivery.occurred_at), "data": data}
    return type_, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookDispatcher:
    """Fan-out consumer plus sender, for one process. `run(stop)` in the lifespan; tests call `run_once()`."""

    def __init__(self, database: Database, settings: Settings, *,
                 transport: httpx.AsyncBaseTransport | None = None, rng: random.Random | None = None) -> None:
        self.database, self.settings, self.transport = database, settings, transport
        self.rng = rng or random.Random()
        self.name = f"dispatcher-{uuid.uuid4().hex[:12]}"
        self.fanout = FeedConsumer(FANOUT_FEED, database, outbox, self._fetch, fan_out, batch_size=500)

    async def _fetch(self, after: int, limit: int) -> list[EventRead]:
        async with self.database.session(write=False) as session:
            rows = (await session.execute(select(outbox.events).where(outbox.events.c.id > after)
                                          .order_by(outbox.events.c.id).limit(limit))).mappings().all()
        return [EventRead.model_validate(dict(r)) for r in rows]

    async def run_once(self) -> int:
        """Fan out everything new, then send what is due; returns how many deliveries were attempted."""
        await self.fanout.drain()
        return await self.send_due()

    async def send_due(self) -> int:
        now = utcnow()
        async with self.database.session(write=False) as session:
            ids = (await session.execute(
                select(WebhookSubscription.id).where(
                    WebhookSubscription.status == "active",
                    or_(WebhookSubscription.lease_until.is_(None), WebhookSubscription.lease_until < now),
                    select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == WebhookSubscription.id,
                                                     WebhookDelivery.status == "pending",
                                                     WebhookDelivery.next_attempt_at <= now).exists())
            )).scalars().all()
        limit = asyncio.Semaphore(max(self.settings.webhook_concurrency, 1))

        async def one(sub_id: str) -> int:
            async with limit:
                return await self._serve(sub_id)

        return sum(await asyncio.gather(*(one(i) for i in ids)))

    async def _claim(self, sub_id: str) -> bool:
        now = utcnow()
        async with self.database.transaction() as session:
            result = await session.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id == sub_id, WebhookSubscription.status == "active",
                       or_(WebhookSubscription.lease_until.is_(None), WebhookSubscription.lease_until < now,
                           WebhookSubscription.lease_owner == self.name))
                .values(lease_owner=self.name,
                        lease_until=now + timedelta(seconds=self.settings.webhook_lease_seconds))
                .execution_options(synchronize_session=False))
            return bool(result.rowcount)

    async def _release(self, sub_id: str) -> None:
        async with self.database.transaction() as session:
            await session.execute(update(WebhookSubscription).where(WebhookSubscription.id == sub_id,
                                                                    WebhookSubscription.lease_owner == self.name)
                                  .values(lease_owner=None, lease_until=None)
                                  .execution_options(synchronize_session=False))

    async def _next(self, sub_id: str) -> tuple[_Due, str, bytes] | None:
        now = utcnow()
        async with self.database.session(write=False) as session:
            sub = (await session.execute(select(WebhookSubscription).where(WebhookSubscription.id == sub_id))
                   ).scalar_one_or_none()
            if sub is None or sub.status != "active":
                return None
            delivery = (await session.execute(
                select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id,
                                              WebhookDelivery.status == "pending")
                .order_by(WebhookDelivery.seq).limit(1))).scalar_one_or_none()
            if delivery is None or delivery.next_attempt_at > now:
                return None  # in order: a later delivery never overtakes one waiting for its retry
            secrets = [sub.secret]
            if sub.previous_secret and sub.previous_secret_expires_at and sub.previous_secret_expires_at > now:
                secrets.append(sub.previous_secret)
            type_, body = await build_body(session, delivery)
            return _Due(delivery, sub.url, secrets, list(sub.event_types)), type_, body

    async def _serve(self, sub_id: str) -> int:
        """Send this subscription's due deliveries in order until one fails or none is due."""
        if not await self._claim(sub_id):
            return 0  # another process holds it
        sent = 0
        try:
            while True:
                nxt = await self._next(sub_id)
                if nxt is None:
                    return sent
                due, type_, body = nxt
                if type_ not in due.event_types:  # e.g. a publication now a tombstone, and removals not wanted
                    await self._record(sub_id, due.delivery.id, None)
                    continue
                timestamp = int(datetime.now(UTC).timestamp())
                headers = {"webhook-id": due.delivery.id, "webhook-timestamp": str(timestamp),
                           "webhook-signature": " ".join(webhook_http.sign(s, due.delivery.id, timestamp, body)
                                                         for s in due.secrets)}
                outcome = await webhook_http.post(due.url, headers, body, self.settings, self.transport)
                sent += 1
                await self._record(sub_id, due.delivery.id, outcome)
                if not outcome.ok:
                    return sent
                if not await self._claim(sub_id):  # renew the lease; lost it (took too long): stop here
                    return sent
        finally:
            await self._release(sub_id)

    async def _record(self, sub_id: str, delivery_id: str, outcome: webhook_http.Outcome | None) -> None:
        """The attempt's effect and its log row in one transaction; `outcome` None: skipped, nothing sent."""
        now = utcnow()
        async with self.database.transaction() as session:
            delivery = (await session.execute(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id))
                        ).scalar_one()
            if outcome is None:
                delivery.status = "skipped"
                return
            sub = (await session.execute(select(WebhookSubscription).where(WebhookSubscription.id == sub_id))
                   ).scalar_one()
            session.add(WebhookAttempt(delivery_id=delivery_id, attempted_at=now, status_code=outcome.status_code,
                                       ok=outcome.ok, latency_ms=outcome.latency_ms,
                                       error=(outcome.error or None) and outcome.error[:300],
                                       response_excerpt=outcome.excerpt))
            delivery.attempts += 1
            delivery.first_attempt_at = delivery.first_attempt_at or now
            if outcome.ok:
                delivery.status, delivery.delivered_at = "delivered", now
                sub.failing_since = None
                return
            window = timedelta(seconds=self.settings.webhook_retry_window_seconds)
            if now - delivery.first_attempt_at >= window:
                delivery.status = "dead"  # dead-letter; the subscriber can retry it
                log.warning("webhook delivery %s dead after %d attempts", delivery_id, delivery.attempts)
            else:
                delivery.next_attempt_at = now + timedelta(seconds=backoff(self.settings, delivery.attempts,
                                                                           self.rng))
            sub.failing_since = sub.failing_since or now
            if now - sub.failing_since >= timedelta(seconds=self.settings.webhook_disable_after_seconds):
                sub.status = "disabled"
                sub.disabled_reason = (f"deliveries failing since {sub.failing_since.isoformat()}; "
                                       f"last: {outcome.error or 'failed'}")[:500]
                log.warning("webhook subscription %s disabled: %s", sub_id, sub.disabled_reason)

    async def run(self, stop: asyncio.Event, *, idle_seconds: float | None = None) -> None:
        idle = self.settings.webhook_interval_seconds if idle_seconds is None else idle_seconds
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:  # the database briefly away: log, wait, go on
                log.warning("webhook dispatcher round failed", exc_info=True)
                busy = 0
            if not busy:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle)
                except TimeoutError:
                    pass


def subscriptions_reads(rows: Sequence[tuple[WebhookSubscription, str]]) -> list[WebhookSubscriptionRead]:
    return [read_subscription(sub, code) for sub, code in rows]
