"""Application events on the outbox, carrying what the statistics need (and nothing personal): organ, applicant
type, channel, receipt and closing dates, outcome, fees, appeals — and the tracking number (申请编号) for the
catalogue's application status webhooks. Each event carries the whole statistical projection of the application, so
a consumer upserts it by id and version (order and replays cannot skew it)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain.applications import SHANGHAI, is_unsaved
from request_service.models import Appeal, Application, ProactiveTask, outbox
from services.outbox import record_event

__all__ = ["emit_application_event", "emit_proactive_task_event", "stats_projection"]


async def stats_projection(session: AsyncSession, app: Application) -> dict:
    appeals = [] if is_unsaved(app) else (await session.execute(  # a new application has no appeals
        select(Appeal).where(Appeal.application_id == app.id).order_by(Appeal.filed_on, Appeal.id))).scalars().all()
    return {
        # 申请编号: not personal (the status look-up also wants the 查询码); the catalogue's application status
        # webhooks identify the application to partner platforms by it (catalog_service/domain/application_feed.py).
        "tracking_no": app.tracking_no,
        "organ_code": app.organ_code, "applicant_type": app.applicant_type, "channel": app.channel,
        "status": app.status, "receipt_date": app.receipt_date.isoformat() if app.receipt_date else None,
        # The calendar day in Beijing (Asia/Shanghai): an application sent at 01:00 on 1 January belongs to the new
        # year's report, although it is still 31 December in UTC.
        "submitted_on": app.submitted_at.astimezone(SHANGHAI).date().isoformat() if app.submitted_at else None,
        "closed_on": app.closed_on.isoformat() if app.closed_on else None, "outcome": app.outcome,
        "due_on": app.due_on.isoformat() if app.due_on else None,
        "fee_method": app.fee_method, "fee_amount": str(app.fee_amount) if app.fee_amount is not None else None,
        "fee_noticed_on": app.fee_noticed_on.isoformat() if app.fee_noticed_on else None,
        "fee_paid_amount": str(app.fee_paid_amount) if app.fee_paid_amount is not None else None,
        "fee_paid_on": app.fee_paid_on.isoformat() if app.fee_paid_on else None, "fee_waived": app.fee_waived,
        # Breaches recorded on the application (legal-rules §1.13: allowed, but recorded and counted), without
        # their labels — a consumer has the vocabulary. Consumers that do not know the key ignore it (stats ingest
        # reads the keys it needs).
        "breaches": [{"code": b["code"], "article": b["article"], "on": b["on"], "due_on": b.get("due_on")}
                     for b in app.breaches or []],
        # 依申请转主动 (条例第四十四条): the digest of the requested information's 名称 and 文号 (domain/proactive.py;
        # nothing about the applicant), so the statistics match a grant with the organ's task for that information.
        "info_key": app.info_key,
        "appeals": [{"id": a.id, "kind": a.kind, "outcome": a.outcome, "filed_on": a.filed_on.isoformat(),
                     "decided_on": a.decided_on.isoformat() if a.decided_on else None} for a in appeals],
    }


async def emit_application_event(session: AsyncSession, app: Application, type_: str) -> None:
    record_event(session, outbox, type_, entity_type="application", entity_id=app.id, version=app.version,
                 payload=await stats_projection(session, app))


def emit_proactive_task_event(session: AsyncSession, task: ProactiveTask) -> None:
    """依申请转主动 tasks on the feed (opened; closed as published with the catalogue record, or declined): the
    statistics score the share of granted replies later published proactively. No applicant data, no title."""
    record_event(session, outbox, f"proactive_task.{'opened' if task.status == 'open' else 'closed'}",
                 entity_type="proactive_task", entity_id=task.id, version=task.version, payload={
                     "organ_code": task.organ_code, "info_key": task.info_key, "status": task.status,
                     "document_id": task.document_id, "opened_on": task.opened_on.isoformat(),
                     "due_on": task.due_on.isoformat(),
                     "closed_on": task.closed_on.isoformat() if task.closed_on else None})
