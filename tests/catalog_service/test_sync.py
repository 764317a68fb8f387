"""Sync surface for integrating agencies: the change feed, the Atom feed and the bulk import, through the API."""

import json
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from sqlalchemy import func, select

from catalog_service.models import Document, ReviewStep, outbox
from tests.catalog_service.helpers import API, Staff, act, make_organ, new_code
from tests.support import assert_problem, auth, expect_status

ATOM = "{http://www.w3.org/2005/Atom}"
REVIEW = {"reviewer": "陈审查", "reviewed_on": "2026-03-02", "conclusion": "proactive", "basis": "不涉密，可主动公开"}


def record(n: int | str, **fields: Any) -> dict[str, Any]:
    return {"external_id": f"OA-{n}", "title": f"关于做好第{n}批政务公开工作的通知", "genre": "notice",
            "summary": "对政务公开工作作出部署。", "body": "各区、各部门：现将有关事项通知如下。", **fields}


def integration(organ: str, sub: str = "oa-system") -> dict[str, str]:
    return auth("integration", organ=organ, sub=sub, name="公文系统")


async def bulk(client, headers: dict[str, str], records: list[dict[str, Any]], expect: int = 200,
               expect_code: str | None = None, **kwargs: Any):
    r = await client.post(f"{API}/documents/bulk", headers=headers, json={"records": records}, **kwargs)
    expect_status(r, expect, expect_code)
    return r


async def imported(client, organ: str, *records: dict[str, Any]) -> list[str]:
    body = (await bulk(client, integration(organ), list(records))).json()
    assert all(r["status"] in ("created", "updated") for r in body["results"]), body
    return [r["document_id"] for r in body["results"]]


async def changes(client, after: int = 0, limit: int = 100) -> dict[str, Any]:
    r = await client.get(f"{API}/changes", params={"after": after, "limit": limit})
    assert r.status_code == 200, r.text
    return r.json()


async def all_changes(client, after: int = 0) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await changes(client, after, 500)
        items += page["items"]
        after = page["next_cursor"]
        if not page["has_more"]:
            return items


async def staff_etag(client, staff: Staff, doc_id: str, headers: dict[str, str] | None = None) -> str:
    r = await client.get(f"{API}/documents/{doc_id}/record", headers=headers or staff.unit_head)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


async def count(db, stmt) -> int:
    async with db.session(write=False) as session:
        return int((await session.execute(stmt)).scalar_one())


def events_count():
    return select(func.count()).select_from(outbox.events)


def feed(text: str) -> ET.Element:
    root = ET.fromstring(text)  # well-formed or it raises
    assert root.tag == f"{ATOM}feed"
    return root


def entry_titles(root: ET.Element) -> list[str]:
    return [e.findtext(f"{ATOM}title") for e in root.findall(f"{ATOM}entry")]


# ---- change feed -------------------------------------------------------------------------------------------


async def test_change_feed_serves_current_public_state_and_content_free_tombstones(catalog):
    staff = Staff(await make_organ(catalog))
    canary = f"CANARY-{uuid.uuid4().hex}"
    withdrawn, classified, repealed, kept = await imported(
        catalog, staff.organ, record(1, review=REVIEW), record(2, review=REVIEW, title=f"机密事项{canary}"),
        record(3, review=REVIEW), record(4, review=REVIEW))
    [draft] = await imported(catalog, staff.organ, record(5, title=f"草稿{canary}"))  # never published

    before = await all_changes(catalog)
    assert [i["document_id"] for i in before] == [withdrawn, classified, repealed, kept]
    assert all(i["change"] == "upsert" and i["record"]["id"] == i["document_id"] for i in before)
    assert len({i["cursor"] for i in before}) == len(before)  # opaque, but one per change

    await act(catalog, staff.unit_head, withdrawn, "withdraw", await staff_etag(catalog, staff, withdrawn),
              {"comment": "发布有误，撤回"})
    await act(catalog, staff.secrecy_officer, classified, "classify",
              await staff_etag(catalog, staff, classified, staff.secrecy_officer),
              {"classification_level": "secret", "secrecy_period_years": 10, "classification_responsible": "王主任"})
    await act(catalog, staff.unit_head, repealed, "repeal", await staff_etag(catalog, staff, repealed),
              {"repeal_date": "2026-06-30"})

    r = await catalog.get(f"{API}/changes", params={"limit": 500})
    assert canary not in r.text  # neither the classified record nor the draft, in any byte
    items = r.json()["items"]
    assert draft not in {i["document_id"] for i in items}
    latest = {i["document_id"]: i for i in items}  # consumers upsert by document_id: the last item wins
    for doc_id in (withdrawn, classified):
        assert latest[doc_id]["change"] == "tombstone" and latest[doc_id]["record"] is None
        # content-free: the change's own label (变更类型, issue 14 item 7) says nothing about the record
        assert set(latest[doc_id]) == {"cursor", "change", "change_label", "document_id", "occurred_at", "record"}
        assert latest[doc_id]["change_label"]["code"] == "tombstone"
    # Old items of a withdrawn record now also come as tombstones: what is served is the present, not the past.
    assert all(i["record"] is None for i in items if i["document_id"] in (withdrawn, classified))
    assert latest[repealed]["change"] == "upsert" and latest[repealed]["record"]["validity"] == "repealed"
    assert latest[repealed]["record"]["repeal_date"] == "2026-06-30"
    assert latest[kept]["change"] == "upsert"
    assert len(items) == 4 + 3  # three public changes after the four publications, nothing about the draft


async def test_change_feed_pages_by_cursor(catalog):
    organ = await make_organ(catalog)
    ids = await imported(catalog, organ, *[record(n, review=REVIEW) for n in range(5)])
    head = await all_changes(catalog)
    first = next(n for n, i in enumerate(head) if i["document_id"] == ids[0])
    start = head[first - 1]["cursor"] if first else 0  # the change before this test's first one (cursors are opaque)

    seen, after, pages = [], start, 0
    while True:
        r = await catalog.get(f"{API}/changes", params={"after": after, "limit": 2})
        page = r.json()
        # Link: rel="next" while more is waiting (RFC 8288); the cursor is always in the body, to store.
        assert r.headers.get("link") == (f'</api/v1/catalog/changes?after={page["next_cursor"]}&limit=2>; rel="next"'
                                         if page["has_more"] else None)
        seen += [i["document_id"] for i in page["items"]]
        after, pages = page["next_cursor"], pages + 1
        if not page["has_more"]:
            break
    assert seen == ids and pages == 3
    again = await changes(catalog, after)  # nothing new: the cursor stays put
    assert again["items"] == [] and again["next_cursor"] == after and not again["has_more"]

    assert_problem(await catalog.get(f"{API}/changes", params={"limit": 501}), 422, "validation_error")
    assert_problem(await catalog.get(f"{API}/changes", params={"after": -1}), 422, "validation_error")
    assert (await catalog.get(f"{API}/changes")).headers["cache-control"] == "no-store"


# ---- Atom feed ---------------------------------------------------------------------------------------------


async def test_atom_feed_is_well_formed_escaped_and_public_only(catalog):
    ours, theirs = Staff(await make_organ(catalog, "示范市教育局")), await make_organ(catalog, "示范市卫健委")
    tricky = "<script>alert(1)</script> & \"引号\" ]]> 通知"
    school, plain, withdrawn = await imported(
        catalog, ours.organ, record(1, review=REVIEW, title=tricky, key_areas=["education"]),
        record(2, review=REVIEW, title="换行符\x0b来自文字处理软件的标题"),
        record(3, review=REVIEW, title="将被撤回的通知"))
    await imported(catalog, ours.organ, record(4, title="尚未公开的草稿"))
    [hospital] = await imported(catalog, theirs, record(5, review=REVIEW, key_areas=["health"], title="医院的通知"))
    await act(catalog, ours.unit_head, withdrawn, "withdraw", await staff_etag(catalog, ours, withdrawn),
              {"comment": "撤回"})

    r = await catalog.get(f"{API}/feeds/atom.xml")
    assert r.status_code == 200 and r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = feed(r.text)
    assert "<script>" not in r.text
    assert root.findtext(f"{ATOM}id") and root.findtext(f"{ATOM}updated") and root.findtext(f"{ATOM}title")
    entries = {e.findtext(f"{ATOM}id"): e for e in root.findall(f"{ATOM}entry")}
    assert set(entries) == {f"urn:uuid:{i}" for i in (school, plain, hospital)}  # no draft, no withdrawn record
    first = entries[f"urn:uuid:{school}"]
    assert first.findtext(f"{ATOM}title") == tricky  # escaped on the wire, intact when parsed
    assert first.findtext(f"{ATOM}summary") == "对政务公开工作作出部署。"
    assert first.findtext(f"{ATOM}author/{ATOM}name") == "示范市教育局"
    assert first.find(f"{ATOM}link").get("href").endswith(f"/api/v1/catalog/documents/{school}")
    assert first.findtext(f"{ATOM}published") and first.findtext(f"{ATOM}updated")
    # XML 1.0 cannot carry most control characters at all, escaped or not: they are left out of the feed.
    assert entries[f"urn:uuid:{plain}"].findtext(f"{ATOM}title") == "换行符来自文字处理软件的标题"

    per_organ = feed((await catalog.get(f"{API}/feeds/atom.xml", params={"organ": theirs})).text)
    assert entry_titles(per_organ) == ["医院的通知"] and "示范市卫健委" in per_organ.findtext(f"{ATOM}title")
    per_area = feed((await catalog.get(f"{API}/feeds/atom.xml", params={"key_area": "education"})).text)
    assert entry_titles(per_area) == [tricky]
    both = feed((await catalog.get(f"{API}/feeds/atom.xml", params={"organ": theirs, "key_area": "education"})).text)
    assert entry_titles(both) == []

    assert_problem(await catalog.get(f"{API}/feeds/atom.xml", params={"organ": new_code()}), 404,
                   "organ_not_found")
    # The search's validation: a code whose check character is wrong is no organ's at all.
    assert_problem(await catalog.get(f"{API}/feeds/atom.xml", params={"organ": "11440100MC9999999X"}), 422,
                   "validation_error")
    assert_problem(await catalog.get(f"{API}/feeds/atom.xml", params={"key_area": "nonsense"}), 422, "validation_error")
    again = await catalog.get(f"{API}/feeds/atom.xml", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


async def test_atom_feed_is_documented_as_atom(catalog):
    spec = (await catalog.get("/openapi.json")).json()
    content = spec["paths"][f"{API}/feeds/atom.xml"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["application/atom+xml"]
    description = spec["paths"][f"{API}/changes"]["get"]["description"]
    assert "at least once" in description and "document_id" in description


# ---- bulk import -------------------------------------------------------------------------------------------


async def test_a_thousand_records_in_one_call_and_a_retry_changes_nothing(catalog, catalog_db):
    organ = await make_organ(catalog)
    records = [record(n, review=REVIEW if n % 2 else None, doc_number=f"穗教〔2026〕{n + 1}号")
               for n in range(1000)]
    first = (await bulk(catalog, integration(organ), records)).json()
    assert first["summary"] == {"received": 1000, "created": 1000, "updated": 0, "unchanged": 0, "rejected": 0,
                                "published": 500}
    assert [r["index"] for r in first["results"]] == list(range(1000))
    events, versions = await count(catalog_db, events_count()), await count(catalog_db, select(
        func.sum(Document.version)))
    # A 索引号 for each of the 500 published records, none for the drafts (given at publication). Counted over this
    # import's documents only: test_workflow's concurrency test commits documents for real.
    ids = [r["document_id"] for r in first["results"]]
    index_nos = await count(catalog_db, select(func.count(func.distinct(Document.index_no)))
                            .where(Document.id.in_(ids)))
    assert index_nos == 500

    retry = (await bulk(catalog, integration(organ), records)).json()
    assert retry["summary"]["unchanged"] == 1000
    assert [r["document_id"] for r in retry["results"]] == [r["document_id"] for r in first["results"]]
    assert await count(catalog_db, events_count()) == events
    assert await count(catalog_db, select(func.sum(Document.version))) == versions


async def test_a_bad_record_is_rejected_with_its_reasons_and_the_others_applied(catalog, catalog_db):
    organ = await make_organ(catalog)
    records = [record(0), record(1, doc_number="教育局2026年8号"), record(2, genre="poem"), record(3, title="长" * 501),
               record(4, review=REVIEW), {"external_id": "OA-5", "title": "缺少必填以外的乱字段", "owner": "x"},
               "not an object", record(0, title="同一批次里重复的编号"), record(8, title="含有\x00的标题"),
               record(9, review={**REVIEW, "reviewer": "\ud800"})]
    # json.dumps escapes the lone surrogate (\ud800), as a careless upstream serialiser would send it.
    r = await catalog.post(f"{API}/documents/bulk", content=json.dumps({"records": records}),
                           headers={**integration(organ), "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    by_index = {r["index"]: r for r in body["results"]}
    assert [by_index[i]["status"] for i in range(10)] == [
        "created", "rejected", "rejected", "rejected", "created", "rejected", "rejected", "rejected", "rejected",
        "rejected"]
    assert by_index[8]["errors"][0]["loc"] == ["title"]  # NUL cannot be stored: refused, not a 500
    assert by_index[9]["errors"][0]["loc"] == ["review", "reviewer"]
    assert by_index[1]["errors"][0]["loc"] == ["doc_number"] and "文号" in by_index[1]["errors"][0]["msg"]
    assert by_index[2]["errors"][0]["loc"] == ["genre"] and by_index[2]["errors"][0]["type"] == "enum"
    assert by_index[3]["errors"][0] == {"loc": ["title"], "msg": by_index[3]["errors"][0]["msg"],
                                        "type": "string_too_long"}
    assert by_index[5]["errors"][0]["type"] == "extra_forbidden" and by_index[5]["external_id"] == "OA-5"
    assert by_index[6]["external_id"] is None and by_index[7]["reason"] == "duplicate_in_batch"
    assert "长" * 50 not in str(body)  # rejected input is never echoed back
    assert by_index[4]["published"] and body["summary"]["rejected"] == 8
    # Nothing of the rejected records exists.
    stored = await count(catalog_db, select(func.count()).select_from(Document).where(
        Document.source_system == "oa-system", Document.organ_id.is_not(None)))
    assert stored == 2


async def test_more_than_a_thousand_records_is_a_422(catalog):
    organ = await make_organ(catalog)
    r = await catalog.post(f"{API}/documents/bulk", headers=integration(organ),
                           json={"records": [record(n) for n in range(1001)]})
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "records"]


async def test_records_always_go_to_the_tokens_organ(catalog):
    a, b = await make_organ(catalog, "甲局"), await make_organ(catalog, "乙局")
    [doc_id] = await imported(catalog, a, record(1, review=REVIEW))
    public = (await catalog.get(f"{API}/documents/{doc_id}")).json()
    assert public["organ_code"] == a

    # A record cannot name another organ ...
    body = (await bulk(catalog, integration(a), [record(2, organ_code=b)])).json()
    assert body["results"][0]["status"] == "rejected" and body["results"][0]["errors"][0]["type"] == "extra_forbidden"
    # ... and organ B's token reaching for A's external id changes nothing of A's record.
    body = (await bulk(catalog, integration(b), [record(1, review=REVIEW, title="乙局想改甲局的记录")])).json()
    assert body["results"][0] == {**body["results"][0], "status": "rejected", "reason": "other_organ",
                                  "document_id": None}
    assert (await catalog.get(f"{API}/documents/{doc_id}")).json()["title"] == public["title"]

    # Only integration tokens with an organ import.
    assert_problem(await catalog.post(f"{API}/documents/bulk", json={"records": [record(3)]}),
                   401, "authentication_required")
    assert_problem(await catalog.post(f"{API}/documents/bulk", headers=auth("drafter", organ=a),
                                      json={"records": [record(3)]}), 403, "wrong_role")
    assert_problem(await catalog.post(f"{API}/documents/bulk", headers=auth("integration"),
                                      json={"records": [record(3)]}), 403, "integration_scope_missing")


async def test_drafts_are_updated_and_records_in_the_workflow_are_not(catalog, catalog_db):
    staff = Staff(await make_organ(catalog))
    headers = integration(staff.organ)
    draft_id, in_review, published = await imported(
        catalog, staff.organ, record(1), record(2), record(3, review=REVIEW))
    etag = await staff_etag(catalog, staff, draft_id, staff.drafter)
    await act(catalog, staff.drafter, in_review, "submit", await staff_etag(catalog, staff, in_review, staff.drafter))

    body = (await bulk(catalog, headers, [record(1, title="修改后的标题"), record(2, title="试图改审核中的"),
                                          record(3, title="试图改已公开的"), record(3, review=REVIEW)])).json()
    results = body["results"]
    assert results[0]["status"] == "updated" and results[0]["document_id"] == draft_id
    assert [(r["status"], r["reason"]) for r in results[1:3]] == [("rejected", "in_workflow")] * 2
    assert results[1]["document_id"] == in_review
    assert results[3]["reason"] == "duplicate_in_batch"
    r = await catalog.get(f"{API}/documents/{draft_id}/record", headers=staff.drafter)
    assert r.json()["title"] == "修改后的标题" and r.headers["etag"] != etag  # the version moved
    assert (await catalog.get(f"{API}/documents/{published}")).json()["title"] == record(3)["title"]
    # The same content again is "unchanged", whatever state the record has reached since.
    again = (await bulk(catalog, headers, [record(1, title="修改后的标题"), record(2), record(3, review=REVIEW)])
             ).json()
    assert [r["status"] for r in again["results"]] == ["unchanged"] * 3


async def test_an_upstream_record_never_republishes_or_lowers_a_classification(catalog):
    staff = Staff(await make_organ(catalog))
    headers = integration(staff.organ)
    [doc_id] = await imported(catalog, staff.organ, record(1, review=REVIEW))
    await act(catalog, staff.secrecy_officer, doc_id, "classify",
              await staff_etag(catalog, staff, doc_id, staff.secrecy_officer),
              {"classification_level": "secret", "secrecy_period_years": 5, "classification_responsible": "王主任"})
    body = (await bulk(catalog, headers, [record(1, review=REVIEW, title="重新公开吧")])).json()
    assert body["results"][0]["reason"] == "in_workflow" and "classif" not in str(body["results"][0]["errors"])
    assert_problem(await catalog.get(f"{API}/documents/{doc_id}"), 404, "document_not_found")


async def test_review_conclusions_publish_or_leave_a_proposal(catalog):
    staff = Staff(await make_organ(catalog))
    withheld = {**REVIEW, "conclusion": "withheld", "grounds": ["process_information"], "basis": "过程性信息"}
    published, proposed = await imported(catalog, staff.organ, record(1, review=REVIEW), record(2, review=withheld))
    log = (await catalog.get(f"{API}/documents/{published}/review-log", headers=staff.unit_head)).json()["items"]
    assert [(s["action"], s["role"], s["status_before"], s["status_after"]) for s in log] == [
        ("import", "integration", None, "draft"), ("import_review", "integration", "draft", "published")]
    assert "陈审查" in log[1]["comment"] and "不涉密" in log[1]["comment"] and log[1]["attribute_after"] == "proactive"

    draft = (await catalog.get(f"{API}/documents/{proposed}/record", headers=staff.unit_head)).json()
    assert (draft["status"], draft["proposed_attribute"], draft["attribute"]) == ("draft", "withheld", None)
    assert draft["withholding_grounds"] == ["process_information"] and draft["index_no"] is None
    assert_problem(await catalog.get(f"{API}/documents/{proposed}"), 404, "document_not_found")
    # A withholding review needs its grounds, like a drafter's proposal.
    body = (await bulk(catalog, integration(staff.organ), [record(3, review={**withheld, "grounds": [],
                                                                               "basis": None})])).json()
    assert body["results"][0]["reason"] == "invalid"


async def test_links_may_point_only_at_the_organs_own_records(catalog):
    ours, theirs = await make_organ(catalog, "本局"), await make_organ(catalog, "他局")
    [own_old] = await imported(catalog, ours, record(1, review=REVIEW))
    [foreign] = await imported(catalog, theirs, record(2, review=REVIEW))
    body = (await bulk(catalog, integration(ours), [
        record(3, review=REVIEW, repeals=[foreign]), record(4, review=REVIEW, repeals=[own_old]),
        record(5, review=REVIEW, genre="interpretation", interpretation_of=foreign),
        record(6, co_issuer_codes=["11440100MC9999999X"])])).json()
    assert [r["status"] for r in body["results"]] == ["rejected", "created", "created", "rejected"]
    assert body["results"][0]["reason"] == "foreign_record_link"  # as the drafting path's 403
    assert (await catalog.get(f"{API}/documents/{foreign}")).json()["validity"] == "in_force"
    assert (await catalog.get(f"{API}/documents/{own_old}")).json()["validity"] == "repealed"


async def test_idempotency_key_replays_the_first_response(catalog, catalog_db):
    organ = await make_organ(catalog)
    headers = {**integration(organ), "Idempotency-Key": f"batch-{uuid.uuid4()}"}
    records = [record(n, review=REVIEW) for n in range(3)]
    first = await bulk(catalog, headers, records)
    events = await count(catalog_db, events_count())
    steps = await count(catalog_db, select(func.count()).select_from(ReviewStep))

    replay = await bulk(catalog, headers, records)
    assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
    assert [r["status"] for r in replay.json()["results"]] == ["created"] * 3  # the first answer, verbatim
    assert await count(catalog_db, events_count()) == events
    assert await count(catalog_db, select(func.count()).select_from(ReviewStep)) == steps

    reused = await catalog.post(f"{API}/documents/bulk", headers=headers, json={"records": records[:2]})
    assert_problem(reused, 422, "idempotency_key_reused")
    # Keys are per client: another system's same key is its own.
    other = {**integration(organ, sub="another-system"), "Idempotency-Key": headers["Idempotency-Key"]}
    assert (await bulk(catalog, other, records)).json()["summary"]["created"] == 3
    assert_problem(await catalog.post(f"{API}/documents/bulk", headers={**headers, "Idempotency-Key": "has space"},
                                      json={"records": records}), 422, "validation_error")


async def test_a_record_the_database_refuses_costs_no_other_record(catalog, catalog_db):
    """Past validation the batch is written at once; if the database still refuses it, each record is redone in a
    savepoint of its own, and the refused one leaves nothing behind — no row, no event."""
    organ_code = await make_organ(catalog)
    [first] = await imported(catalog, organ_code, record(0, review=REVIEW))
    async with catalog_db.transaction() as session:
        taken = await session.get(Document, first)
        assert taken is not None
        serial = int(taken.index_no.rsplit("-", 1)[1])
        # A record made outside the serial already holds the 索引号 the last record of the next batch will get
        # (索引号 are given at publication: the first and the third are published).
        session.add(Document(organ_id=taken.organ_id, title="占用索引号的记录", status="draft",
                             index_no=taken.index_no.replace(f"-{serial:05d}", f"-{serial + 2:05d}")))
    events = await count(catalog_db, events_count())

    body = (await bulk(catalog, integration(organ_code), [record(1, review=REVIEW), record(2),
                                                          record(3, review=REVIEW)])).json()
    assert [(r["status"], r["reason"]) for r in body["results"]] == [
        ("created", None), ("created", None), ("rejected", "write_failed")]
    assert body["results"][0]["published"]
    stored = await count(catalog_db, select(func.count()).select_from(Document).where(
        Document.external_id.in_(["OA-1", "OA-2", "OA-3"])))
    assert stored == 2
    # created + published for the first, created for the second; nothing for the refused one.
    assert await count(catalog_db, events_count()) == events + 3
    assert [i["document_id"] for i in await all_changes(catalog)] == [first, body["results"][0]["document_id"]]


async def test_a_concurrent_import_of_the_same_ids_is_replanned(catalog, catalog_db, monkeypatch):
    """The race the batch cannot see coming: another call commits one of our ids between our lookup and our
    INSERT. The unique key refuses the batch, and the record-by-record pass finds it already there."""
    from catalog_service.domain import bulk as domain

    organ = await make_organ(catalog)
    [theirs] = await imported(catalog, organ, record(2))
    lookup = domain._existing
    calls = []

    async def stale_first_lookup(session, source, external_ids):
        calls.append(external_ids)
        return {} if len(calls) == 1 else await lookup(session, source, external_ids)

    monkeypatch.setattr(domain, "_existing", stale_first_lookup)
    events = await count(catalog_db, events_count())
    body = (await bulk(catalog, integration(organ), [record(1), record(2), record(3)])).json()
    assert [r["status"] for r in body["results"]] == ["created", "unchanged", "created"]
    assert body["results"][1]["document_id"] == theirs and len(calls) == 2
    assert await count(catalog_db, select(func.count()).select_from(Document).where(
        Document.external_id.in_(["OA-1", "OA-2", "OA-3"]))) == 3
    assert await count(catalog_db, events_count()) == events + 2


async def test_publishing_in_place_sets_what_workflow_publish_sets(catalog, catalog_db):
    """The import publishes records without links in place (no query per record); it must leave a record exactly
    as workflow.publish does. If publish() learns something new, this fails until the import learns it too."""
    from datetime import UTC, date, datetime

    from catalog_service.config import Settings
    from catalog_service.domain.bulk import _publish_unlinked
    from catalog_service.domain.workflow import Actor, publish
    from catalog_service.models import Organ
    from services.auth import Principal

    code = await make_organ(catalog)
    async with catalog_db.session() as session:
        organ = (await session.execute(select(Organ).where(Organ.code == code))).scalar_one()
        pair = [Document(organ_id=organ.id, title="同一份记录", status="unit_review", version=3, attribute="proactive",
                         reevaluation_due_on=date(2027, 1, 1),
                         scheduled_publish_at=datetime(2027, 1, 1, tzinfo=UTC)) for _ in range(2)]
        session.add_all(pair)
        await session.flush()
        system = Principal(sub="oa-system", roles=frozenset({"integration"}), organ=code)
        await publish(session, pair[0], organ, Actor(system, "integration", Settings()))
        _publish_unlinked(pair[1], f"{code}/2026-99999")  # the import takes its 索引号 in one block per batch
        columns = [c.key for c in Document.__table__.columns
                   if c.key not in ("id", "index_no", "published_at", "created_at", "updated_at")]
        assert {c: getattr(pair[0], c) for c in columns} == {c: getattr(pair[1], c) for c in columns}
        assert pair[0].published_at and pair[1].published_at and pair[0].index_no and pair[1].index_no
        await session.rollback()


async def test_concurrent_duplicates_apply_once(tmp_path):
    """Two identical calls at the same moment, on a real engine (not the rolled-back test connection): with an
    Idempotency-Key the second waits for the first and replays it byte for byte; without one, the second finds
    the first's records (after its batch INSERT is refused on PostgreSQL) and reports them unchanged."""
    import asyncio

    from catalog_service.app import create_app
    from catalog_service.config import Settings
    from services.db import Database, make_engine
    from tests.support import acreate_database, adrop_database, migrate, serve

    url = await acreate_database(f"sync_race_{uuid.uuid4().hex[:6]}", tmp_path)
    try:
        await asyncio.to_thread(migrate, "catalog", url)
        # A Database of our own engine (not the test connection); passing it also keeps the app from
        # reconfiguring logging for the rest of the test session.
        app = create_app(Settings(database_url=url, scheduler_interval_seconds=0, access_log=False),
                         database=Database(make_engine(url)))
        async with serve(app) as client:
            organ = await make_organ(client)
            records = [record(n, review=REVIEW) for n in range(200)]
            keyed = {**integration(organ), "Idempotency-Key": "same-key"}
            first, second = await asyncio.gather(
                *(client.post(f"{API}/documents/bulk", headers=keyed, json={"records": records}) for _ in range(2)))
            assert first.status_code == second.status_code == 200
            assert first.content == second.content
            assert {first.headers.get("idempotent-replayed"), second.headers.get("idempotent-replayed")} == {
                None, "true"}

            others = [record(n, review=REVIEW) for n in range(200, 400)]
            a, b = await asyncio.gather(*(client.post(f"{API}/documents/bulk", headers=integration(organ),
                                                      json={"records": others}) for _ in range(2)))
            summaries = sorted((a.json()["summary"]["created"], b.json()["summary"]["unchanged"],
                                a.json()["summary"]["unchanged"], b.json()["summary"]["created"]))
            assert summaries == [0, 0, 200, 200]

        engine = make_engine(url, null_pool=True)
        async with engine.connect() as conn:
            documents = (await conn.execute(select(func.count()).select_from(Document))).scalar_one()
            events = (await conn.execute(events_count())).scalar_one()
        await engine.dispose()
        assert documents == 400
        assert events == 1 + 400 * 2  # organ.created, then created + published once per record
    finally:
        await adrop_database(url)


async def test_a_bulk_body_above_its_limit_is_a_413(catalog_db):
    """The bulk route has its own body limit (CATALOG_MAX_BULK_BODY_BYTES); other routes keep the small default."""
    from catalog_service.app import create_app
    from catalog_service.config import Settings
    from tests.support import serve

    settings = Settings(max_bulk_body_bytes=20_000, max_body_bytes=5_000)
    async with serve(create_app(settings, database=catalog_db)) as client:
        organ = await make_organ(client)
        records = [record(n) for n in range(100)]
        wire = json.dumps({"records": records}, ensure_ascii=False, separators=(",", ":")).encode()  # as httpx
        assert len(wire) > 20_000 and len(wire[:len(wire) // 5]) < 20_000
        assert_problem(await client.post(f"{API}/documents/bulk", headers=integration(organ),
                                         json={"records": records}), 413, "payload_too_large")
        assert (await bulk(client, integration(organ), records[:20])).json()["summary"]["created"] == 20
        # (Single documents have their own limit too, CATALOG_MAX_DOCUMENT_BODY_BYTES: tests/security/test_limits.py.)
        padded = b'{"name": "' + "长".encode() * 3000 + b'"}'
        assert_problem(await client.post(f"{API}/organs", headers={**auth("admin"), "Content-Type": "application/json"},
                                         content=padded), 413, "payload_too_large")


def test_the_content_hash_ignores_what_does_not_change_the_record():
    from catalog_service.domain.bulk import content_hash
    from catalog_service.schemas import BulkRecord

    base = record(1, review=REVIEW)
    same = [base, {**base, "summary": "  对政务公开工作作出部署。 ", "keywords": [], "doc_number": None},
            dict(reversed(list(base.items()))), {**base, "external_id": "另一个编号".encode().hex()}]
    assert len({content_hash(BulkRecord.model_validate(r)) for r in same}) == 1
    other = [{**base, "title": "另一个标题"}, {**base, "review": None}, {**base, "review": {**REVIEW, "basis": "另"}}]
    assert len({content_hash(BulkRecord.model_validate(r)) for r in [base, *other]}) == 4
