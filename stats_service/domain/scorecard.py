"""考评 · organ scorecards computed from the facts the feeds brought, against an indicator sheet (data, not code).

A sheet (stats_service/sheets/*.json built in, or one a province loads with POST /scorecard-sheets) lists
indicators; each names one *metric* from METRICS below (the only code: how a figure is counted from facts), a pass
rule (`pass_if`: op and threshold), points with a scoring rule, whether failing it is 单项否决 (veto), and its source.

Reproducible as of a day D: every fact is read by its event-time date — a record counts if it was published on or
before D and not withdrawn by D (ScoreDocumentFact.withdrawn_on is the withdrawal event's day), columns created by
D, applications closed by D, appeals decided by D, breaches that occurred by D. Events arriving later for later
acts therefore never change the scorecard of D. Period = [from, D]; `from` defaults to 1 January of D's year.

Drill-down (`records`) lists the records behind each figure: for a count metric the counted records (`total` equals
the figure); for a rate metric the records of the denominator, each with `counted` (in the numerator or not).
Figures are derived from the same lists, so the two cannot disagree.

Not applicable: a rate whose denominator is 0 (nothing to score) passes with full points and `value` null.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any

from sqlalchemy import ARRAY, String, and_, any_, case, cast, exists, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.errors import Conflict, NotFound
from stats_service.domain.report import organ_scope
from stats_service.models import (
    AppealFact,
    ApplicationFact,
    AttachmentCheckFact,
    BreachFact,
    ColumnFact,
    DocumentColumnFact,
    OrganFact,
    ProactiveTaskFact,
    ScorecardSheet,
    ScoreDocumentFact,
    StandardAdoptionFact,
)

__all__ = ["BUILTIN_SHEETS", "METRICS", "load_sheet", "metric_records", "ranking", "reminders", "scorecard", "series",
           "store_sheet"]


class SheetNotFound(NotFound):
    code = "sheet_not_found"


class SheetBuiltIn(Conflict):
    code = "sheet_builtin"


def _builtin() -> dict[str, dict[int, dict[str, Any]]]:
    """Built-in sheets by id and version: `<id>.json` is the current one, `<id>.v<N>.json` earlier versions, kept so
    a card asked with `sheet_version` (or reproduced for a past leadership meeting) is scored as it was."""
    sheets: dict[str, dict[int, dict[str, Any]]] = {}
    for entry in resources.files("stats_service.sheets").iterdir():
        if entry.name.endswith(".json"):
            sheet = json.loads(entry.read_text(encoding="utf-8"))
            sheets.setdefault(sheet["id"], {})[sheet["version"]] = sheet
    return sheets


BUILTIN_VERSIONS = _builtin()
BUILTIN_SHEETS = {sheet_id: versions[max(versions)] for sheet_id, versions in BUILTIN_VERSIONS.items()}
DEFAULT_SHEET = "gb-2019-19"
GRANTED = ("granted", "partially_granted")  # 予以公开, 部分公开: as the request service's 依申请转主动 summary counts


async def load_sheet(session: AsyncSession, sheet_id: str | None, version: int | None) -> dict[str, Any]:
    sheet_id = sheet_id or DEFAULT_SHEET
    if sheet_id in BUILTIN_SHEETS:
        sheet = BUILTIN_SHEETS[sheet_id] if version is None else BUILTIN_VERSIONS[sheet_id].get(version)
        if sheet is None:
            raise SheetNotFound(f"Sheet {sheet_id} has no version {version}.")
        return {**sheet, "builtin": True}
    stmt = select(ScorecardSheet).where(ScorecardSheet.sheet_id == sheet_id)
    stmt = stmt.where(ScorecardSheet.version == version) if version else stmt.order_by(ScorecardSheet.version.desc())
    row = (await session.execute(stmt.limit(1))).scalar_one_or_none()
    if row is None:
        raise SheetNotFound(f"No indicator sheet {sheet_id}" + (f" version {version}." if version else "."))
    return {**row.definition, "id": row.sheet_id, "version": row.version, "builtin": False,
            "loaded_by": row.loaded_by, "loaded_at": row.loaded_at}


async def store_sheet(session: AsyncSession, definition: dict[str, Any], loaded_by: str) -> dict[str, Any]:
    """A province's sheet, stored as the next version of its id (earlier versions stay, for past scorecards)."""
    sheet_id = definition["id"]
    if sheet_id in BUILTIN_SHEETS:
        raise SheetBuiltIn(f"{sheet_id} is a built-in sheet; load yours under another id.")
    last = (await session.execute(select(func.max(ScorecardSheet.version))
                                  .where(ScorecardSheet.sheet_id == sheet_id))).scalar_one()
    version = (last or 0) + 1
    body = {k: v for k, v in definition.items() if k not in ("id", "version")}
    session.add(ScorecardSheet(sheet_id=sheet_id, version=version, name=definition["name"],
                               source=definition["source"], definition=body, loaded_by=loaded_by))
    await session.flush()
    return await load_sheet(session, sheet_id, version)


async def list_sheets(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.execute(select(ScorecardSheet).order_by(ScorecardSheet.sheet_id,
                                                                  ScorecardSheet.version))).scalars()
    latest = {r.sheet_id: r for r in rows}
    return [*({**s, "builtin": True} for s in BUILTIN_SHEETS.values()),
            *({**r.definition, "id": r.sheet_id, "version": r.version, "builtin": False, "loaded_by": r.loaded_by,
               "loaded_at": r.loaded_at} for r in latest.values())]


# --- metrics: how each figure is counted from facts -------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    organs: list[str]
    start: date
    as_of: date


Records = list[dict[str, Any]]


def _public_on(model: type[ScoreDocumentFact] | type[AttachmentCheckFact], day: date):
    return and_(model.published_on <= day, or_(model.withdrawn_on.is_(None), model.withdrawn_on > day))


def _add_period(day: date, every: int, unit: str) -> date:
    if unit == "day":
        return day + timedelta(days=every)
    if unit == "week":
        return day + timedelta(weeks=every)
    month = day.month - 1 + every
    year, month = day.year + month // 12, month % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _statutory_deadline(mm_dd: str, as_of: date) -> date:
    """The latest statutory date (every year on MM-DD) on or before D."""
    month, day = (int(x) for x in mm_dd.split("-"))
    for year in (as_of.year, as_of.year - 1):
        try:
            deadline = date(year, month, day)
        except ValueError:  # 02-29 in a common year: the last day of February
            deadline = date(year, 3, 1) - timedelta(days=1)
        if deadline <= as_of:
            return deadline
    raise AssertionError("unreachable")


def _pairs_chunks(pairs: list[tuple[str, str]], size: int = 200):
    """(organ, value) pairs as a literal derived table, in chunks (SQLite caps compound SELECTs at 500 terms)."""
    for i in range(0, len(pairs), size):
        yield union_all(*(select(cast(literal(organ), String).label("organ"), cast(literal(value), String)
                                 .label("value")) for organ, value in pairs[i:i + size])).subquery("pairs")


async def _latest_by_rule(session: AsyncSession, pairs: set[tuple[str, str]], field: str, as_of: date,
                          bound: date) -> dict[tuple[str, str], date]:
    """The last publication day (≤ bound) of the records public on D of each (organ, 体裁 or 主题分类) pair: one
    correlated max() per pair, which the (organ, kind, published_on) indexes answer with a backward probe
    (PostgreSQL plans max() as ORDER BY … DESC LIMIT 1) rather than a read of the organ's records."""
    d = ScoreDocumentFact
    out: dict[tuple[str, str], date] = {}
    if not pairs:
        return out
    if session.bind.dialect.name == "postgresql":  # one statement whatever the number of pairs: two arrays
        ordered = sorted(pairs)
        tables = [func.unnest(cast(literal([o for o, _ in ordered], ARRAY(String)), ARRAY(String)),
                              cast(literal([v for _, v in ordered], ARRAY(String)), ARRAY(String)))
                  .table_valued("organ", "value").render_derived(name="pairs")]
    else:
        tables = list(_pairs_chunks(sorted(pairs)))
    for pairs_table in tables:
        latest = select(func.max(d.published_on)).where(
            d.organ_code == pairs_table.c.organ, getattr(d, field) == pairs_table.c.value, d.published_on <= bound,
            or_(d.withdrawn_on.is_(None), d.withdrawn_on > as_of)).scalar_subquery()
        for organ, value, day in await session.execute(select(pairs_table.c.organ, pairs_table.c.value, latest)):
            if day is not None:
                out[(organ, value)] = day
    return out


async def _latest_days(session: AsyncSession, columns: list[ColumnFact], as_of: date,
                       bound: date) -> dict[str, date | None]:
    """Each column's last publication day (≤ bound) among the records public on D placed in it — explicitly
    (DocumentColumnFact: one grouped statement) or by its 体裁 / 主题分类 rules (`_latest_by_rule`)."""
    p = DocumentColumnFact
    days: dict[str, date | None] = {c.column_id: None for c in columns}
    if not columns:
        return days
    # Placements carry their record's publication and withdrawal days: one backward probe of (column_id,
    # published_on) per column.
    latest = select(func.max(p.published_on)).where(
        p.column_id == ColumnFact.column_id, p.published_on <= bound,
        or_(p.withdrawn_on.is_(None), p.withdrawn_on > as_of)).scalar_subquery()
    if session.bind.dialect.name == "postgresql":  # one array parameter, not one per column (800 for a city)
        chosen = ColumnFact.column_id == any_(cast(literal(list(days), ARRAY(String)), ARRAY(String)))
    else:
        chosen = ColumnFact.column_id.in_(list(days))
    for column_id, day in await session.execute(select(ColumnFact.column_id, latest).where(chosen)):
        days[column_id] = day
    genres = await _latest_by_rule(session, {(c.organ_code, g) for c in columns for g in c.genres}, "genre",
                                   as_of, bound)
    subjects = await _latest_by_rule(session, {(c.organ_code, x) for c in columns for x in c.subject_categories},
                                     "subject_category", as_of, bound)
    for c in columns:
        candidates = [days[c.column_id], *(genres.get((c.organ_code, g)) for g in c.genres),
                      *(subjects.get((c.organ_code, x)) for x in c.subject_categories)]
        days[c.column_id] = max((x for x in candidates if x is not None), default=None)
    return days


async def _columns(session: AsyncSession, scope: Scope) -> list[tuple[ColumnFact, date | None, date | None]]:
    """Active columns of the scope that existed on D, each with the last publication day (≤ D) of the records
    public on D placed in it, and for a column with a statutory date the last such day on or before its latest
    statutory date (the window it is scored on). Aggregated in SQL: a column's records are never read one by one.
    Kept on the session for the card (the stale- and empty-column metrics both read it)."""
    key = ("scorecard_columns", tuple(scope.organs), scope.start, scope.as_of)
    if key not in session.info:
        session.info[key] = await _read_columns(session, scope)
    return session.info[key]


async def _read_columns(session: AsyncSession, scope: Scope) -> list[tuple[ColumnFact, date | None, date | None]]:
    # Rows, not ORM objects (hundreds of columns for a city: the identity map cost more than the query).
    columns = (await session.execute(select(*ColumnFact.__table__.c).where(
        ColumnFact.organ_code.in_(scope.organs), ColumnFact.active.is_(True), ColumnFact.created_on <= scope.as_of)
        .order_by(ColumnFact.organ_code, ColumnFact.name, ColumnFact.column_id))).all()
    last = await _latest_days(session, list(columns), scope.as_of, scope.as_of)
    by_deadline: dict[date, list[ColumnFact]] = {}
    for c in columns:
        if c.rule == "statutory" and c.statutory_date:
            by_deadline.setdefault(_statutory_deadline(c.statutory_date, scope.as_of), []).append(c)
    before: dict[str, date | None] = {}
    for deadline, group in by_deadline.items():
        before.update(await _latest_days(session, group, scope.as_of, deadline))
    return [(c, last[c.column_id], before.get(c.column_id)) for c in columns]


def _column_item(c: ColumnFact, last: date | None, **extra: Any) -> dict[str, Any]:
    return {"record_type": "column", "id": c.column_id, "organ_code": c.organ_code, "counted": True,
            "day": last, "due_on": extra.pop("due_on", None),
            "detail": {"name": c.name, "rule": c.rule, "every": c.every, "unit": c.unit,
                       "statutory_date": c.statutory_date, "note": c.note, **extra}}


async def stale_columns(session: AsyncSession, scope: Scope) -> Records:
    """栏目不更新: a column with an interval rule is stale on D when D is past its last update (or its creation,
    if it never had one) plus the interval; one with a statutory date (e.g. 年度报告 by 01-31) when nothing was
    published in the year up to the latest statutory date on or before D. "Updated when changed" columns are
    never stale (they are scored by the empty-column indicator)."""
    out = []
    for column, last, before_deadline in await _columns(session, scope):
        if column.rule == "interval" and column.every and column.unit:
            due = _add_period(last or column.created_on, column.every, column.unit)
            if scope.as_of > due:
                out.append(_column_item(column, last, due_on=due))
        elif column.rule == "statutory" and column.statutory_date:
            deadline = _statutory_deadline(column.statutory_date, scope.as_of)
            if column.created_on > deadline:
                continue  # created after its last statutory date: not due yet
            if before_deadline is None or before_deadline <= _add_period(deadline, -12, "month"):
                out.append(_column_item(column, last, due_on=deadline))
    return out


async def empty_columns_without_note(session: AsyncSession, scope: Scope) -> Records:
    """空白栏目: a column with no record public on D and no 备注说明 saying why it is legitimately empty."""
    return [_column_item(column, None) for column, last, _ in await _columns(session, scope)
            if last is None and not (column.note or "").strip()]


def _doc_item(d: ScoreDocumentFact, counted: bool, due: date | None, **detail: Any) -> dict[str, Any]:
    return {"record_type": "document", "id": d.document_id, "organ_code": d.organ_code, "counted": counted,
            "day": d.published_on, "due_on": due, "detail": {"index_no": d.index_no, "genre": d.genre, **detail}}


async def publication_on_time_rate(session: AsyncSession, scope: Scope) -> Records:
    """条例第二十六条: records published in the period (public on D) with a deadline; counted = published on or
    before it (publication_due_on, 20 working days from 形成或者变更之日, as the catalogue computed it)."""
    d = ScoreDocumentFact
    docs = (await session.execute(select(d).where(
        d.organ_code.in_(scope.organs), d.published_on >= scope.start, _public_on(d, scope.as_of),
        d.publication_due_on.is_not(None)).order_by(d.published_on, d.document_id))).scalars()
    return [_doc_item(x, x.published_on <= x.publication_due_on, x.publication_due_on) for x in docs]


async def _interpretations(session: AsyncSession, scope: Scope, policy_ids: list[str]) -> dict[str, date]:
    """The first 解读 public on D of each policy: its publication day."""
    d = ScoreDocumentFact
    firsts: dict[str, date] = {}
    for target, day in await session.execute(select(d.interpretation_of, func.min(d.published_on)).where(
            d.interpretation_of.in_(policy_ids), _public_on(d, scope.as_of)).group_by(d.interpretation_of)):
        firsts[target] = day
    return firsts


async def _policies(session: AsyncSession, scope: Scope) -> list[ScoreDocumentFact]:
    d = ScoreDocumentFact
    return list((await session.execute(select(d).where(_policy_filter(d, scope))
                                       .order_by(d.published_on, d.document_id))).scalars())


async def interpretation_ratio(session: AsyncSession, scope: Scope) -> Records:
    """解读率: policies needing a 解读 (行政规范性文件, flagged major policy) published in the period; counted =
    a 解读 naming it was public on D."""
    policies = await _policies(session, scope)
    firsts = await _interpretations(session, scope, [p.document_id for p in policies])
    return [_doc_item(p, p.document_id in firsts, p.interpretation_due_on,
                      interpreted_on=firsts.get(p.document_id)) for p in policies]


async def overdue_interpretations(session: AsyncSession, scope: Scope) -> Records:
    """逾期未解读: those policies whose 解读 deadline (the catalogue's, in working days) is before D and that had no
    解读 public on D."""
    policies = await _policies(session, scope)
    firsts = await _interpretations(session, scope, [p.document_id for p in policies])
    return [_doc_item(p, True, p.interpretation_due_on, interpreted_on=None) for p in policies
            if p.document_id not in firsts and p.interpretation_due_on is not None
            and p.interpretation_due_on < scope.as_of]


async def validity_reviews_overdue(session: AsyncSession, scope: Scope) -> Records:
    """有效期届满未清理 (国办发〔2018〕37号): records public on D whose 有效期 ended before D (`due_on`: the last day
    in force) and that were not repealed by D (废止日期 after D or none) — the assessment the reminder asked for,
    six months earlier, was not concluded. A repeal decided after D does not change D's count."""
    d = ScoreDocumentFact
    docs = (await session.execute(select(d).where(
        d.organ_code.in_(scope.organs), _public_on(d, scope.as_of), d.expires_on < scope.as_of,
        or_(d.repeal_date.is_(None), d.repeal_date > scope.as_of)).order_by(d.expires_on, d.document_id))).scalars()
    return [_doc_item(x, True, x.expires_on) for x in docs]


async def reply_on_time_rate(session: AsyncSession, scope: Scope) -> Records:
    """按期答复: applications closed in the period that had a due date; counted = closed on or before it."""
    a = ApplicationFact
    apps = (await session.execute(select(a).where(
        a.organ_code.in_(scope.organs), a.closed_on.between(scope.start, scope.as_of), a.due_on.is_not(None))
        .order_by(a.closed_on, a.application_id))).scalars()
    return [{"record_type": "application", "id": x.application_id, "organ_code": x.organ_code,
             "counted": x.closed_on <= x.due_on, "day": x.closed_on, "due_on": x.due_on,
             "detail": {"outcome": x.outcome}} for x in apps]


async def statutory_breaches(session: AsyncSession, scope: Scope) -> Records:
    """违规记录 the request service recorded (legal-rules §1.13), by the day of the act, in the period."""
    b = BreachFact
    rows = (await session.execute(select(b).where(
        b.organ_code.in_(scope.organs), b.occurred_on.between(scope.start, scope.as_of))
        .order_by(b.occurred_on, b.application_id, b.seq))).scalars()
    return [{"record_type": "breach", "id": f"{x.application_id}#{x.seq}", "organ_code": x.organ_code,
             "counted": True, "day": x.occurred_on, "due_on": x.due_on,
             "detail": {"application_id": x.application_id, "code": x.code, "article": x.article}} for x in rows]


async def corrected_on_appeal_rate(session: AsyncSession, scope: Scope) -> Records:
    """复议、诉讼纠错率: appeals decided in the period; counted = the decision corrected the organ (结果纠正)."""
    a = AppealFact
    rows = (await session.execute(select(a).where(
        a.organ_code.in_(scope.organs), a.decided_on.between(scope.start, scope.as_of))
        .order_by(a.decided_on, a.appeal_id))).scalars()
    return [{"record_type": "appeal", "id": x.appeal_id, "organ_code": x.organ_code,
             "counted": x.outcome == "corrected", "day": x.decided_on, "due_on": None,
             "detail": {"application_id": x.application_id, "kind": x.kind, "outcome": x.outcome}} for x in rows]


async def proactive_publication_rate(session: AsyncSession, scope: Scope) -> Records:
    """依申请转主动率 (条例第四十四条): granted replies (予以公开, 部分公开) of the period; counted = the organ's
    "consider proactive disclosure" task for the same information (`info_key`) was closed as published, with its
    catalogue record, on or before D. The request service's own summary counts the same way."""
    a, t = ApplicationFact, ProactiveTaskFact
    rows = await session.execute(
        select(a.application_id, a.organ_code, a.closed_on, a.outcome, t.document_id)
        .outerjoin(t, _published_task(a, t, scope.as_of)).where(_grants(a, scope))
        .order_by(a.closed_on, a.application_id))
    return [{"record_type": "application", "id": app_id, "organ_code": organ, "counted": document_id is not None,
             "day": closed_on, "due_on": None, "detail": {"outcome": outcome, "document_id": document_id}}
            for app_id, organ, closed_on, outcome, document_id in rows]


def _grants(a: type[ApplicationFact], scope: Scope):
    return and_(a.organ_code.in_(scope.organs), a.status == "replied", a.outcome.in_(GRANTED),
                a.closed_on.between(scope.start, scope.as_of))


def _published_task(a: type[ApplicationFact], t: Any, as_of: date):
    return and_(t.organ_code == a.organ_code, t.info_key == a.info_key, t.status == "published",
                t.closed_on <= as_of)


def _attaching_failed(c: type[AttachmentCheckFact], scope: Scope):
    return and_(c.organ_code.in_(scope.organs), c.failing_since <= scope.as_of,
                or_(c.repaired_on.is_(None), c.repaired_on > scope.as_of))


def _failing_on(c: type[AttachmentCheckFact], d: type[ScoreDocumentFact], scope: Scope):
    return and_(_attaching_failed(c, scope), _public_on(d, scope.as_of))


async def broken_attachments(session: AsyncSession, scope: Scope) -> Records:
    """附件无法打开: attachments of records public on D that the catalogue's check found failing on D — the stored
    bytes missing, their SHA-256 no longer the one recorded at upload, or the content not of the declared type (its
    first bytes) — from the first check of that failure until the first check that found it fine again."""
    c, d = AttachmentCheckFact, ScoreDocumentFact
    rows = (await session.execute(select(c).join(d, d.document_id == c.document_id).where(_failing_on(c, d, scope))
                                  .order_by(c.failing_since, c.attachment_id))).scalars()
    return [{"record_type": "attachment", "id": x.attachment_id, "organ_code": x.organ_code, "counted": True,
             "day": x.failing_since, "due_on": None,
             "detail": {"document_id": x.document_id, "filename": x.filename, "problem": x.problem}} for x in rows]


# --- figures: the same counts as the record lists above, each one aggregate statement over the scope ------------
# The card reads these (a city with its subordinates holds a million records; reading them to count them was the
# scorecard's cost); the drill-down reads the records. tests/stats_service/test_scorecards.py checks, indicator by
# indicator, that the two agree.

Counts = tuple[int, int]  # (numerator, denominator); a count metric's denominator is its numerator


def _n(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _counts(session: AsyncSession, stmt: Any) -> Counts:
    numerator, denominator = (await session.execute(stmt)).one()
    return int(numerator or 0), int(denominator or 0)


async def _publication_counts(session: AsyncSession, scope: Scope) -> Counts:
    d = ScoreDocumentFact
    return await _counts(session, select(_n(d.published_on <= d.publication_due_on), func.count()).where(
        d.organ_code.in_(scope.organs), d.published_on >= scope.start, _public_on(d, scope.as_of),
        d.publication_due_on.is_not(None)))


def _interpreted(d: Any, as_of: date) -> Any:
    i = aliased(ScoreDocumentFact)
    return exists().where(i.interpretation_of == d.document_id, _public_on(i, as_of))


def _policy_filter(d: Any, scope: Scope) -> Any:
    # `needs_interpretation` as a bare predicate (not IS true): the partial index's own condition, so PostgreSQL
    # uses ix_score_document_fact_policies.
    return and_(d.organ_code.in_(scope.organs), d.needs_interpretation, d.published_on >= scope.start,
                _public_on(d, scope.as_of))


async def _policy_tally(session: AsyncSession, scope: Scope) -> dict[tuple[bool, bool], int]:
    """The scope's policies (解读 duty, published in the period, public on D) counted by (has a 解读 public on D,
    解读 deadline before D): one statement for both 解读 figures, each policy probed once for its 解读 (an
    index-only probe, stats_0010). Grouped rather than two FILTERed counts: PostgreSQL would evaluate the probe once
    per aggregate that names it. Kept on the session for the card, as `_columns` is."""
    key = ("scorecard_policies", tuple(scope.organs), scope.start, scope.as_of)
    if key not in session.info:
        d = ScoreDocumentFact
        interpreted = _interpreted(d, scope.as_of)
        late = func.coalesce(d.interpretation_due_on < scope.as_of, False)
        rows = await session.execute(select(interpreted, late, func.count()).where(_policy_filter(d, scope))
                                     .group_by(interpreted, late))
        session.info[key] = {(bool(i), bool(overdue)): int(n) for i, overdue, n in rows}
    return session.info[key]


async def _interpretation_counts(session: AsyncSession, scope: Scope) -> Counts:
    tally = await _policy_tally(session, scope)
    return sum(n for (interpreted, _), n in tally.items() if interpreted), sum(tally.values())


async def _overdue_interpretation_counts(session: AsyncSession, scope: Scope) -> Counts:
    overdue = (await _policy_tally(session, scope)).get((False, True), 0)
    return overdue, overdue


async def _validity_counts(session: AsyncSession, scope: Scope) -> Counts:
    d = ScoreDocumentFact
    return await _counts(session, select(func.count(), func.count()).where(
        d.organ_code.in_(scope.organs), _public_on(d, scope.as_of), d.expires_on < scope.as_of,
        or_(d.repeal_date.is_(None), d.repeal_date > scope.as_of)))


async def _reply_counts(session: AsyncSession, scope: Scope) -> Counts:
    a = ApplicationFact
    return await _counts(session, select(_n(a.closed_on <= a.due_on), func.count()).where(
        a.organ_code.in_(scope.organs), a.closed_on.between(scope.start, scope.as_of), a.due_on.is_not(None)))


async def _breach_counts(session: AsyncSession, scope: Scope) -> Counts:
    b = BreachFact
    return await _counts(session, select(func.count(), func.count()).where(
        b.organ_code.in_(scope.organs), b.occurred_on.between(scope.start, scope.as_of)))


async def _appeal_counts(session: AsyncSession, scope: Scope) -> Counts:
    a = AppealFact
    return await _counts(session, select(_n(a.outcome == "corrected"), func.count()).where(
        a.organ_code.in_(scope.organs), a.decided_on.between(scope.start, scope.as_of)))


async def _proactive_counts(session: AsyncSession, scope: Scope) -> Counts:
    # An outer join (a hash join over the organ's few tasks), not a probe per grant: one task per organ and
    # information (the request service's unique constraint), so no grant is counted twice.
    a, t = ApplicationFact, ProactiveTaskFact
    return await _counts(session, select(func.count(t.task_id), func.count()).select_from(a)
                         .outerjoin(t, _published_task(a, t, scope.as_of)).where(_grants(a, scope)))


async def _broken_attachment_counts(session: AsyncSession, scope: Scope) -> Counts:
    # The checks carry their record's public life (stats_0010): no read of score_document_fact. As a join,
    # PostgreSQL hashed the failing checks against a scan of every record public on D (the whole table for a city:
    # 230 ms of the card's 600). The drill-down keeps the join; the tests check the two agree.
    c = AttachmentCheckFact
    return await _counts(session, select(func.count(), func.count()).where(
        _attaching_failed(c, scope), _public_on(c, scope.as_of)))


def _from_records(compute: Callable[[AsyncSession, Scope], Awaitable[Records]]):
    """Columns are few (tens per organ): their figures are counted from their records (each column's last update
    is itself aggregated in SQL, `_columns`)."""
    async def counts(session: AsyncSession, scope: Scope) -> Counts:
        records = await compute(session, scope)
        return sum(1 for r in records if r["counted"]), len(records)

    return counts


def _standard_match(item: dict[str, Any], doc: ScoreDocumentFact) -> bool:
    """The catalogue's rule (catalog_service/domain/standards.matches): 体裁, 主题分类, or a keyword in the title —
    known from the keywords the record's event named, or, for records published before the adoption, from the
    adoption's own list of them (`keyword_documents`)."""
    named = (doc.standard_keywords or "").split("\n")
    return (doc.genre in (item.get("genres") or []) or doc.subject_category in (item.get("subject_categories") or [])
            or any(k in named for k in item.get("keywords") or [])
            or doc.document_id in (item.get("keyword_documents") or []))


async def standard_catalogue_coverage(session: AsyncSession, scope: Scope) -> Records:
    """基层政务公开标准目录覆盖率: the items the scope's organs had adopted by D (adoptions in day order, items in the
    catalogue's order); counted = at least one of the organ's records public on D maps to it, by the item's rules
    or explicitly (a mapping made by D). The same figure as the catalogue's GET /standard-coverage/{organ}."""
    adoptions = (await session.execute(select(StandardAdoptionFact).where(
        StandardAdoptionFact.organ_code.in_(scope.organs), StandardAdoptionFact.adopted_on <= scope.as_of)
        .order_by(StandardAdoptionFact.adopted_on, StandardAdoptionFact.adoption_id))).scalars().all()
    if not adoptions:
        return []
    d = ScoreDocumentFact
    docs: dict[str, list[ScoreDocumentFact]] = {}
    for doc in (await session.execute(select(d).where(
            d.organ_code.in_({a.organ_code for a in adoptions}), _public_on(d, scope.as_of))
            .order_by(d.published_on, d.document_id))).scalars():
        docs.setdefault(doc.organ_code, []).append(doc)
    out = []
    for a in adoptions:
        for item in a.items:
            explicit = {m["document_id"] for m in a.mappings if m["item_key"] == item["key"]
                        and date.fromisoformat(m["mapped_on"]) <= scope.as_of}
            mapped = [x for x in docs.get(a.organ_code, []) if x.document_id in explicit
                      or _standard_match(item, x)]
            out.append({"record_type": "standard_item", "id": f"{a.adoption_id}:{item['key']}",
                        "organ_code": a.organ_code, "counted": bool(mapped),
                        "day": max((x.published_on for x in mapped), default=None), "due_on": None,
                        "detail": {"catalogue_code": a.catalogue_code, "catalogue_version": a.catalogue_version,
                                   "area": a.area, "key": item["key"], "title": item["title"],
                                   "documents": [x.document_id for x in mapped]}})
    return out


@dataclass(frozen=True)
class Metric:
    kind: str  # count | rate
    compute: Callable[[AsyncSession, Scope], Awaitable[Records]]  # the records (drill-down)
    counts: Callable[[AsyncSession, Scope], Awaitable[Counts]]  # the figure, aggregated in SQL
    zh: str
    en: str


METRICS: dict[str, Metric] = {
    "stale_columns": Metric("count", stale_columns, _from_records(stale_columns), "超期未更新栏目数",
                            "Columns past their update rule"),
    "empty_columns_without_note": Metric("count", empty_columns_without_note,
                                         _from_records(empty_columns_without_note), "无备注说明的空白栏目数",
                                         "Empty columns without a note"),
    "publication_on_time_rate": Metric("rate", publication_on_time_rate, _publication_counts, "主动公开及时率",
                                       "Share published within 20 working days"),
    "reply_on_time_rate": Metric("rate", reply_on_time_rate, _reply_counts, "按期答复率",
                                 "Share of replies on time"),
    "statutory_breaches": Metric("count", statutory_breaches, _breach_counts, "违规记录数", "Statutory breaches"),
    "interpretation_ratio": Metric("rate", interpretation_ratio, _interpretation_counts, "政策解读率",
                                   "Share of policies with a 解读"),
    "overdue_interpretations": Metric("count", overdue_interpretations, _overdue_interpretation_counts,
                                      "逾期未解读数", "Policies past their 解读 deadline"),
    "validity_reviews_overdue": Metric("count", validity_reviews_overdue, _validity_counts,
                                       "有效期届满未清理文件数", "Records past their validity period still in force"),
    "standard_catalogue_coverage": Metric("rate", standard_catalogue_coverage,
                                          _from_records(standard_catalogue_coverage), "标准目录覆盖率",
                                          "Share of adopted standard-catalogue items with a published record"),
    "corrected_on_appeal_rate": Metric("rate", corrected_on_appeal_rate, _appeal_counts, "复议诉讼纠错率",
                                       "Share of decided appeals that corrected the organ"),
    "proactive_publication_rate": Metric("rate", proactive_publication_rate, _proactive_counts, "依申请转主动率",
                                         "Share of granted replies later published proactively"),
    "broken_attachments": Metric("count", broken_attachments, _broken_attachment_counts, "无法打开的附件数",
                                 "Attachments that fail to open"),
}


def _figure_of(kind: str, counted: int, total: int) -> dict[str, Any]:
    if kind == "count":
        return {"value": counted, "numerator": counted, "denominator": None}
    return {"value": round(counted / total, 4) if total else None, "numerator": counted, "denominator": total}


def _figure(kind: str, records: Records) -> dict[str, Any]:
    return _figure_of(kind, sum(1 for r in records if r["counted"]), len(records))


def _score(indicator: dict[str, Any], kind: str, figure: dict[str, Any]) -> dict[str, Any]:
    value, rule, points = figure["value"], indicator["pass_if"], float(indicator["points"])
    if value is None:
        return {"status": "not_applicable", "passed": True, "points": points}
    passed = value <= rule["value"] if rule["op"] == "<=" else value >= rule["value"]
    scoring = indicator.get("scoring", "pass_fail")
    if scoring == "deduct":
        got = max(0.0, points - float(indicator.get("per_item", 0)) * value)
    elif scoring == "proportional" and kind == "rate":
        got = points * (value if rule["op"] == ">=" else 1 - value)
    else:
        got = points if passed else 0.0
    return {"status": "pass" if passed else "fail", "passed": passed, "points": round(got, 2)}


async def _scope(session: AsyncSession, organ_code: str, include_subordinates: bool, start: date | None,
                 as_of: date) -> Scope:
    organs = await organ_scope(session, organ_code, include_subordinates)
    return Scope(organs=organs, start=start or date(as_of.year, 1, 1), as_of=as_of)


async def _card(session: AsyncSession, sheet: dict[str, Any], organ_code: str, include_subordinates: bool,
                scope: Scope) -> dict[str, Any]:
    """Figures from the aggregates (`Metric.counts`), each metric once per card."""
    indicators, counted = [], {}
    for ind in sheet["indicators"]:
        metric = METRICS[ind["metric"]]
        if ind["metric"] not in counted:
            counted[ind["metric"]] = await metric.counts(session, scope)
        figure = _figure_of(metric.kind, *counted[ind["metric"]])
        score = _score(ind, metric.kind, figure)
        indicators.append({
            "key": ind["key"], "metric": ind["metric"], "kind": metric.kind, "name_zh": ind["name_zh"],
            "name_en": ind["name_en"], "source": ind["source"], "pass_if": ind["pass_if"],
            "scoring": ind.get("scoring", "pass_fail"), "max_points": float(ind["points"]), "veto": ind["veto"],
            **figure, **score, "vetoes": bool(ind["veto"]) and not score["passed"],
            "records_url": f"/api/v1/stats/scorecards/{organ_code}/metrics/{ind['metric']}/records"
                           f"?as_of={scope.as_of.isoformat()}&from={scope.start.isoformat()}"
                           f"&include_subordinates={str(include_subordinates).lower()}"})
    total = round(sum(i["points"] for i in indicators), 2)
    vetoed = [i["key"] for i in indicators if i["vetoes"]]
    pass_mark = float(sheet.get("pass_mark", 0))
    verdict = "vetoed" if vetoed else ("pass" if total >= pass_mark else "fail")
    return {"indicators": indicators, "total_points": total,
            "max_points": round(sum(i["max_points"] for i in indicators), 2), "pass_mark": pass_mark,
            "veto_items": vetoed, "verdict": verdict}


def _sheet_ref(sheet: dict[str, Any]) -> dict[str, Any]:
    return {"id": sheet["id"], "version": sheet["version"], "name": sheet["name"], "source": sheet["source"],
            "builtin": sheet["builtin"]}


async def scorecard(session: AsyncSession, organ_code: str, include_subordinates: bool, start: date | None,
                    as_of: date, sheet_id: str | None, sheet_version: int | None) -> dict[str, Any]:
    sheet = await load_sheet(session, sheet_id, sheet_version)
    scope = await _scope(session, organ_code, include_subordinates, start, as_of)
    organ = await session.get(OrganFact, organ_code)
    assert organ is not None
    return {"organ_code": organ_code, "organ_name": organ.name, "include_subordinates": include_subordinates,
            "from": scope.start, "as_of": scope.as_of, "sheet": _sheet_ref(sheet),
            **await _card(session, sheet, organ_code, include_subordinates, scope)}


async def metric_records(session: AsyncSession, organ_code: str, include_subordinates: bool, start: date | None,
                         as_of: date, metric: str) -> tuple[Records, dict[str, Any]]:
    """Every record behind the figure (in order; the endpoint pages them) and the figure itself."""
    scope = await _scope(session, organ_code, include_subordinates, start, as_of)
    kind = METRICS[metric].kind
    records = await METRICS[metric].compute(session, scope)
    return records, {"organ_code": organ_code, "include_subordinates": include_subordinates, "from": scope.start,
                     "as_of": scope.as_of, "metric": metric, "kind": kind, **_figure(kind, records)}


async def ranking(session: AsyncSession, organ_code: str, start: date | None, as_of: date, sheet_id: str | None,
                  sheet_version: int | None) -> dict[str, Any]:
    """排名: the direct subordinates of an organ, each scored over its own subtree (roll-up), ranked by verdict
    (not vetoed first) then points; equal cards share a rank."""
    sheet = await load_sheet(session, sheet_id, sheet_version)
    await organ_scope(session, organ_code, False)  # 404 for an unknown organ
    children = (await session.execute(select(OrganFact.code, OrganFact.name).where(
        OrganFact.parent_code == organ_code).order_by(OrganFact.code))).all()
    cards = []
    for code, name in children:
        scope = await _scope(session, code, True, start, as_of)
        card = await _card(session, sheet, code, True, scope)
        cards.append({"organ_code": code, "organ_name": name, "total_points": card["total_points"],
                      "max_points": card["max_points"], "verdict": card["verdict"], "veto_items": card["veto_items"]})
    cards.sort(key=lambda c: (c["verdict"] == "vetoed", -c["total_points"], c["organ_code"]))
    rank, previous = 0, None
    for position, card in enumerate(cards, 1):
        key = (card["verdict"] == "vetoed", card["total_points"])
        if key != previous:
            rank, previous = position, key
        card["rank"] = rank
    start_day = start or date(as_of.year, 1, 1)
    return {"organ_code": organ_code, "from": start_day, "as_of": as_of, "sheet": _sheet_ref(sheet),
            "organs": cards}


# --- monthly series and the reminder work-list ----------------------------------------------------------------------

MAX_SERIES_MONTHS = 36


def month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


async def series(session: AsyncSession, organ_code: str, include_subordinates: bool, first: tuple[int, int],
                 last: tuple[int, int], today_: date, sheet_id: str | None,
                 sheet_version: int | None) -> dict[str, Any]:
    """月度走势: the card as of each month's last day (the current month: today), each over its year to date —
    the same card `GET /scorecards/{organ}?as_of=<that day>` gives, so a month's point never moves afterwards.
    Months after today are left out."""
    sheet = await load_sheet(session, sheet_id, sheet_version)
    await organ_scope(session, organ_code, include_subordinates)  # 404 for an unknown organ
    points = []
    year, month = first
    while (year, month) <= last:
        day = min(month_end(year, month), today_)
        if day < date(year, month, 1):
            break
        scope = await _scope(session, organ_code, include_subordinates, None, day)
        card = await _card(session, sheet, organ_code, include_subordinates, scope)
        points.append({"month": f"{year:04d}-{month:02d}", "as_of": day, "total_points": card["total_points"],
                       "max_points": card["max_points"], "verdict": card["verdict"], "veto_items": card["veto_items"],
                       "indicators": [{"key": i["key"], "value": i["value"], "status": i["status"],
                                       "points": i["points"]} for i in card["indicators"]]})
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return {"organ_code": organ_code, "include_subordinates": include_subordinates, "sheet": _sheet_ref(sheet),
            "months": points}


def _to_fix(indicator: dict[str, Any], record: dict[str, Any]) -> bool:
    """The records that make the figure fail: counted ones where the rule caps the figure (`<=`: stale columns,
    breaches, corrected appeals), the uncounted ones where it asks for a minimum (`>=`: late publications, replies,
    policies without a 解读)."""
    return record["counted"] if indicator["pass_if"]["op"] == "<=" else not record["counted"]


async def reminders(session: AsyncSession, organ_code: str, include_subordinates: bool, start: date | None,
                    as_of: date, sheet_id: str | None, sheet_version: int | None, top: int) -> dict[str, Any]:
    """先改什么 · what to fix first: the failing indicators of the card, those that veto it (单项否决) first, then by
    points lost (max − points), then the sheet's order; each with its first `top` records to fix (the drill-down's
    own records and order, so `records_url` lists the same and more)."""
    sheet = await load_sheet(session, sheet_id, sheet_version)
    scope = await _scope(session, organ_code, include_subordinates, start, as_of)
    card = await _card(session, sheet, organ_code, include_subordinates, scope)
    order = {i["key"]: n for n, i in enumerate(card["indicators"])}
    failing = [i for i in card["indicators"] if i["status"] == "fail"]
    failing.sort(key=lambda i: (not i["vetoes"], -(i["max_points"] - i["points"]), order[i["key"]]))
    items, cache = [], {}
    for i in failing:
        if i["metric"] not in cache:  # the records of the failing indicators only
            cache[i["metric"]] = await METRICS[i["metric"]].compute(session, scope)
        to_fix = [r for r in cache[i["metric"]] if _to_fix(i, r)]
        items.append({"key": i["key"], "metric": i["metric"], "name_zh": i["name_zh"], "name_en": i["name_en"],
                      "veto": i["veto"], "vetoes": i["vetoes"], "value": i["value"], "pass_if": i["pass_if"],
                      "points": i["points"], "max_points": i["max_points"],
                      "points_lost": round(i["max_points"] - i["points"], 2), "to_fix": len(to_fix),
                      "records": to_fix[:top], "records_url": i["records_url"]})
    return {"organ_code": organ_code, "include_subordinates": include_subordinates, "from": scope.start,
            "as_of": scope.as_of, "sheet": _sheet_ref(sheet), "verdict": card["verdict"],
            "total_points": card["total_points"], "reminders": items}
