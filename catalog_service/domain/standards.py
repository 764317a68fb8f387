"""基层政务公开标准目录 (standard catalogues, issue 16 item 4): import, adoption, mapping, coverage.

A standard catalogue is shared reference data: one area's item list from a 标准指引 of 国办发〔2019〕54号 (each
item with 公开内容(要素), 公开依据, 公开时限, 公开主体, 公开渠道和载体, 公开对象, 公开方式), imported by an admin as
JSON with its source named; importing a code again stores the next version. An organ adopts a catalogue (all items or
some) from a day (`adopted_on`). Its public records map to an adopted item by the item's rules (体裁, 主题分类, a
keyword in the title — data in the catalogue) or explicitly by the organ's staff (from the day they map it).

Coverage on day D (覆盖率): of the items the organ had adopted by D, the share with at least one mapped record public
on D (published by D). Per item: the last publication, and for items with a calendar rule the next due date — a
periodic item (e.g. monthly, 10 working days after the month's end) is next due after the period of its last
publication ends (its adoption's period when nothing is published yet), on the working-day calendar the publication
deadlines use; a yearly item (by MM-DD) on the first such day after its last publication. Event-driven limits (自信息
形成或变更之日起N个工作日内, N days after an approval, 实时/及时) have no date of their own: each record has its own
publication deadline (条例第二十六条).

Every adoption and mapping change is announced on the outbox (standard_adoption.changed, with the items' rules and the
explicit mappings) so the statistics service scores the same coverage (stats_service/domain/scorecard.py).
"""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from catalog_service.domain.calendar import WorkingCalendar, add_working_days
from catalog_service.domain.visibility import public_condition, staff_condition
from catalog_service.errors import (
    InvalidReference,
    OrganNotFound,
    StandardAdoptionNotFound,
    StandardCatalogueNotFound,
    StandardMappingExists,
)
from catalog_service.models import Document, Organ, StandardAdoption, StandardCatalogue, StandardMapping, outbox
from catalog_service.schemas import (
    StandardAdoptionCreate,
    StandardAdoptionRead,
    StandardCatalogueImport,
    StandardCatalogueRead,
    StandardMappingCreate,
    StandardMappingRead,
)
from services.auth import Principal
from services.outbox import record_event
from services.pagination import keyset_page

__all__ = ["adopt", "add_mapping", "coverage", "get_adoption", "get_catalogue", "import_catalogue",
           "list_adoptions", "list_catalogues", "matches", "next_due"]


# --- catalogues ---------------------------------------------------------------------------------------------------

async def import_catalogue(session: AsyncSession, data: StandardCatalogueImport,
                           principal: Principal) -> StandardCatalogueRead:
    last = (await session.execute(select(StandardCatalogue.version).where(StandardCatalogue.code == data.code)
                                  .order_by(StandardCatalogue.version.desc()).limit(1))).scalar_one_or_none()
    body = data.model_dump(mode="json")
    for entry in body["entries"]:  # the rule as written: only the fields its kind uses
        entry["time_limit"] = {k: v for k, v in entry["time_limit"].items() if v is not None}
    row = StandardCatalogue(code=data.code, version=(last or 0) + 1, area=data.area, title=data.title,
                            source=body["source"], entries=body["entries"], imported_by=principal.sub)
    session.add(row)
    await session.flush()
    return StandardCatalogueRead.model_validate(row)


async def get_catalogue(session: AsyncSession, catalogue_id: str) -> StandardCatalogue:
    row = await session.get(StandardCatalogue, catalogue_id)
    if row is None:
        raise StandardCatalogueNotFound(f"No standard catalogue {catalogue_id}.")
    return row


async def list_catalogues(session: AsyncSession, cursor: str | None,
                          limit: int) -> tuple[list[StandardCatalogueRead], str | None]:
    rows, next_cursor = await keyset_page(
        session, select(StandardCatalogue), [(StandardCatalogue.created_at, False), (StandardCatalogue.id, False)],
        cursor, limit, key=lambda c: [c.created_at.isoformat(), c.id])
    return [StandardCatalogueRead.model_validate(r) for r in rows], next_cursor


# --- adoptions and mappings ---------------------------------------------------------------------------------------

def _adoption_read(adoption: StandardAdoption, organ_code: str, catalogue: StandardCatalogue) -> StandardAdoptionRead:
    return StandardAdoptionRead(
        id=adoption.id, organ_code=organ_code, catalogue_id=catalogue.id, catalogue_code=catalogue.code,
        catalogue_version=catalogue.version, area=catalogue.area, item_keys=list(adoption.item_keys),
        adopted_on=adoption.adopted_on, version=adoption.version, created_at=adoption.created_at)


async def _announce(session: AsyncSession, adoption: StandardAdoption, organ_code: str,
                    catalogue: StandardCatalogue) -> None:
    """The adoption with its items' rules and explicit mappings: all the statistics need to score coverage."""
    items = {i["key"]: i for i in catalogue.entries}
    # Records published before the adoption: their events named no keyword of it, so the adoption names those whose
    # public title a keyword rule matches (ids only). Later records name their keywords in their own events.
    keyworded = [k for k in adoption.item_keys if _rules(items[k])["keywords"]]
    titles = [] if not keyworded else (await session.execute(select(Document.id, Document.public_title).where(
        Document.organ_id == adoption.organ_id, public_condition()).order_by(Document.id))).all()
    mappings = (await session.execute(select(StandardMapping).where(StandardMapping.adoption_id == adoption.id)
                                      .order_by(StandardMapping.mapped_on, StandardMapping.id))).scalars()
    record_event(session, outbox, "standard_adoption.changed", entity_type="standard_adoption",
                 entity_id=adoption.id, version=adoption.version, payload={
                     "id": adoption.id, "organ_code": organ_code, "catalogue_code": catalogue.code,
                     "catalogue_version": catalogue.version, "area": catalogue.area,
                     "adopted_on": adoption.adopted_on.isoformat(),
                     "items": [{"key": k, "title": items[k]["title"], "time_limit": items[k]["time_limit"],
                                **_rules(items[k]),
                                "keyword_documents": [i for i, t in titles if any(
                                    w in (t or "") for w in _rules(items[k])["keywords"])]}
                               for k in adoption.item_keys],
                     "mappings": [{"item_key": m.item_key, "document_id": m.document_id,
                                   "mapped_on": m.mapped_on.isoformat()} for m in mappings]})


def _rules(item: dict[str, Any]) -> dict[str, list[str]]:
    match = item.get("match") or {}
    return {"genres": list(match.get("genres") or []),
            "subject_categories": list(match.get("subject_categories") or []),
            "keywords": list(match.get("keywords") or [])}


async def adopt(session: AsyncSession, data: StandardAdoptionCreate, today: date) -> StandardAdoptionRead:
    organ = (await session.execute(select(Organ).where(Organ.code == data.organ_code))).scalar_one_or_none()
    if organ is None:
        raise OrganNotFound(f"No organ {data.organ_code}.")
    catalogue = await session.get(StandardCatalogue, data.catalogue_id)
    if catalogue is None:
        raise InvalidReference("标准目录不存在", errors=[
            {"loc": ["body", "catalogue_id"], "msg": "没有这个标准目录", "type": "invalid_reference"}])
    keys = [i["key"] for i in catalogue.entries]
    wanted = keys if data.item_keys is None else list(dict.fromkeys(data.item_keys))
    unknown = [k for k in wanted if k not in keys]
    if unknown or not wanted:
        raise InvalidReference("标准目录中没有这些事项: " + ", ".join(unknown), errors=[
            {"loc": ["body", "item_keys"], "msg": "不是该标准目录的事项", "type": "invalid_reference"}])
    adoption = StandardAdoption(organ_id=organ.id, catalogue_id=catalogue.id,
                                item_keys=[k for k in keys if k in wanted], adopted_on=data.adopted_on or today)
    session.add(adoption)
    await session.flush()
    await _keep_keywords(session, organ)
    await _announce(session, adoption, organ.code, catalogue)
    return _adoption_read(adoption, organ.code, catalogue)


async def _keep_keywords(session: AsyncSession, organ: Organ) -> None:
    """Organ.standard_keywords = the title keywords of every item the organ adopted (derived data: neither the
    organ's version nor its updated_at moves)."""
    keywords: set[str] = set()
    for keys, entries in await session.execute(
            select(StandardAdoption.item_keys, StandardCatalogue.entries)
            .join(StandardCatalogue, StandardCatalogue.id == StandardAdoption.catalogue_id)
            .where(StandardAdoption.organ_id == organ.id)):
        keywords.update(k for e in entries if e["key"] in keys for k in _rules(e)["keywords"])
    # The organ's own row, keeping updated_at (its directory entry did not change); the loaded object learns the
    # value without becoming dirty (a flush would move updated_at).
    await session.execute(update(Organ).where(Organ.id == organ.id).values(
        standard_keywords=sorted(keywords), updated_at=Organ.updated_at))
    set_committed_value(organ, "standard_keywords", sorted(keywords))


async def get_adoption(session: AsyncSession, adoption_id: str) -> StandardAdoptionRead:
    adoption = await session.get(StandardAdoption, adoption_id)
    if adoption is None:
        raise StandardAdoptionNotFound(f"No adoption {adoption_id}.")
    organ = await session.get(Organ, adoption.organ_id)
    return _adoption_read(adoption, organ.code, await get_catalogue(session, adoption.catalogue_id))


async def list_adoptions(session: AsyncSession, organ_code: str | None, cursor: str | None,
                         limit: int) -> tuple[list[StandardAdoptionRead], str | None]:
    stmt = select(StandardAdoption)
    if organ_code:
        stmt = stmt.where(StandardAdoption.organ_id.in_(select(Organ.id).where(Organ.code == organ_code)))
    rows, next_cursor = await keyset_page(
        session, stmt, [(StandardAdoption.created_at, False), (StandardAdoption.id, False)], cursor, limit,
        key=lambda a: [a.created_at.isoformat(), a.id])
    out = []
    for a in rows:
        organ = await session.get(Organ, a.organ_id)
        out.append(_adoption_read(a, organ.code, await get_catalogue(session, a.catalogue_id)))
    return out, next_cursor


async def add_mapping(session: AsyncSession, principal: Principal, adoption_id: str, data: StandardMappingCreate,
                      today: date) -> StandardMappingRead:
    """Staff map a record of their own organ to an item their organ adopted. Another organ's adoption answers 404
    as if it did not exist; a record the caller cannot see or of another organ is 422 (no existence oracle)."""
    adoption = await session.get(StandardAdoption, adoption_id)
    organ = await session.get(Organ, adoption.organ_id) if adoption is not None else None
    if adoption is None or organ is None or organ.code != principal.organ:
        raise StandardAdoptionNotFound(f"No adoption {adoption_id} of your organ.")
    if data.item_key not in adoption.item_keys:
        raise InvalidReference(f"该采用不含事项 {data.item_key}", errors=[
            {"loc": ["body", "item_key"], "msg": "不是已采用的事项", "type": "invalid_reference"}])
    found = (await session.execute(select(Document.id).where(
        Document.id == data.document_id, staff_condition(principal), Document.organ_id == organ.id))).first()
    if found is None:
        raise InvalidReference("不是本机关的记录", errors=[
            {"loc": ["body", "document_id"], "msg": "不是本机关的记录", "type": "invalid_reference"}])
    taken = (await session.execute(select(StandardMapping.id).where(
        StandardMapping.adoption_id == adoption.id, StandardMapping.item_key == data.item_key,
        StandardMapping.document_id == data.document_id))).first()
    if taken is not None:
        raise StandardMappingExists("该记录已对应到此事项。")
    mapping = StandardMapping(adoption_id=adoption.id, item_key=data.item_key, document_id=data.document_id,
                              mapped_on=today, mapped_by=principal.sub)
    session.add(mapping)
    adoption.version += 1
    await session.flush()
    await _announce(session, adoption, organ.code, await get_catalogue(session, adoption.catalogue_id))
    return StandardMappingRead.model_validate(mapping)


# --- coverage -----------------------------------------------------------------------------------------------------

def matches(rules: dict[str, list[str]], genre: str | None, subject: str | None, title: str) -> bool:
    """An item's rules (any of them) against a record: its 体裁, its 主题分类, a keyword in its title. The statistics
    service applies this same function to the facts it holds."""
    return (genre in rules["genres"] or subject in rules["subject_categories"]
            or any(k in title for k in rules["keywords"]))


def _period_end(day: date, every: int, unit: str) -> date:
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * every
    # Periods counted from January: month 1..12 falls in block (month-1)//months; the block ends at its last month.
    last_month = ((day.month - 1) // months + 1) * months
    year, month = day.year + (last_month - 1) // 12, (last_month - 1) % 12 + 1
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def _yearly(mm_dd: str, year: int) -> date:
    month, day = (int(x) for x in mm_dd.split("-"))
    try:
        return date(year, month, day)
    except ValueError:  # 02-29 in a common year: the last day of February
        return date(year, 3, 1) - timedelta(days=1)


def next_due(rule: dict[str, Any], last: date | None, adopted_on: date,
             calendar: WorkingCalendar) -> tuple[date | None, bool]:
    """(next due date, provisional) for the calendar rules; (None, False) for event-driven ones."""
    if rule["kind"] == "periodic":
        end = _period_end(last or adopted_on, rule["every"], rule["unit"])
        if not rule.get("working_days"):
            return end, False
        due = add_working_days(calendar, end, rule["working_days"])
        return due.date, due.provisional
    if rule["kind"] == "yearly":
        if last is None:
            candidate = _yearly(rule["by"], adopted_on.year)
            return (candidate if candidate >= adopted_on else _yearly(rule["by"], adopted_on.year + 1)), False
        candidate = _yearly(rule["by"], last.year)
        return (candidate if candidate > last else _yearly(rule["by"], last.year + 1)), False
    return None, False


async def coverage(session: AsyncSession, organ_code: str, as_of: date, calendar: WorkingCalendar) -> dict[str, Any]:
    from catalog_service.domain.documents import SHANGHAI

    organ = (await session.execute(select(Organ).where(Organ.code == organ_code))).scalar_one_or_none()
    if organ is None:
        raise OrganNotFound(f"No organ {organ_code}.")
    adoptions = (await session.execute(select(StandardAdoption).where(
        StandardAdoption.organ_id == organ.id, StandardAdoption.adopted_on <= as_of)
        .order_by(StandardAdoption.adopted_on, StandardAdoption.id))).scalars().all()
    # The organ's records public now and published by D (a report of D: nothing published later counts).
    docs = []
    if adoptions:
        for doc in (await session.execute(select(Document).where(
                Document.organ_id == organ.id, public_condition(), Document.published_at.is_not(None))
                .order_by(Document.published_at, Document.id))).scalars():
            day = doc.published_at.astimezone(SHANGHAI).date()
            if day <= as_of:
                docs.append((doc, day))
    items, covered = [], 0
    for adoption in adoptions:
        catalogue = await get_catalogue(session, adoption.catalogue_id)
        explicit: dict[str, set[str]] = {}
        for m in (await session.execute(select(StandardMapping).where(
                StandardMapping.adoption_id == adoption.id, StandardMapping.mapped_on <= as_of))).scalars():
            explicit.setdefault(m.item_key, set()).add(m.document_id)
        for item in catalogue.entries:
            if item["key"] not in adoption.item_keys:
                continue
            rules, mine = _rules(item), explicit.get(item["key"], set())
            # The public projection of the title (区分处理): shown, and matched, never the redacted original.
            records = [{"id": d.id, "index_no": d.index_no, "title": d.public_title, "published_on": day,
                        "mapped": "explicit" if d.id in mine else "rule"}
                       for d, day in docs
                       if d.id in mine or matches(rules, d.genre, d.subject_category, d.public_title)]
            last = max((r["published_on"] for r in records), default=None)
            due, provisional = next_due(item["time_limit"], last, adoption.adopted_on, calendar)
            covered += bool(records)
            items.append({"id": f"{adoption.id}:{item['key']}", "adoption_id": adoption.id,
                          "catalogue_code": catalogue.code, "key": item["key"], "title": item["title"],
                          "time_limit_text": item["time_limit_text"], "time_limit": item["time_limit"],
                          "covered": bool(records), "last_published_on": last, "next_due_on": due,
                          "next_due_provisional": provisional, "overdue": due is not None and due < as_of,
                          "records": records})
    return {"organ_code": organ.code, "as_of": as_of, "adopted": len(items), "covered": covered,
            "coverage": round(covered / len(items), 4) if items else None, "entries": items}
