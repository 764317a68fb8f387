"""The confidentiality sweep's world: catalogue records in every state the public must not see, each carrying unique
canary strings in every field — title, summary, body, keywords, 文号, workflow comments, attachment content and
attachment filename, redacted segments — and who may see each of them, taken from catalog_service/domain/
visibility.py.

Canaries are lower-case ASCII cores inside Chinese text (`zq` + 8 hex digits): they survive case folding, JSON
and URL escaping, and can be searched for as a query (3+ characters: the trigram index).
"""

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from catalog_service.domain.visibility import CATALOG_STAFF_ROLES, CLASSIFIED_READERS
from tests.catalog_service.helpers import Staff, act, make_organ, with_etag
from tests.support import auth

API = "/api/v1/catalog"


def today() -> date:
    """The Beijing date now (statutory dates are Beijing dates) — read when used: a run that crosses Beijing's
    midnight (16:00 UTC) would otherwise date a confirmation before its application's submission."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def core() -> str:
    return "zq" + secrets.token_hex(4)


@dataclass
class Doc:
    key: str  # what state it was driven into
    organ: str
    id: str = ""
    index_no: str = ""
    doc_number: str = ""
    genre: str = ""
    etag: str = ""
    classified: bool = False
    public: bool = False  # published and unclassified now: the control records
    once_public: bool = False  # was published (a tombstone on the change feed is expected)
    canaries: dict[str, str] = field(default_factory=dict)  # canary → field it was planted in
    attachment_ids: list[str] = field(default_factory=list)
    withheld_attachment_ids: list[str] = field(default_factory=list)  # 区分处理: never public, even on a public record


@dataclass
class Principal:
    name: str
    headers: dict[str, str]
    roles: frozenset[str]
    organ: str | None

    @property
    def catalog_staff_of(self) -> str | None:
        """The organ whose records this principal sees in staff views (visibility.is_catalog_staff)."""
        return self.organ if self.organ and self.roles & CATALOG_STAFF_ROLES else None

    @property
    def reads_classified(self) -> bool:
        return bool(self.roles & CLASSIFIED_READERS)


@dataclass
class World:
    x: str  # the organ that owns the canary records
    y: str  # another organ (with a canary draft of its own)
    docs: list[Doc] = field(default_factory=list)
    control_marker: str = ""  # a word only in the public control record: proves public channels are crawled

    def owner_of(self, canary: str) -> Doc:
        return next(d for d in self.docs if canary in d.canaries)

    @property
    def canaries(self) -> dict[str, Doc]:
        return {c: d for d in self.docs for c in d.canaries}

    @property
    def hidden(self) -> list[Doc]:
        return [d for d in self.docs if not d.public]

    def may_see(self, who: Principal, doc: Doc, *, staff_view: bool) -> bool:
        """visibility.py: catalogue staff see every record of their own organ in staff views, classified ones only
        with the secrecy officer or unit head role; everyone else sees published, unclassified records, and only
        their public projection (no canary: the control record carries none)."""
        if not staff_view or who.catalog_staff_of != doc.organ:
            return False
        return not doc.classified or who.reads_classified

    def principals(self) -> list[Principal]:
        def p(name: str, *roles: str, organ: str | None = None, sub: str | None = None) -> Principal:
            return Principal(name, auth(*roles, organ=organ, sub=sub or f"{name}@sweep") if roles else {},
                             frozenset(roles), organ)

        staff = sorted(CATALOG_STAFF_ROLES)
        return [
            p("anonymous"),
            p("applicant_a", "applicant", sub="citizen-a"),
            p("applicant_b", "applicant", sub="citizen-b"),
            *[p(f"{role}_x", role, organ=self.x) for role in staff],
            *[p(f"{role}_y", role, organ=self.y) for role in staff],
            *[p(f"{role}_{o}", role, organ=organ) for o, organ in (("x", self.x), ("y", self.y))
              for role in ("intake_clerk", "handler", "reply_approver", "stats_officer")],
            p("auditor", "auditor", organ=self.x),
            p("admin", "admin"),
            p("integration_x", "integration", organ=self.x),
            p("service", "service"),
        ]


def _fields(doc: Doc, n: int, genre: str, *, redact_only: bool = False) -> dict[str, Any]:
    """Document fields with a canary in each; `redact_only`: canaries only where redactions will cover them."""
    c = {f: core() for f in ("title", "summary", "body", "redacted_title", "redacted_body", "keyword", "doc_number")}
    title = f"关于{c['title']}事项的通知" if not redact_only else "关于部分公开事项的通知"
    body = f"正文开始。涉密内容{c['body']}。需删除的段落{c['redacted_body']}结束。"
    summary = f"概述{c['summary']}"
    fields: dict[str, Any] = {
        "title": f"{title}{c['redacted_title']}", "summary": summary, "body": body, "genre": genre,
        "keywords": [f"词{c['keyword']}"], "doc_number": f"{c['doc_number']}〔2026〕{n}号",
        "written_date": today().isoformat(), "formed_on": today().isoformat(), "subject_category": "finance",
        "key_areas": ["fiscal_budget"], "proposed_attribute": "proactive",
    }
    for f in ("redacted_title", "redacted_body"):
        doc.canaries[c[f]] = f
    if redact_only:  # the public sees this record: only the redacted segments and the withheld file carry canaries
        fields["summary"] = "部分公开的概述"
        fields["body"] = f"正文开始。需删除的段落{c['redacted_body']}结束。"
        fields["keywords"] = ["部分公开"]
        fields["doc_number"] = f"穗财{n}〔2026〕{n}号"
    else:
        for f in ("title", "summary", "body", "keyword", "doc_number"):
            doc.canaries[c[f]] = f
    return fields


async def _attach(client: httpx.AsyncClient, staff: Staff, doc: Doc, *, withheld: bool) -> None:
    content, name = core(), core()
    r = await client.post(f"{API}/documents/{doc.id}/attachments", headers=with_etag(staff.drafter, doc.etag),
                          files={"file": (f"附件{name}.txt", f"附件正文{content}".encode(), "text/plain")},
                          data={"withheld": "true" if withheld else "false"})
    assert r.status_code == 201, r.text
    doc.etag = r.headers["etag"]
    doc.attachment_ids.append(r.json()["id"])
    if withheld:
        doc.withheld_attachment_ids.append(r.json()["id"])
    doc.canaries[content] = "attachment_content"
    doc.canaries[name] = "attachment_filename"


async def _redact(client: httpx.AsyncClient, staff: Staff, doc: Doc, text: str, field_: str, canary: str) -> None:
    start, note = text.index(canary), core()
    r = await client.post(f"{API}/documents/{doc.id}/redactions", headers=with_etag(staff.drafter, doc.etag),
                          json={"field": field_, "start": start, "end": start + len(canary),
                                "ground": "third_party_rights", "note": f"删除理由{note}"})
    assert r.status_code == 201, r.text
    doc.canaries[note] = "redaction_note"
    doc.etag = r.headers["etag"]


async def _step(client: httpx.AsyncClient, headers: dict[str, str], doc: Doc, action: str,
                body: dict[str, Any] | None = None) -> None:
    comment = core()
    body = {"comment": f"意见{comment}", **(body or {})}
    doc.canaries[comment] = f"comment:{action}"
    doc.etag = (await act(client, headers, doc.id, action, doc.etag, body)).headers["etag"]


STATES = ("classified_draft", "classified_in_review", "draft", "division_review", "unit_review", "referred",
          "approved_on_request", "approved_withheld", "scheduled", "withdrawn", "repealed_withdrawn",
          "reclassified_after_publication", "redacted_published", "other_organ_draft")
GENRES = ("normative_document", "regulation", "notice")


async def build_world(client: httpx.AsyncClient, before_reclassification: Any = None) -> World:
    """`before_reclassification(world, doc)` runs while the record to be reclassified is still public (e.g. an
    application whose catalogue suggestions pick it up)."""
    w = World(x=await make_organ(client, "金丝雀市财政局"), y=await make_organ(client, "金丝雀市教育局"))
    staff = {w.x: Staff(w.x), w.y: Staff(w.y)}
    for n, key in enumerate(STATES, start=1):
        doc = Doc(key, w.y if key == "other_organ_draft" else w.x)
        s = staff[doc.organ]
        fields = _fields(doc, n, GENRES[n % len(GENRES)], redact_only=key == "redacted_published")
        r = await client.post(f"{API}/documents", headers=s.drafter, json=fields)
        assert r.status_code == 201, r.text
        doc.id, doc.index_no, doc.etag = r.json()["id"], r.json()["index_no"], r.headers["etag"]
        doc.doc_number, doc.genre = fields["doc_number"], fields["genre"]
        w.docs.append(doc)
        await _attach(client, s, doc, withheld=True)
        if key != "redacted_published":
            await _attach(client, s, doc, withheld=False)
        by_field = {v: k for k, v in doc.canaries.items()}
        await _redact(client, s, doc, fields["body"], "body", by_field["redacted_body"])
        await _redact(client, s, doc, fields["title"], "title", by_field["redacted_title"])

        if key.startswith("classified_draft"):
            await _classify(client, s, doc)
            continue
        if key in ("draft", "other_organ_draft"):
            continue
        await _step(client, s.drafter, doc, "submit")
        if key == "division_review":
            continue
        await _step(client, s.division_head, doc, "approve")
        if key == "unit_review":
            continue
        if key == "classified_in_review":
            await _classify(client, s, doc)
            continue
        if key == "referred":
            await _step(client, s.unit_head, doc, "refer")
            continue
        if key == "approved_on_request":
            await _step(client, s.unit_head, doc, "decide", {"attribute": "on_request",
                                                             "withholding_grounds": ["internal_affairs"]})
            continue
        if key == "approved_withheld":
            await _step(client, s.unit_head, doc, "decide", {"attribute": "withheld",
                                                             "withholding_grounds": ["third_party_rights"]})
            continue
        if key == "scheduled":
            later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
            await _step(client, s.unit_head, doc, "decide", {"attribute": "proactive", "scheduled_publish_at": later})
            continue
        await _step(client, s.unit_head, doc, "decide", {"attribute": "proactive"})  # published
        doc.once_public = True
        if key == "redacted_published":
            doc.public = True
        elif key == "withdrawn":
            await _step(client, s.unit_head, doc, "withdraw")
        elif key == "repealed_withdrawn":
            await _step(client, s.unit_head, doc, "repeal", {"repeal_date": today().isoformat()})
            await _step(client, s.unit_head, doc, "withdraw")
        elif key == "reclassified_after_publication":
            if before_reclassification is not None:
                await search_index_caught_up(client)  # so that a search can find it while it is public
                await before_reclassification(w, doc)
            await _classify(client, s, doc)

    # The positive control: a plain public record of X with a marker word, and no canary.
    w.control_marker = "公开对照" + core()
    control = Doc("public_control", w.x, genre="normative_document", public=True, once_public=True)
    r = await client.post(f"{API}/documents", headers=staff[w.x].drafter, json={
        "title": f"{w.control_marker}通知", "body": f"公开内容{w.control_marker}", "genre": "normative_document",
        "written_date": today().isoformat(), "formed_on": today().isoformat(), "proposed_attribute": "proactive",
        "key_areas": ["fiscal_budget"], "subject_category": "finance"})
    assert r.status_code == 201, r.text
    control.id, control.index_no, control.etag = r.json()["id"], r.json()["index_no"], r.headers["etag"]
    await _attach(client, staff[w.x], control, withheld=False)
    control.canaries.clear()  # the control's file is public: not a canary
    for action, who in (("submit", "drafter"), ("approve", "division_head")):
        control.etag = (await act(client, getattr(staff[w.x], who), control.id, action, control.etag)).headers["etag"]
    await act(client, staff[w.x].unit_head, control.id, "decide", control.etag, {"attribute": "proactive"})
    w.docs.append(control)
    # 索引号 are given at publication: read each record's number once it has reached its state ("" if never
    # published — a hidden record that was once public keeps the number it had).
    for doc in w.docs:
        r = await client.get(f"{API}/documents/{doc.id}/record", headers=staff[doc.organ].unit_head)
        assert r.status_code == 200, r.text
        doc.index_no = r.json()["index_no"] or ""
    assert {d.key for d in w.docs} == {*STATES, "public_control"}
    assert len(w.canaries) >= 100, len(w.canaries)
    # The search index follows the change events (catalog_service/domain/indexer.py); an operator's catch-up makes
    # it see the whole world before the sweeps, whatever the number of changes (search catches up by itself only
    # when a few are pending). Records hidden after they were indexed are then still out of search by their
    # revocations (test_search_index.py tests that window).
    await search_index_caught_up(client)
    return w


async def search_index_caught_up(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{API}/search/index/catch-up", headers=auth("admin"))
    assert r.status_code == 200 and r.json()["lag_events"] == 0, r.text


async def _classify(client: httpx.AsyncClient, s: Staff, doc: Doc) -> None:
    responsible = core()
    await _step(client, s.secrecy_officer, doc, "classify", {
        "classification_level": "secret", "secrecy_period_years": 10,
        "classification_responsible": f"定密责任人{responsible}"})
    doc.canaries[responsible] = "classification_responsible"
    doc.classified = True
