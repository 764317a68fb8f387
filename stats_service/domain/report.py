"""The annual report (政府信息公开工作年度报告, 2021 format, 国办公开办函〔2021〕30号) as the JSON contract
of annual-report-contract.md, built from the ingested facts and counters; plus the drill-down behind each cell."""

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import NotFound, UnprocessableEntity
from services.pagination import decode_cursor, encode_cursor, invalid_cursor
from stats_service.models import (
    AppealFact,
    ApplicationFact,
    ConsultationFact,
    DocumentFact,
    EnteredFigure,
    OrganFact,
    ReportCounter,
)

__all__ = ["APPLICANT_COLUMNS", "RESULT_ROWS", "ROWS", "build_report", "drill_down", "organ_scope"]

APPLICANT_COLUMNS = ["natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
                     "legal_service_org", "other_org"]
COLUMNS = [*APPLICANT_COLUMNS, "total"]
RESULT_ROWS = [
    "granted", "partially_granted", "withheld.state_secret", "withheld.prohibited_by_law",
    "withheld.endangers_security_stability", "withheld.third_party_rights", "withheld.internal_affairs",
    "withheld.process_information", "withheld.enforcement_case_file", "withheld.administrative_query",
    "unable.not_held", "unable.needs_creation", "unable.still_unclear_after_supplement",
    "not_processed.petition_complaint", "not_processed.repeat_application", "not_processed.publication_requested",
    "not_processed.excessive_volume", "not_processed.confirmation_requested", "other.no_supplement",
    "other.fee_unpaid", "other.other",
]
ROWS = ["new_received", "carried_over", *RESULT_ROWS, "results_total", "carried_forward"]
APPEAL_KINDS = ["reconsideration", "litigation_direct", "litigation_after_reconsideration"]
APPEAL_OUTCOMES = ["upheld", "corrected", "other", "pending"]
ENTERED_DECISIONS = {"administrative_licensing": "administrative_licensing",
                     "administrative_penalty": "administrative_penalty",
                     "administrative_coercion": "administrative_coercion"}
NARRATIVE_KEYS = ["overview", "problems_and_improvements", "other_matters"]
GENRES = {"regulations": "regulation", "normative_documents": "normative_document"}


class OrganUnknown(NotFound):
    code = "organ_not_found"


class UnknownCell(NotFound):
    code = "cell_not_found"


async def organ_scope(session: AsyncSession, organ_code: str, include_subordinates: bool) -> list[str]:
    """The organ, or the organ and all its subordinates in the *current* hierarchy.

    机构改革 (an organ re-parented in the catalogue, ingest._apply_organs): roll-ups follow the current hierarchy
    for every year, past years included — figures are kept per organ, so a moved organ's applications and documents
    count under its new superior from the move on, whatever their dates. The historical record is the published
    report: its figures are a frozen snapshot (signoff), and the cells a move changes are listed as discrepancies.
    A single organ's own report never depends on the hierarchy."""
    organ = await session.get(OrganFact, organ_code)
    if organ is None:
        raise OrganUnknown(f"Organ {organ_code} is not known to the statistics service.")
    if not include_subordinates:
        return [organ_code]
    return list((await session.execute(select(OrganFact.code).where(OrganFact.path.startswith(organ.path))
                                       )).scalars())


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def _empty_row() -> dict[str, int]:
    return dict.fromkeys(COLUMNS, 0)


async def _section3(session: AsyncSession, organs: list[str], year: int) -> dict[str, dict[str, int]]:
    counts = (await session.execute(
        select(ReportCounter.year, ReportCounter.row, ReportCounter.column, func.sum(ReportCounter.count))
        .where(ReportCounter.organ_code.in_(organs), ReportCounter.year <= year)
        .group_by(ReportCounter.year, ReportCounter.row, ReportCounter.column))).all()
    rows: dict[str, dict[str, int]] = {r: _empty_row() for r in ROWS}
    before_received, before_closed = defaultdict(int), defaultdict(int)
    for y, row, column, n in counts:
        n = int(n or 0)
        if y == year:
            if row in rows:
                rows[row][column] += n
        elif row == "new_received":
            before_received[column] += n
        else:
            before_closed[column] += n
    for column in APPLICANT_COLUMNS:
        rows["carried_over"][column] = before_received[column] - before_closed[column]
        rows["results_total"][column] = sum(rows[r][column] for r in RESULT_ROWS)
        rows["carried_forward"][column] = (rows["new_received"][column] + rows["carried_over"][column]
                                           - rows["results_total"][column])
    for row in rows.values():
        row["total"] = sum(row[c] for c in APPLICANT_COLUMNS)
    return rows


async def _section2(session: AsyncSession, organs: list[str], year: int) -> dict[str, Any]:
    start, end = _year_bounds(year)
    section: dict[str, Any] = {}
    for key, genre in GENRES.items():
        base = and_(DocumentFact.public.is_(True), DocumentFact.organ_code.in_(organs), DocumentFact.genre == genre)
        issued = (await session.execute(select(func.count()).where(
            base, DocumentFact.written_date.between(start, end)))).scalar_one()
        repealed = (await session.execute(select(func.count()).where(
            base, DocumentFact.repeal_date.between(start, end)))).scalar_one()
        in_force = (await session.execute(select(func.count()).where(
            base, DocumentFact.written_date <= end, DocumentFact.validity != "expired",
            or_(DocumentFact.repeal_date.is_(None), DocumentFact.repeal_date > end)))).scalar_one()
        section[key] = {"issued": issued, "repealed": repealed, "in_force": in_force}
    entered = await _entered(session, organs, year)
    for key in ENTERED_DECISIONS:
        section[key] = {"decisions": sum(int(v) for v in entered.get(key, []))}
    fees = sum((Decimal(v) for v in entered.get("administrative_fees_10k_yuan", [])), Decimal("0"))
    section["administrative_fees"] = {"amount_10k_yuan": f"{fees:.2f}"}
    return section


async def _entered(session: AsyncSession, organs: list[str], year: int) -> dict[str, list[str]]:
    values: dict[str, list[str]] = defaultdict(list)
    for key, value in (await session.execute(select(EnteredFigure.key, EnteredFigure.value).where(
            EnteredFigure.organ_code.in_(organs), EnteredFigure.year == year))).all():
        values[key].append(value)
    return values


async def _section4(session: AsyncSession, organs: list[str], year: int) -> dict[str, dict[str, int]]:
    start, end = _year_bounds(year)
    decided = (await session.execute(
        select(AppealFact.kind, AppealFact.outcome, func.count()).where(
            AppealFact.organ_code.in_(organs), AppealFact.decided_on.between(start, end),
            AppealFact.outcome != "pending").group_by(AppealFact.kind, AppealFact.outcome))).all()
    pending = (await session.execute(
        select(AppealFact.kind, func.count()).where(
            AppealFact.organ_code.in_(organs), AppealFact.filed_on <= end,
            or_(AppealFact.decided_on.is_(None), AppealFact.decided_on > end, AppealFact.outcome == "pending"))
        .group_by(AppealFact.kind))).all()
    section = {kind: {**dict.fromkeys(APPEAL_OUTCOMES, 0), "total": 0} for kind in APPEAL_KINDS}
    for kind, outcome, n in decided:
        section[kind][outcome] += n
    for kind, n in pending:
        section[kind]["pending"] += n
    for values in section.values():
        values["total"] = sum(values[o] for o in APPEAL_OUTCOMES)
    return section


async def _fees(session: AsyncSession, organs: list[str], year: int) -> dict[str, Any]:
    start, end = _year_bounds(year)
    noticed = (await session.execute(select(func.count(), func.coalesce(func.sum(ApplicationFact.fee_amount), 0))
                                     .where(ApplicationFact.organ_code.in_(organs),
                                            ApplicationFact.fee_noticed_on.between(start, end)))).one()
    collected = (await session.execute(select(func.coalesce(func.sum(ApplicationFact.fee_paid_amount), 0)).where(
        ApplicationFact.organ_code.in_(organs), ApplicationFact.fee_paid_on.between(start, end)))).scalar_one()
    return {"notices_issued": int(noticed[0]), "amount_noticed_yuan": f"{Decimal(noticed[1]):.2f}",
            "amount_collected_yuan": f"{Decimal(collected):.2f}"}


async def _consultations(session: AsyncSession, organs: list[str], year: int) -> dict[str, Any]:
    start, end = _year_bounds(year)
    rows = (await session.execute(select(ConsultationFact.channel, func.count()).where(
        ConsultationFact.organ_code.in_(organs), ConsultationFact.received_on.between(start, end))
        .group_by(ConsultationFact.channel))).all()
    by_channel = {channel: n for channel, n in sorted(rows)}
    return {"total": sum(by_channel.values()), "by_channel": by_channel}


def checks(section3: dict[str, dict[str, int]], section4: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """The arithmetic identities of the official tables, column by column."""
    result = []
    for column in COLUMNS:
        r = section3
        result.append({"rule": "received_plus_carried_equals_closed_plus_forward", "column": column,
                       "ok": r["new_received"][column] + r["carried_over"][column]
                       == r["results_total"][column] + r["carried_forward"][column]})
        result.append({"rule": "results_total_equals_sum_of_result_rows", "column": column,
                       "ok": r["results_total"][column] == sum(r[row][column] for row in RESULT_ROWS)})
        result.append({"rule": "no_negative_counts", "column": column,
                       "ok": all(r[row][column] >= 0 for row in ROWS)})
    result.append({"rule": "total_column_equals_sum_of_applicant_columns", "column": "total",
                   "ok": all(v["total"] == sum(v[c] for c in APPLICANT_COLUMNS) for v in section3.values())})
    for kind, values in section4.items():
        result.append({"rule": "section4_total_equals_sum_of_outcomes", "column": kind,
                       "ok": values["total"] == sum(values[o] for o in APPEAL_OUTCOMES)})
    return result


async def build_report(session: AsyncSession, organ_code: str, year: int, include_subordinates: bool) -> dict:
    if not 2000 <= year <= 2100:
        raise UnprocessableEntity("year out of range", errors=[{"loc": ["path", "year"], "msg": "2000–2100",
                                                                "type": "value_error"}])
    organs = await organ_scope(session, organ_code, include_subordinates)
    section3 = await _section3(session, organs, year)
    section4 = await _section4(session, organs, year)
    entered = await _entered(session, [organ_code], year)  # narrative belongs to the reporting organ itself
    return {
        "organ_code": organ_code, "year": year, "format": "2021",
        "generated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "include_subordinates": include_subordinates,
        "section2": await _section2(session, organs, year),
        "section3": {"columns": COLUMNS, "rows": section3},
        "section4": section4,
        "fees": await _fees(session, organs, year),
        "consultations": await _consultations(session, organs, year),
        "narrative": {k: (entered.get(f"narrative.{k}") or [""])[-1] for k in NARRATIVE_KEYS},
        "checks": checks(section3, section4),
    }


def _cell_query(row: str, column: str, organs: list[str], year: int) -> Select:
    start, end = _year_bounds(year)
    stmt = select(ApplicationFact).where(ApplicationFact.organ_code.in_(organs))
    if column != "total":
        stmt = stmt.where(ApplicationFact.applicant_type == column)
    closed_by = lambda day: and_(ApplicationFact.closed_on.is_not(None), ApplicationFact.closed_on <= day,  # noqa: E731
                                 ApplicationFact.status.in_(("replied", "closed")))
    if row == "new_received":
        return stmt.where(ApplicationFact.received_on.between(start, end))
    if row == "carried_over":
        return stmt.where(ApplicationFact.received_on < start, ~closed_by(date(year - 1, 12, 31)))
    if row == "carried_forward":
        return stmt.where(ApplicationFact.received_on <= end, ~closed_by(end))
    if row == "results_total":
        return stmt.where(ApplicationFact.closed_on.between(start, end), ApplicationFact.outcome.is_not(None),
                          ApplicationFact.status.in_(("replied", "closed")))
    if row in RESULT_ROWS:
        return stmt.where(ApplicationFact.closed_on.between(start, end), ApplicationFact.outcome == row,
                          ApplicationFact.status.in_(("replied", "closed")))
    raise UnknownCell(f"No row {row} in table 三.")


async def drill_down(session: AsyncSession, organ_code: str, year: int, row: str, column: str,
                     include_subordinates: bool, limit: int, after: str | None) -> dict[str, Any]:
    """The records behind one number: applications for table 三, documents for section 二, cases for 四; a page of
    them in id order after the cursor `after` (the last id shown), with the exact total."""
    after_id = decode_cursor(after, 1)[0] if after else None
    if after_id is not None and not isinstance(after_id, str):
        raise invalid_cursor()

    async def page(stmt: Any, id_column: Any) -> tuple[int, list[Any], str | None]:
        total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
        if after_id is not None:
            stmt = stmt.where(id_column > after_id)
        rows = list((await session.execute(stmt.order_by(id_column).limit(limit + 1))).scalars())
        more = len(rows) > limit
        return total, rows[:limit], encode_cursor([getattr(rows[limit - 1], id_column.key)]) if more else None

    organs = await organ_scope(session, organ_code, include_subordinates)
    start, end = _year_bounds(year)
    if row in GENRES:
        if column not in ("issued", "repealed", "in_force"):
            raise UnknownCell(f"No column {column} for {row}.")
        base = select(DocumentFact).where(DocumentFact.public.is_(True), DocumentFact.organ_code.in_(organs),
                                          DocumentFact.genre == GENRES[row])
        stmt = {"issued": base.where(DocumentFact.written_date.between(start, end)),
                "repealed": base.where(DocumentFact.repeal_date.between(start, end)),
                "in_force": base.where(DocumentFact.written_date <= end, DocumentFact.validity != "expired",
                                       or_(DocumentFact.repeal_date.is_(None), DocumentFact.repeal_date > end))}[column]
        total, docs, next_cursor = await page(stmt, DocumentFact.document_id)
        items = [{"document_id": d.document_id, "organ_code": d.organ_code, "genre": d.genre,
                  "written_date": d.written_date, "repeal_date": d.repeal_date, "validity": d.validity}
                 for d in docs]
        return {"row": row, "column": column, "total": total, "items": items, "next_cursor": next_cursor,
                "has_more": next_cursor is not None}
    if row in APPEAL_KINDS:
        if column not in (*APPEAL_OUTCOMES, "total"):
            raise UnknownCell(f"No column {column} for {row}.")
        stmt = select(AppealFact).where(AppealFact.organ_code.in_(organs), AppealFact.kind == row)
        decided = and_(AppealFact.decided_on.between(start, end), AppealFact.outcome != "pending")
        pending = and_(AppealFact.filed_on <= end, or_(AppealFact.decided_on.is_(None), AppealFact.decided_on > end,
                                                        AppealFact.outcome == "pending"))
        if column == "pending":
            stmt = stmt.where(pending)
        elif column == "total":
            stmt = stmt.where(or_(decided, pending))
        else:
            stmt = stmt.where(decided, AppealFact.outcome == column)
        total, rows, next_cursor = await page(stmt, AppealFact.appeal_id)
        items = [{"appeal_id": a.appeal_id, "application_id": a.application_id, "kind": a.kind,
                  "outcome": a.outcome, "filed_on": a.filed_on, "decided_on": a.decided_on} for a in rows]
        return {"row": row, "column": column, "total": total, "items": items, "next_cursor": next_cursor,
                "has_more": next_cursor is not None}
    if column not in COLUMNS:
        raise UnknownCell(f"No column {column} in table 三.")
    stmt = _cell_query(row, column, organs, year)
    total, facts, next_cursor = await page(stmt, ApplicationFact.application_id)
    items = [{"application_id": f.application_id, "organ_code": f.organ_code, "applicant_type": f.applicant_type,
              "channel": f.channel, "received_on": f.received_on, "closed_on": f.closed_on, "outcome": f.outcome,
              "status": f.status} for f in facts]
    return {"row": row, "column": column, "total": total, "items": items, "next_cursor": next_cursor,
            "has_more": next_cursor is not None}
