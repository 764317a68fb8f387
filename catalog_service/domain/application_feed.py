"""Application status for partner platforms (申请办理状态推送): the request service's application events, relayed
into the catalogue's own outbox as `application.status_changed`, so the webhook dispatcher (domain/webhooks.py)
fans them out like the catalogue's own changes — one sequence, one order, one retry/replay/dead-letter machinery per
subscription.

A partner platform (a provincial 12345 hotline, an 一网通办 portal that forwarded an application) needs to know that
an application moved on, not who filed it. The relay therefore copies a positive list of fields only
(`RELAYED_FIELDS`: tracking number, organ, status, statutory due date) and the event's time; whatever else the request
service's events carry now or later (applicant type, channel, outcome, fees, appeals …) never enters the catalogue.
The request service's events carry no name, contact, identity number, address or request text to begin with
(request_service/domain/events.py); the positive list keeps it so if that ever changes.

Which events: the application's lifecycle events that can move its status or its due date (`STATUS_EVENTS`); the
relay drops an event that repeats the status and due date of the previous one relayed for the same application in the
same batch. Events from before the request service put the tracking number on its events are skipped (a partner
cannot match them to anything). The relay runs as the "request-applications" consumer of the request service's feed,
its effects and its cursor in one transaction (services/outbox.FeedConsumer), so a crash never relays twice.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.models import outbox
from services.outbox import EventRead, record_event
from services.vocab import ApplicationStatus

__all__ = ["APPLICATION_FEED", "APPLICATION_STATUS_CHANGED", "RELAYED_FIELDS", "STATUS_EVENTS",
           "relay_application_events"]

APPLICATION_FEED = "request-applications"
APPLICATION_STATUS_CHANGED = "application.status_changed"

# What a partner platform may see of an application, and nothing else.
RELAYED_FIELDS = ("tracking_no", "organ_code", "status", "due_on")

# The request service's events that can change an application's status or its statutory due date (intake, the
# handling actions of request_service/domain/handling.RULES that do, the deadline recomputations and the deemed
# closures). Not: assign, explanations, delivery records, appeals — they change neither.
STATUS_EVENTS = frozenset({
    "application.received", "application.accepted", "application.confirm", "application.request_supplement",
    "application.receive_supplement", "application.close_unsupplemented", "application.accept_late_supplement",
    "application.consult", "application.record_opinion", "application.extend", "application.defer",
    "application.notify_fee", "application.record_payment", "application.waive_fee", "application.close_unpaid",
    "application.draft_reply", "application.return_reply", "application.approve_reply", "application.closed",
    "application.consultation_expired", "application.deadline_changed",
})

_STATUSES = frozenset(s.value for s in ApplicationStatus)


def relayed_payload(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The allowed fields of a request-service event, or None when it cannot be relayed (no tracking number, an
    unknown status)."""
    picked = {name: payload.get(name) for name in RELAYED_FIELDS}
    if not picked["tracking_no"] or not picked["organ_code"] or picked["status"] not in _STATUSES:
        return None
    return picked


async def relay_application_events(session: AsyncSession, events: list[EventRead]) -> None:
    """The consumer's batch: each status-changing application event as one `application.status_changed` event on
    the catalogue's outbox, at its original time, keyed by the tracking number (the request service's internal id
    stays there)."""
    last: dict[str, tuple[Any, Any]] = {}
    for event in events:
        if event.entity_type != "application" or event.type not in STATUS_EVENTS:
            continue
        payload = relayed_payload(event.payload or {})
        if payload is None:
            continue
        state = (payload["status"], payload["due_on"])
        if last.get(payload["tracking_no"]) == state:
            continue
        last[payload["tracking_no"]] = state
        record_event(session, outbox, APPLICATION_STATUS_CHANGED, entity_type="application",
                     entity_id=payload["tracking_no"], version=event.version, payload=payload,
                     occurred_at=event.occurred_at)
