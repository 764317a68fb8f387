"""Sign-off of an annual report: draft → submitted → published (条例第四十九条/第五十条).

Once published, the figures are frozen in a snapshot: later events dated inside the year do not silently change
the published report; they show up as discrepancies between the snapshot and the live figures."""

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import Principal
from services.concurrency import require_if_match
from services.db import utcnow
from services.errors import Conflict
from stats_service.domain.report import build_report
from stats_service.models import AnnualReport, EnteredFigure, OrganFact

__all__ = ["NUMERIC_KEYS", "discrepancies", "enter_figures", "get_or_create", "reminders", "transition"]

NUMERIC_KEYS = ("administrative_licensing", "administrative_penalty", "administrative_coercion")


class ReportLocked(Conflict):
    code = "report_published"


class InvalidReportTransition(Conflict):
    code = "invalid_transition"


async def get_or_create(session: AsyncSession, organ_code: str, year: int, include_subordinates: bool,
                        *, create: bool = False) -> AnnualReport | None:
    report = await session.get(AnnualReport, (organ_code, year, include_subordinates))
    if report is None and create:
        report = AnnualReport(organ_code=organ_code, year=year, include_subordinates=include_subordinates,
                              status="draft", version=1)
        session.add(report)
        await session.flush()
    return report


async def enter_figures(session: AsyncSession, principal: Principal, organ_code: str, year: int,
                        figures: dict[str, str]) -> None:
    for include in (False, True):
        report = await get_or_create(session, organ_code, year, include)
        if report is not None and report.status != "draft":
            raise ReportLocked("The report was submitted or published; its figures can no longer change.")
    for key, value in figures.items():
        row = await session.get(EnteredFigure, (organ_code, year, key))
        if row is None:
            session.add(EnteredFigure(organ_code=organ_code, year=year, key=key, value=value,
                                      entered_by=principal.sub))
        else:
            row.value, row.entered_by, row.entered_at = value, principal.sub, utcnow()
    await session.flush()


async def transition(session: AsyncSession, principal: Principal, organ_code: str, year: int,
                     include_subordinates: bool, action: str, if_match: str | None) -> AnnualReport:
    report = await get_or_create(session, organ_code, year, include_subordinates, create=True)
    assert report is not None
    require_if_match(if_match, report.version)
    allowed = {"submit": ("draft", "submitted"), "publish": ("submitted", "published"),
               "reopen": ("submitted", "draft")}
    before, after = allowed[action]
    if report.status != before:
        raise InvalidReportTransition(f"'{action}' is not possible while the report is {report.status}.")
    report.status = after
    report.version += 1
    if action == "submit":
        report.submitted_by, report.submitted_at = principal.sub, utcnow()
    elif action == "publish":
        report.published_by, report.published_at = principal.sub, utcnow()
        report.snapshot = _jsonable(await build_report(session, organ_code, year, include_subordinates))
    await session.flush()
    return report


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_leaves(inner, f"{path}.{key}" if path else key))
        return out
    return {path: value}


async def discrepancies(session: AsyncSession, report: AnnualReport) -> list[dict[str, Any]]:
    """Cells where the live figures now differ from the published snapshot."""
    live = _jsonable(await build_report(session, report.organ_code, report.year, report.include_subordinates))
    frozen = report.snapshot or {}
    out = []
    for section in ("section2", "section3", "section4", "fees", "consultations"):
        a, b = _leaves(frozen.get(section, {}), section), _leaves(live.get(section, {}), section)
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append({"cell": key, "published": a.get(key), "live": b.get(key)})
    return out


async def reminders(session: AsyncSession, organ_codes: list[str], year: int, today: date) -> list[dict[str, Any]]:
    """条例第四十九条: departments publish last year's report by 31 January, governments by 31 March."""
    organs = (await session.execute(select(OrganFact).where(OrganFact.code.in_(organ_codes))
                                    .order_by(OrganFact.path))).scalars().all()
    out = []
    for organ in organs:
        due = date(year + 1, 3, 31) if organ.kind == "peoples_government" else date(year + 1, 1, 31)
        report = await get_or_create(session, organ.code, year, organ.kind == "peoples_government")
        status = report.status if report else "draft"
        out.append({"organ_code": organ.code, "organ_name": organ.name, "kind": organ.kind, "year": year,
                    "due_on": due, "status": status, "overdue": status != "published" and today > due,
                    "days_left": (due - today).days})
    return out
