"""依申请转主动 (条例第四十四条; issue 16 item 5): several applicants asked one organ for the same information and it
is disclosable → the organ considers publishing it proactively.

Same information: an exact match of `info_key`, a digest of the requested 名称 (info_title) and 文号 folded the way
repeat detection folds text (NFKC, lower case, letters and digits only: "《关于X的通知》" and "关于Ｘ的通知" match; a
reworded title does not — deliberate, a task should never open on a guess). The description is left out: applicants
describe the same document in their own words.

A task opens (once per organ and information) when at least REQUEST_PROACTIVE_THRESHOLD (3) *different applicants*
(applicant_key) asked for the information and one of the applications was granted (予以公开 or 部分公开). It is
checked whenever a reply is signed off, whatever its outcome — a grant, or the reply to a later applicant for
information granted before — so a task opens at the latest when the applicant who makes the count is answered. Not at
intake: intake reads once and writes once per table (tests/request_service/test_intake.py), and an application not
yet answered may still turn out not to ask for the same thing. It is due REQUEST_PROACTIVE_DUE_WORKING_DAYS working
days later. It closes with the catalogue record that publishes the
information (status published) or a reason (declined).

The disclosure log lists granted applications with the information and the outcome only — no applicant field, no
tracking number (architecture.md: personal data never leaves in a testable form).
"""

import hashlib
import unicodedata
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.config import Settings
from request_service.domain.events import emit_proactive_task_event
from request_service.errors import InvalidTransition, ProactiveTaskNotFound
from request_service.models import Application, ProactiveTask
from request_service.schemas import DisclosureLogItem, ProactiveTaskClose, ProactiveTaskRead, labelled, term
from request_service.vocab import Outcome, ProactiveTaskStatus
from services.auth import Principal
from services.concurrency import bump_version, require_if_match
from services.pagination import keyset_page

__all__ = ["GRANTED", "close_task", "consider", "disclosure_log", "info_key", "summary", "task_read", "tasks"]

GRANTED = ("granted", "partially_granted")


def _fold(text: str | None) -> str:
    folded = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in folded if ch.isalnum())


def info_key(title: str | None, doc_number: str | None) -> str:
    return hashlib.sha256(f"{_fold(title)}|{_fold(doc_number)}".encode()).hexdigest()


async def consider(session: AsyncSession, app: Application, settings: Settings, calendar, day: date) -> None:
    """Open the task for `app`'s information if the rule now holds (module docstring); nothing if it exists."""
    if not app.info_key:
        return
    same = and_(Application.organ_code == app.organ_code, Application.info_key == app.info_key)
    if (await session.execute(select(ProactiveTask.id).where(ProactiveTask.organ_code == app.organ_code,
                                                             ProactiveTask.info_key == app.info_key))).first():
        return
    applicants, granted = (await session.execute(select(
        func.count(func.distinct(Application.applicant_key)),
        func.min(Application.id).filter(Application.status == "replied", Application.outcome.in_(GRANTED)))
        .where(same))).one()
    if applicants < settings.proactive_threshold or granted is None:
        return
    first = app if app.status == "replied" and app.outcome in GRANTED else await session.get(Application, granted)
    assert first is not None
    due_on = calendar.add_working_days(day, settings.proactive_due_working_days)[0]
    task = ProactiveTask(organ_code=app.organ_code, info_key=app.info_key, info_title=first.info_title,
                         info_doc_number=first.info_doc_number, granted_application_id=first.id,
                         opened_on=day, due_on=due_on, status="open", version=1)
    session.add(task)
    await session.flush()
    emit_proactive_task_event(session, task)


async def _counts(session: AsyncSession, organ_code: str, keys: list[str]) -> dict[str, tuple[int, int]]:
    rows = await session.execute(select(Application.info_key, func.count(),
                                        func.count(func.distinct(Application.applicant_key)))
                                 .where(Application.organ_code == organ_code, Application.info_key.in_(keys))
                                 .group_by(Application.info_key))
    return {k: (n, m) for k, n, m in rows}


def _read(task: ProactiveTask, counts: tuple[int, int], today: date) -> ProactiveTaskRead:
    return ProactiveTaskRead(
        id=task.id, organ_code=task.organ_code, info_title=task.info_title, info_doc_number=task.info_doc_number,
        applications=counts[0], applicants=counts[1], granted_application_id=task.granted_application_id,
        opened_on=task.opened_on, due_on=task.due_on, overdue=task.status == "open" and task.due_on < today,
        status=task.status, status_label=term(ProactiveTaskStatus(task.status)), document_id=task.document_id,
        reason=task.reason, closed_on=task.closed_on, closed_by=task.closed_by, version=task.version)


async def task_read(session: AsyncSession, task: ProactiveTask, today: date) -> ProactiveTaskRead:
    counts = await _counts(session, task.organ_code, [task.info_key])
    return _read(task, counts.get(task.info_key, (0, 0)), today)


async def tasks(session: AsyncSession, principal: Principal, today: date, status: str, overdue_only: bool,
                cursor: str | None, limit: int) -> tuple[list[ProactiveTaskRead], str | None]:
    """The caller's organ's tasks in `status` (open by default), earliest due first."""
    stmt = select(ProactiveTask).where(ProactiveTask.organ_code == principal.organ, ProactiveTask.status == status)
    if overdue_only:
        stmt = stmt.where(ProactiveTask.status == "open", ProactiveTask.due_on < today)
    rows, next_cursor = await keyset_page(session, stmt, [(ProactiveTask.due_on, False), (ProactiveTask.id, False)],
                                          cursor, limit, key=lambda t: [t.due_on.isoformat(), t.id])
    counts = await _counts(session, principal.organ or "", [t.info_key for t in rows])
    return [_read(t, counts.get(t.info_key, (0, 0)), today) for t in rows], next_cursor


async def get_task(session: AsyncSession, principal: Principal, task_id: str) -> ProactiveTask:
    task = await session.get(ProactiveTask, task_id)
    if task is None or task.organ_code != principal.organ:  # another organ's task is as absent as none
        raise ProactiveTaskNotFound(f"No proactive-disclosure task {task_id}.")
    return task


async def close_task(session: AsyncSession, principal: Principal, task_id: str, body: ProactiveTaskClose,
                     if_match: str | None, today: date) -> ProactiveTaskRead:
    task = await get_task(session, principal, task_id)
    require_if_match(if_match, task.version)
    if task.status != "open":
        raise InvalidTransition(f"The task is already {task.status}.")
    await bump_version(session, task, task.version)
    task.status = "published" if body.document_id else "declined"
    task.document_id, task.reason = body.document_id, body.reason
    task.closed_on, task.closed_by = today, principal.sub
    await session.flush()
    emit_proactive_task_event(session, task)
    return await task_read(session, task, today)


def _published_tasks():
    return select(ProactiveTask.organ_code, ProactiveTask.info_key, ProactiveTask.document_id).where(
        ProactiveTask.status == "published").subquery()


async def disclosure_log(session: AsyncSession, principal: Principal, cursor: str | None,
                         limit: int) -> tuple[list[DisclosureLogItem], str | None]:
    """公开记录: the organ's granted applications, newest grant first, de-identified (module docstring)."""
    stmt = select(Application).where(Application.organ_code == principal.organ, Application.status == "replied",
                                     Application.outcome.in_(GRANTED))
    rows, next_cursor = await keyset_page(session, stmt, [(Application.closed_on, True), (Application.id, True)],
                                          cursor, limit, key=lambda a: [a.closed_on.isoformat(), a.id])
    keys = [a.info_key for a in rows if a.info_key]
    counts = await _counts(session, principal.organ or "", keys)
    published = dict((await session.execute(select(ProactiveTask.info_key, ProactiveTask.document_id).where(
        ProactiveTask.organ_code == principal.organ, ProactiveTask.status == "published",
        ProactiveTask.info_key.in_(keys)))).all())
    return [DisclosureLogItem.model_validate(labelled({
        "id": a.id, "organ_code": a.organ_code, "info_title": a.info_title, "info_doc_number": a.info_doc_number,
        "outcome": a.outcome, "granted_on": a.closed_on, "same_requests": counts.get(a.info_key, (1, 1))[0],
        "published_document_id": published.get(a.info_key)}, outcome=Outcome)) for a in rows], next_cursor


async def summary(session: AsyncSession, principal: Principal, year: int, today: date) -> dict:
    """The share of the year's granted applications whose information was later published proactively."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    published = _published_tasks()
    granted, later = (await session.execute(
        select(func.count(), func.count(published.c.document_id))
        .select_from(Application)
        .outerjoin(published, and_(published.c.organ_code == Application.organ_code,
                                   published.c.info_key == Application.info_key))
        .where(Application.organ_code == principal.organ, Application.status == "replied",
               Application.outcome.in_(GRANTED), Application.closed_on.between(start, end)))).one()
    open_tasks, overdue = (await session.execute(select(
        func.count(), func.count().filter(ProactiveTask.due_on < today)).where(
        ProactiveTask.organ_code == principal.organ, ProactiveTask.status == "open"))).one()
    return {"organ_code": principal.organ, "year": year, "granted": granted, "published_later": later,
            "share": round(later / granted, 4) if granted else None, "open_tasks": open_tasks,
            "overdue_tasks": overdue}


