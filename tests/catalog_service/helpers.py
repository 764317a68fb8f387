"""Test helpers for the catalogue: organs and documents made through the API."""

import itertools
from typing import Any

from catalog_service.codes import uscc_check_char
from tests.support import auth, expect_status

API = "/api/v1/catalog"
_serial = itertools.count(1)


def new_code() -> str:
    base = f"11440100MC{next(_serial):07d}"
    return base + uscc_check_char(base)


async def make_organ(client, name: str = "测试局", *, parent: str | None = None, kind: str = "department") -> str:
    code = new_code()
    body: dict[str, Any] = {"code": code, "name": name, "kind": kind}
    if parent:
        body["parent_code"] = parent
    r = await client.post(f"{API}/organs", headers=auth("admin"), json=body)
    assert r.status_code == 201, r.text
    return code


class Staff:
    """Tokens for the catalogue roles of one organ."""

    def __init__(self, organ: str) -> None:
        self.organ = organ
        self.drafter = auth("drafter", organ=organ, sub=f"drafter@{organ}", name="张拟稿")
        self.division_head = auth("division_head", organ=organ, sub=f"division@{organ}", name="李处长")
        self.unit_head = auth("unit_head", organ=organ, sub=f"unit@{organ}", name="王主任")
        self.secrecy_officer = auth("secrecy_officer", organ=organ, sub=f"secrecy@{organ}", name="赵保密")


def with_etag(headers: dict[str, str], etag: str) -> dict[str, str]:
    return {**headers, "If-Match": etag}


async def draft(client, staff: Staff, **fields: Any):
    body = {"title": "关于开展2026年政务公开工作的通知", "body": "各单位：现将有关事项通知如下。", "genre": "notice",
            "proposed_attribute": "proactive", **fields}
    r = await client.post(f"{API}/documents", headers=staff.drafter, json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"], r.headers["etag"]


async def act(client, headers, doc_id: str, action: str, etag: str, body: dict | None = None, expect: int = 200,
              expect_code: str | None = None):
    r = await client.post(f"{API}/documents/{doc_id}/{action}", headers=with_etag(headers, etag), json=body or {})
    expect_status(r, expect, expect_code)
    return r


async def publish(client, staff: Staff, **fields: Any) -> str:
    doc_id, etag = await draft(client, staff, **fields)
    etag = (await act(client, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(client, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    await act(client, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})
    return doc_id


# ---- catalogue search fixtures (test_search.py): rows written directly, the projection applied ----------------------
import json  # noqa: E402  (appended section: the head of this module is edited concurrently)
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, date, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import select  # noqa: E402

from catalog_service.domain.events import emit_document_event  # noqa: E402
from catalog_service.domain.projection import refresh_projection  # noqa: E402
from catalog_service.models import Document, Organ, Redaction, new_id  # noqa: E402
from catalog_service.textfold import fold  # noqa: E402
from services.db import Database  # noqa: E402


def folded_text(doc: Document) -> str:
    """A record's public text as search folds it (NFKC, 繁→简, lower case): the truth searches are checked against
    (what the dropped column document.search_text held)."""
    return fold("\n".join(filter(None, [
        doc.public_title, doc.doc_number or "", doc.index_no or "", doc.public_summary or "",
        " ".join(doc.keywords or []), doc.public_body])))

SEED_DOCUMENTS = Path(__file__).resolve().parents[2] / "catalog_service" / "demo_data" / "seed_documents.jsonl"
SEED_GENRES = {"通知": "notice", "方案": "plan", "报告": "report"}


@dataclass
class SearchFixture:
    """Organs (parent ⊃ child, and an unrelated one) and the documents the search tests know about."""

    parent: str
    child: str
    other: str
    public: list[dict[str, Any]] = field(default_factory=list)  # every record the public may find
    canaries: dict[str, str] = field(default_factory=dict)  # kind → id of records the public must never find

    def expected(self, *terms: str) -> int:
        """How many public records contain every (folded) term: the truth a search must reproduce."""
        return sum(all(t in d["search_text"] for t in terms) for d in self.public)


async def seed_search_fixture(db: Database) -> SearchFixture:
    """The 18 seed documents (Simplified and Traditional) published, alternating between a parent organ and its
    subordinate; plus canaries with distinctive words (蓝鲸…) in states the public must never see, and one published
    record whose only occurrence of 蓝鲸丁 is redacted (区分处理)."""
    fx = SearchFixture(parent=new_code(), child=new_code(), other=new_code())
    async with db.transaction() as session:
        parent_id, child_id, other_id = new_id(), new_id(), new_id()
        session.add_all([
            Organ(id=parent_id, code=fx.parent, name="检索市人民政府办公厅", kind="department", path=f"/{parent_id}/"),
            Organ(id=child_id, code=fx.child, name="检索市东区政务服务中心", kind="department", parent_id=parent_id,
                  path=f"/{parent_id}/{child_id}/"),
            Organ(id=other_id, code=fx.other, name="另一市财政局", kind="department", path=f"/{other_id}/")])
        await session.flush()

        def document(n: int, organ_id: str, organ_code: str, **fields: Any) -> Document:
            defaults = {"subject_category": "general_affairs", "article20_item": "1", "validity": "in_force",
                        "attribute": "proactive", "keywords": [], "key_areas": [], "created_by": "search-test"}
            doc = Document(organ_id=organ_id, **{**defaults, **fields})
            year = (fields.get("published_at") or datetime(2020, 1, 1, tzinfo=UTC)).year
            doc.index_no = f"{organ_code}/{year}-{n:05d}"
            refresh_projection(doc, [])
            return doc

        for n, line in enumerate(SEED_DOCUMENTS.read_text(encoding="utf-8").splitlines()):
            record = json.loads(line)
            published = record["published_date"] or record["written_date"]
            # The 2012 annual report has no date: published at 20:00 UTC on 2012-12-31, i.e. 2013 in Beijing.
            published_at = (datetime.fromisoformat(published).replace(hour=1, tzinfo=UTC) if published
                            else datetime(2012, 12, 31, 20, 0, tzinfo=UTC))
            organ_id, organ_code = (parent_id, fx.parent) if n % 2 == 0 else (child_id, fx.child)
            body = record["body"]
            doc = document(
                n + 1, organ_id, organ_code, title=record["title"], doc_number=record["doc_number"], body=body,
                summary=body[:120], genre=SEED_GENRES.get(record["genre"], "other"), status="published",
                published_at=published_at, written_date=date.fromisoformat(record["written_date"])
                if record["written_date"] else None,
                key_areas=(["fiscal_budget", "public_resources"] if n % 3 == 0 else ["fiscal_budget"])
                if "预算" in body else [],
                subject_category="finance" if "决算" in body else "general_affairs",
                validity="repealed" if n == 16 else "in_force")
            session.add(doc)
            fx.public.append({"title": record["title"], "script": record["script"], "doc": doc})

        canary = {"draft": ("draft", False), "classified": ("published", True), "withdrawn": ("withdrawn", False)}
        for i, (kind, (status, classified)) in enumerate(canary.items()):
            doc = document(100 + i, parent_id, fx.parent, title=f"蓝鲸{'甲乙丙'[i]}测试文件（{kind}）",
                           body=f"本文件含有检索金丝雀词语蓝鲸{'甲乙丙'[i]}，公众不得检索到。", status=status,
                           classified=classified, attribute=None if kind == "draft" else "proactive",
                           published_at=datetime(2024, 5, 1, 2, tzinfo=UTC) if status != "draft" else None)
            session.add(doc)
            fx.canaries[kind] = doc
        other_draft = document(200, other_id, fx.other, title="蓝鲸戊测试文件（其他机关草稿）",
                               body="另一机关的草稿：蓝鲸戊。", status="draft")
        session.add(other_draft)
        fx.canaries["other_organ_draft"] = other_draft

        body = "区分处理测试：本段公开。申请人姓名蓝鲸丁已删除。其余内容照常公开。"
        redacted = document(300, child_id, fx.child, title="区分处理测试文件", body=body, status="published",
                            genre="notice", published_at=datetime(2024, 6, 1, 2, tzinfo=UTC))
        session.add(redacted)
        await session.flush()
        start = body.index("蓝鲸丁")
        segment = Redaction(document_id=redacted.id, field="body", start=start, end=start + 3, text="蓝鲸丁",
                            prefix=body[:start][-16:], suffix=body[start + 3:][:16], state="anchored",
                            ground="third_party_rights", created_by="search-test", created_role="secrecy_officer")
        session.add(segment)
        refresh_projection(redacted, [segment])
        fx.public.append({"title": "区分处理测试文件", "script": "simplified", "doc": redacted})
        fx.canaries["redacted"] = redacted
        await session.flush()
        # Every write path of the catalogue announces its records on the outbox; so does this seed, and the search
        # index (domain/indexer.py) picks them up from there like any other change.
        organs = {o.id: o for o in (await session.execute(select(Organ))).scalars()}
        for doc in [*(entry["doc"] for entry in fx.public), *fx.canaries.values()]:
            emit_document_event(session, doc, organs[doc.organ_id], "document.published")
        await session.flush()
        for entry in fx.public:
            doc = entry.pop("doc")
            entry.update(id=doc.id, index_no=doc.index_no, doc_number=doc.doc_number, search_text=folded_text(doc),
                         organ_code=fx.parent if doc.organ_id == parent_id else fx.child,
                         published_at=doc.published_at)
        fx.canaries = {kind: doc.id for kind, doc in fx.canaries.items()}  # type: ignore[misc]
    return fx
