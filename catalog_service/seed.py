"""Demo data for `make run`: demo organs and the 18 seed documents (Simplified and Traditional) published, and one
area's 基层政务公开标准目录 (demo_data/standard_catalogue_finance.json, its source named in it) adopted by the demo
street office.

Idempotent: running it again changes nothing. `python -m catalog_service.seed`
"""

import asyncio
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from catalog_service.codes import uscc_check_char
from catalog_service.config import Settings
from catalog_service.domain import organs as domain
from catalog_service.domain import standards as standard_domain
from catalog_service.domain import synonyms as synonym_domain
from catalog_service.domain.calendar import CalendarCache
from catalog_service.domain.documents import publication_due
from catalog_service.domain.events import emit_document_event
from catalog_service.domain.projection import refresh_projection
from catalog_service.models import Document, DocumentIssuer, Organ, ReviewStep, SearchSynonym, StandardCatalogue
from catalog_service.schemas import OrganCreate, StandardAdoptionCreate, StandardCatalogueImport, SynonymCreate
from services.auth import Principal
from services.db import Database, make_engine

SEED_FILE = Path(__file__).parent / "demo_data" / "seed_documents.jsonl"
STANDARD_FILE = Path(__file__).parent / "demo_data" / "standard_catalogue_finance.json"
GENRES = {"通知": "notice", "方案": "plan", "报告": "report", "意见": "opinion", "公告": "announcement"}


def demo_code(base17: str) -> str:
    return base17 + uscc_check_char(base17)


# (code base, name, short name, kind, parent index)
DEMO_ORGANS = [
    ("11440100MB0000001", "示范市人民政府", "示范市政府", "peoples_government", None),
    ("11440100MB0000002", "示范市人民政府办公厅", "市政府办公厅", "department", 0),
    ("11440100MB0000003", "示范市财政局", "市财政局", "department", 0),
    ("11440101MB0000004", "示范市东湖区人民政府", "东湖区政府", "peoples_government", 0),
    ("11440101MB0000005", "示范市东湖区城南街道办事处", "城南街道", "township_street", 3),
]
DEMO_ORGAN_CODES = [demo_code(base) for base, *_ in DEMO_ORGANS]

# 检索词典 demo entries: what people call things (abbreviation / short form / full name). Administrators keep the real
# dictionary through /api/v1/catalog/search/synonyms.
DEMO_SYNONYMS = [
    ["公共租赁住房", "公租房"],
    ["发展和改革委员会", "发展改革委", "发改委"],
    ["年度报告", "年报"],
    ["社会保险", "社保"],
    ["医疗保障", "医保"],
    ["住房公积金", "公积金"],
    ["最低生活保障", "低保"],
    ["人力资源和社会保障", "人社"],
    ["住房和城乡建设", "住建"],
    ["市场监督管理", "市场监管"],
    ["卫生健康委员会", "卫健委"],
    ["依申请公开", "信息公开申请"],
]


async def seed(database: Database, settings: Settings) -> dict[str, int]:
    created = {"organs": 0, "documents": 0, "synonyms": 0, "standard_catalogues": 0}
    async with database.transaction() as session:
        for base, name, short, kind, parent in DEMO_ORGANS:
            code = demo_code(base)
            if (await session.execute(select(Organ.id).where(Organ.code == code))).first():
                continue
            await domain.create_organ(session, OrganCreate(
                code=code, name=name, short_name=short, kind=kind,
                parent_code=DEMO_ORGAN_CODES[parent] if parent is not None else None,
                office_address="示范市人民路1号", office_hours="工作日 9:00-12:00, 14:00-17:30",
                phone="020-12345678", fax="020-12345679", email="gongkai@example.gov.cn"))
            created["organs"] += 1
    async with database.transaction() as session:
        known = {tuple(words) for words in (await session.execute(select(SearchSynonym.words))).scalars()}
        for words in DEMO_SYNONYMS:
            if tuple(words) not in known:
                await synonym_domain.create_synonym(session, SynonymCreate(words=words, note="演示词条"))
                created["synonyms"] += 1
    async with database.transaction() as session:
        calendar = await CalendarCache().current(session)  # the years learnt from the request service, else the package
        organs = [await domain.get_organ_by_code(session, c) for c in DEMO_ORGAN_CODES]
        for n, line in enumerate(SEED_FILE.read_text(encoding="utf-8").splitlines()):
            record = json.loads(line)
            external_id = hashlib.sha256(f"{record['source']}|{record['title']}".encode()).hexdigest()[:32]
            exists = (await session.execute(select(Document.id).where(
                Document.source_system == "demo", Document.external_id == external_id))).first()
            if exists:
                continue
            organ = organs[1 + n % (len(organs) - 1)] if n else organs[1]
            published = date.fromisoformat(record["published_date"] or record["written_date"] or "2022-01-01")
            written = date.fromisoformat(record["written_date"]) if record["written_date"] else None
            doc = Document(
                organ_id=organ.id, title=record["title"], doc_number=record["doc_number"], body=record["body"],
                summary=record["body"][:120], genre=GENRES.get(record["genre"], "other"),
                subject_category="general_affairs", article20_item="1", key_areas=[], keywords=["政务公开"],
                written_date=written, formed_on=written or published, validity="in_force", attribute="proactive",
                proposed_attribute="proactive",
                status="published", published_at=datetime(published.year, published.month, published.day,
                                                           1, 0, tzinfo=UTC),
                source_system="demo", external_id=external_id,
                extra={"issuing_organ": record["issuing_organ"], "script": record["script"]},
                index_no=await domain.next_index_no(session, organ, published.year, settings.index_no_template),
            )
            publication_due(calendar, doc)
            refresh_projection(doc, [])
            session.add(doc)
            await session.flush()
            session.add(DocumentIssuer(document_id=doc.id, organ_id=organ.id, is_lead=True))
            session.add(ReviewStep(document_id=doc.id, seq=1, action="import_review", actor_sub="demo-seed",
                                   actor_name="演示数据", role="integration", comment="demo data: published as is",
                                   status_before=None, status_after="published", attribute_before=None,
                                   attribute_after="proactive", at=doc.published_at))
            emit_document_event(session, doc, organ, "document.published")
            created["documents"] += 1
    async with database.transaction() as session:
        created["standard_catalogues"] = await seed_standard_catalogue(session)
    return created


async def seed_standard_catalogue(session) -> int:
    """The shipped area catalogue (财政预决算, partial: see its `source`), adopted by the street office (基层)."""
    data = StandardCatalogueImport.model_validate_json(STANDARD_FILE.read_text(encoding="utf-8"))
    if (await session.execute(select(StandardCatalogue.id).where(StandardCatalogue.code == data.code))).first():
        return 0
    catalogue = await standard_domain.import_catalogue(session, data, Principal(sub="demo-seed", name="演示数据"))
    await standard_domain.adopt(session, StandardAdoptionCreate(organ_code=DEMO_ORGAN_CODES[4],
                                                                catalogue_id=catalogue.id), date.today())
    return 1


async def main() -> None:
    settings = Settings()
    database = Database(make_engine(settings.database_url))
    try:
        created = await seed(database, settings)
    finally:
        await database.dispose()
    print(f"demo data: {created['organs']} organs, {created['documents']} documents, {created['synonyms']} "
          f"search synonym entries and {created['standard_catalogues']} standard catalogue added "
          f"(organs: {', '.join(DEMO_ORGAN_CODES)})")


if __name__ == "__main__":
    asyncio.run(main())
