"""公开目录栏目 (catalogue columns) with their update rules, records placed in them, and the 解读 duty (issue 16).

Columns belong to an organ and are managed by admins. A record is in a column when its 体裁 or 主题分类 is one the
column lists, or when it names the column explicitly (Document.column_ids, its organ's columns only). Rule-based
placement is the column's: changing a column's genres moves every matching record at once, nothing to rewrite.

Every change of a column is announced on the outbox (column.created / column.updated, the column with its organ's
code and the day it was created): the statistics service scores freshness (栏目更新) and empty columns without a
备注说明 (空白栏目) from that and the document events, which carry each public record's 体裁, 主题分类 and explicit
columns (domain/events.py).

解读 duty: a 行政规范性文件, or a record flagged `major_policy`, is due a 解读 within
CATALOG_INTERPRETATION_DUE_WORKING_DAYS working days of its publication (working days from the calendar the
publication deadline uses: the request service's announced years, the package otherwise). The deadline is set when
the record is published (workflow.publish and the bulk import) and announced with it.
"""

from datetime import date

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from catalog_service.domain.calendar import (
    ChineseCalendarSource,
    WorkingCalendar,
    add_working_days,
    load_calendar,
    read_generation,
)
from catalog_service.domain.visibility import public_condition, staff_condition
from catalog_service.errors import ColumnNameTaken, ColumnNotFound, InvalidReference, OrganNotFound
from catalog_service.models import CatalogColumn, Document, Organ, outbox
from catalog_service.schemas import ColumnCreate, ColumnRead, ColumnUpdate, InterpretationDutyItem
from services.auth import Principal
from services.concurrency import bump_version, require_if_match
from services.outbox import record_event
from services.pagination import keyset_page

__all__ = ["check_columns", "column_read", "create_column", "get_column", "interpretation_summary",
           "interpretation_worklist", "list_columns", "needs_interpretation", "set_interpretation_due",
           "update_column"]

async def column_read(session: AsyncSession, column: CatalogColumn, organ_code: str | None = None) -> ColumnRead:
    if organ_code is None:
        organ_code = (await session.execute(select(Organ.code).where(Organ.id == column.organ_id))).scalar_one()
    return ColumnRead.model_validate({**{c: getattr(column, c) for c in ColumnRead.model_fields if hasattr(column, c)},
                                      "organ_code": organ_code})


def _announce(session: AsyncSession, column: CatalogColumn, organ_code: str, type_: str) -> None:
    from catalog_service.domain.documents import SHANGHAI

    record_event(session, outbox, type_, entity_type="column", entity_id=column.id, version=column.version, payload={
        "id": column.id, "organ_code": organ_code, "name": column.name, "rule": column.rule, "every": column.every,
        "unit": column.unit, "statutory_date": column.statutory_date, "note": column.note,
        "genres": list(column.genres or []), "subject_categories": list(column.subject_categories or []),
        "created_on": column.created_at.astimezone(SHANGHAI).date().isoformat(), "active": column.active})


async def create_column(session: AsyncSession, data: ColumnCreate) -> ColumnRead:
    organ = (await session.execute(select(Organ).where(Organ.code == data.organ_code))).scalar_one_or_none()
    if organ is None:
        raise OrganNotFound(f"No organ {data.organ_code}.")
    await _name_free(session, organ.id, data.name)
    column = CatalogColumn(organ_id=organ.id, **data.model_dump(exclude={"organ_code"}, mode="json"))
    session.add(column)
    await session.flush()
    _announce(session, column, organ.code, "column.created")
    return await column_read(session, column, organ.code)


async def _name_free(session: AsyncSession, organ_id: str, name: str) -> None:
    """Column names are unique per organ (the constraint backs this check against a concurrent twin)."""
    taken = (await session.execute(select(CatalogColumn.id).where(CatalogColumn.organ_id == organ_id,
                                                                  CatalogColumn.name == name))).first()
    if taken is not None:
        raise ColumnNameTaken(f"The organ already has a column named {name}.")


async def get_column(session: AsyncSession, column_id: str) -> CatalogColumn:
    column = await session.get(CatalogColumn, column_id)
    if column is None:
        raise ColumnNotFound(f"No column {column_id}.")
    return column


async def update_column(session: AsyncSession, column_id: str, data: ColumnUpdate,
                        if_match: str | None) -> ColumnRead:
    from catalog_service.schemas import _rule_shape

    column = await get_column(session, column_id)
    require_if_match(if_match, column.version)
    changes = data.model_dump(exclude_unset=True, mode="json")
    for key in ("name", "rule", "genres", "subject_categories", "active"):
        if key in changes and changes[key] is None:
            raise InvalidReference(f"{key} cannot be removed", errors=[
                {"loc": ["body", key], "msg": "cannot be null", "type": "missing"}])
    merged = {k: changes.get(k, getattr(column, k)) for k in ("rule", "every", "unit", "statutory_date")}
    try:
        _rule_shape(**merged)
    except ValueError as exc:
        raise InvalidReference(str(exc), errors=[{"loc": ["body", "rule"], "msg": str(exc),
                                                  "type": "value_error"}]) from exc
    if changes.get("name") not in (None, column.name):
        await _name_free(session, column.organ_id, changes["name"])
    await bump_version(session, column, column.version)
    for key, value in changes.items():
        setattr(column, key, value)
    await session.flush()
    read = await column_read(session, column)
    _announce(session, column, read.organ_code, "column.updated")
    return read


async def list_columns(session: AsyncSession, organ_code: str | None, cursor: str | None,
                       limit: int) -> tuple[list[ColumnRead], str | None]:
    stmt = select(CatalogColumn)
    if organ_code:
        stmt = stmt.where(CatalogColumn.organ_id.in_(select(Organ.id).where(Organ.code == organ_code)))
    rows, next_cursor = await keyset_page(session, stmt, [(CatalogColumn.created_at, False),
                                                          (CatalogColumn.id, False)], cursor, limit,
                                          key=lambda c: [c.created_at.isoformat(), c.id])
    codes = dict((await session.execute(select(Organ.id, Organ.code).where(
        Organ.id.in_({c.organ_id for c in rows})))).all())
    return [await column_read(session, c, codes[c.organ_id]) for c in rows], next_cursor


async def check_columns(session: AsyncSession, organ: Organ, column_ids: list[str] | None) -> list[str] | None:
    """Explicit placements must name active columns of the record's own organ (422 invalid_reference otherwise,
    whether the id is another organ's or none at all: no existence oracle)."""
    if not column_ids:
        return column_ids
    wanted = list(dict.fromkeys(column_ids))
    found = set((await session.execute(select(CatalogColumn.id).where(
        CatalogColumn.id.in_(wanted), CatalogColumn.organ_id == organ.id,
        CatalogColumn.active.is_(True)))).scalars())
    missing = [c for c in wanted if c not in found]
    if missing:
        raise InvalidReference("Unknown column for this organ: " + ", ".join(missing), errors=[
            {"loc": ["body", "column_ids"], "msg": "not a column of this organ", "type": "invalid_reference"}])
    return wanted


def needs_interpretation(doc: Document) -> bool:
    return doc.genre == "normative_document" or bool(doc.major_policy)


async def set_interpretation_due(session: AsyncSession, doc: Document, working_days: int,
                                 calendar: WorkingCalendar | None = None) -> None:
    """At publication: the 解读 deadline, N working days from the publication day (Beijing)."""
    from catalog_service.domain.documents import SHANGHAI

    if not needs_interpretation(doc) or doc.published_at is None:
        doc.interpretation_due_on = None
        return
    if calendar is None:  # publication paths without the request's calendar (workflow, scheduler)
        calendar = await load_calendar(session, await read_generation(session), ChineseCalendarSource())
    doc.interpretation_due_on = add_working_days(calendar, doc.published_at.astimezone(SHANGHAI).date(),
                                                 working_days).date


def _policy_condition():
    return or_(Document.genre == "normative_document", Document.major_policy.is_(True))


def _interpreted():
    interpretation = aliased(Document)
    return exists(select(interpretation.id).where(interpretation.interpretation_of_id == Document.id,
                                                  interpretation.status == "published",
                                                  interpretation.classified.is_(False)))


async def interpretation_worklist(session: AsyncSession, principal: Principal, today: date, overdue_only: bool,
                                  cursor: str | None, limit: int) -> tuple[list[InterpretationDutyItem], str | None]:
    """The caller's organ's published policies without a public 解读, oldest publication (earliest deadline) first."""
    stmt = select(Document).where(staff_condition(principal), public_condition(), _policy_condition(),
                                  ~_interpreted())
    if overdue_only:
        stmt = stmt.where(Document.interpretation_due_on < today)
    rows, next_cursor = await keyset_page(
        session, stmt, [(Document.published_at, False), (Document.id, False)], cursor, limit,
        key=lambda d: [d.published_at.isoformat(), d.id])
    return [InterpretationDutyItem(
        id=d.id, index_no=d.index_no, title=d.title, genre=d.genre, major_policy=d.major_policy,
        published_at=d.published_at, interpretation_due_on=d.interpretation_due_on, interpreted=False,
        overdue=d.interpretation_due_on is not None and d.interpretation_due_on < today) for d in rows], next_cursor


async def interpretation_summary(session: AsyncSession, principal: Principal, today: date) -> dict[str, int]:
    base = and_(staff_condition(principal), public_condition(), _policy_condition())
    policies, interpreted, overdue = (await session.execute(select(
        func.count(), func.count().filter(_interpreted()),
        func.count().filter(and_(~_interpreted(), Document.interpretation_due_on < today))).where(base))).one()
    return {"policies": policies, "interpreted": interpreted, "overdue": overdue}
