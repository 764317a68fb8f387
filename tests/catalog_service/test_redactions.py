"""Redactions (区分处理, 条例第三十七条) survive edits, and every change to them is in the review log.

Security review (issue 11) items 3 and 4: redactions were character offsets that an edit moved the text under, so
the name they withheld reached the public body and search; and a drafter could delete the secrecy officer's
redaction during review without a trace in the review log. A redaction can sit in the title, the summary or the
body (RedactionCreate.field); keywords, 文号 and attachment names are not redactable (a withheld attachment is
the `withheld` flag). Offsets are Unicode code points.
"""

from typing import Any

import pytest

from tests.catalog_service.helpers import API, Staff, act, draft, make_organ, with_etag
from tests.catalog_service.test_sync import bulk, integration
from tests.support import assert_problem, auth

NAME = "司马懿九"  # the withheld name: it must never reach a public read or the search index
MASK = "［已删除：涉及商业秘密、个人隐私等第三方合法权益（第十五条）］"
TEXTS = {
    "title": ("关于", "同志任职的通知"),
    "summary": ("涉及", "同志的人事安排。"),
    "body": ("各单位：经研究，", "同志任办公室主任。特此通知。"),
}
PREFIX = "【更正】"


def _edit(kind: str, before: str, after: str) -> str:
    return {"prefix_added": f"{PREFIX}{before}{NAME}{after}",
            "text_inside_changed": f"{before}{NAME[:-1]}十{after}",
            "redacted_text_deleted": f"{before}{after}"}[kind]


async def record(client, headers: dict[str, str], doc_id: str) -> tuple[dict[str, Any], str]:
    r = await client.get(f"{API}/documents/{doc_id}/record", headers=headers)
    assert r.status_code == 200, r.text
    return r.json(), r.headers["etag"]


async def redact(client, headers: dict[str, str], doc_id: str, etag: str, field: str, text: str, segment: str,
                 expect: int = 201):
    start = text.index(segment)
    r = await client.post(f"{API}/documents/{doc_id}/redactions", headers=with_etag(headers, etag),
                          json={"field": field, "start": start, "end": start + len(segment),
                                "ground": "third_party_rights"})
    assert r.status_code == expect, r.text
    return r


async def searched(client, q: str, headers: dict[str, str] | None = None, **params: Any) -> set[str]:
    r = await client.get(f"{API}/documents", params={"q": q, **params}, headers=headers or {})
    assert r.status_code == 200, r.text
    return {i["id"] for i in r.json()["items"]}


async def review_log(client, staff: Staff, doc_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/documents/{doc_id}/review-log", headers=staff.unit_head)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _draft_fields(field: str) -> dict[str, str]:
    fields = {"title": "关于人事安排的通知", "summary": "人事安排。", "body": "各单位：现将有关事项通知如下。"}
    before, after = TEXTS[field]
    fields[field] = f"{before}{NAME}{after}"
    return fields


@pytest.mark.parametrize("edit", ["prefix_added", "text_inside_changed", "redacted_text_deleted"])
@pytest.mark.parametrize("field", ["title", "summary", "body"])
async def test_an_edit_never_brings_a_redacted_name_to_the_public_or_search(catalog, field, edit):
    staff = Staff(await make_organ(catalog))
    fields = _draft_fields(field)
    doc_id, etag = await draft(catalog, staff, **fields)
    etag = (await redact(catalog, staff.secrecy_officer, doc_id, etag, field, fields[field], NAME)).headers["etag"]
    before, after = TEXTS[field]
    r = await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, etag),
                            json={field: _edit(edit, before, after)})
    assert r.status_code == 200, r.text
    edited, etag = r.json(), r.headers["etag"]
    [redaction] = edited["redactions"]
    staff_public = " ".join(filter(None, (edited["public_title"], edited["public_summary"], edited["public_body"])))
    assert NAME not in staff_public and NAME[:-1] not in staff_public, staff_public
    # Staff searching their own organ's drafts search the public projection too: never the withheld name.
    assert doc_id not in await searched(catalog, NAME, staff.drafter, scope="organ")

    if edit == "prefix_added":
        # Found again by its text and context: moved with the text, and the record goes on to publication.
        assert redaction["state"] == "anchored"
        assert edited[f"public_{field}"] == f"{PREFIX}{before}{MASK}{after}"
        etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
        etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
        await act(catalog, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})
        public = await catalog.get(f"{API}/documents/{doc_id}")
        assert public.status_code == 200, public.text
        assert NAME not in public.text, public.json()
        assert public.json()[field] == f"{PREFIX}{before}{MASK}{after}"
        assert doc_id not in await searched(catalog, NAME)
        assert doc_id in await searched(catalog, "更正")  # indexed: the rest of the text is findable
    else:
        # The withheld text cannot be found again: the anchor is lost, the field is withheld whole, and the record
        # goes nowhere until the secrecy officer has looked at it again.
        problem = assert_problem(await act(catalog, staff.drafter, doc_id, "submit", etag, expect=409,
                                           expect_code="redaction_anchor_lost"), 409, "redaction_anchor_lost")
        assert redaction["state"] == "lost"
        assert edited[f"public_{field}"] != edited[field]
        assert [e["loc"] for e in problem["errors"]] == [["redactions", redaction["id"]]]
        assert (await record(catalog, staff.drafter, doc_id))[0]["status"] == "draft"
        assert (await catalog.get(f"{API}/documents/{doc_id}")).status_code == 404


async def test_offsets_are_code_points_and_astral_characters_move_correctly(catalog):
    """𠮷 (U+20BB7) is one code point but two UTF-16 units: offsets count code points, before and after an edit."""
    staff = Staff(await make_organ(catalog))
    body = f"𠮷野家会议：𠮷田{NAME}先生到会。"
    doc_id, etag = await draft(catalog, staff, body=body)
    r = await redact(catalog, staff.secrecy_officer, doc_id, etag, "body", body, NAME)
    assert (r.json()["start"], r.json()["end"]) == (8, 12)
    r = await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, r.headers["etag"]),
                            json={"body": f"𠮷𠮷{body}"})
    assert r.status_code == 200, r.text
    assert r.json()["public_body"] == f"𠮷𠮷𠮷野家会议：𠮷田{MASK}先生到会。"
    [moved] = r.json()["redactions"]
    assert (moved["start"], moved["end"], moved["state"]) == (10, 14, "anchored")
    etag = (await act(catalog, staff.drafter, doc_id, "submit", r.headers["etag"])).headers["etag"]
    etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    await act(catalog, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})
    public = (await catalog.get(f"{API}/documents/{doc_id}")).json()
    assert public["body"] == f"𠮷𠮷𠮷野家会议：𠮷田{MASK}先生到会。"


async def test_an_ambiguous_match_is_lost_not_guessed(catalog):
    """The name twice with the same context after the edit: which one was withheld cannot be told."""
    staff = Staff(await make_organ(catalog))
    body = f"甲：{NAME}到会。"
    doc_id, etag = await draft(catalog, staff, body=body)
    etag = (await redact(catalog, staff.secrecy_officer, doc_id, etag, "body", body, NAME)).headers["etag"]
    r = await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, etag),
                            json={"body": f"乙：{NAME}到会。甲：{NAME}到会。甲：{NAME}到会。"})
    assert r.status_code == 200, r.text
    assert NAME not in r.json()["public_body"]
    assert [x["state"] for x in r.json()["redactions"]] == ["lost"]


async def test_bulk_updates_re_anchor_and_never_publish_a_lost_anchor(catalog):
    staff = Staff(await make_organ(catalog))
    review = {"reviewer": "赵保密", "reviewed_on": "2026-03-01", "conclusion": "proactive"}
    body = f"各单位：经研究，{NAME}同志任办公室主任。"
    base = {"title": "关于人事安排的通知", "genre": "notice", "proposed_attribute": "proactive"}
    result = (await bulk(catalog, integration(staff.organ), [
        {**base, "external_id": "HR-1", "body": body}, {**base, "external_id": "HR-2", "body": body}])).json()
    ids = [r["document_id"] for r in result["results"]]
    for doc_id in ids:
        _, etag = await record(catalog, staff.secrecy_officer, doc_id)
        await redact(catalog, staff.secrecy_officer, doc_id, etag, "body", body, NAME)

    result = (await bulk(catalog, integration(staff.organ), [
        {**base, "external_id": "HR-1", "body": f"{PREFIX}{body}", "review": review},
        {**base, "external_id": "HR-2", "body": body.replace(NAME, "某同志"), "review": review}])).json()
    assert [(r["status"], r["published"]) for r in result["results"]] == [("updated", True), ("updated", False)]
    public = await catalog.get(f"{API}/documents/{ids[0]}")
    assert NAME not in public.text and public.json()["body"] == f"{PREFIX}各单位：经研究，{MASK}同志任办公室主任。"
    assert (await catalog.get(f"{API}/documents/{ids[1]}")).status_code == 404
    assert not set(ids) & await searched(catalog, NAME)
    lost, _ = await record(catalog, staff.secrecy_officer, ids[1])
    assert lost["status"] == "draft" and [x["state"] for x in lost["redactions"]] == ["lost"]
    assert "redaction_anchor_lost" in [s["action"] for s in await review_log(catalog, staff, ids[1])]
    assert "redaction_reanchored" in [s["action"] for s in await review_log(catalog, staff, ids[0])]


# ---- who may remove a redaction, and the review log (item 4) ------------------------------------------------------


async def test_only_a_secrecy_officer_removes_the_secrecy_officers_redaction(catalog):
    staff = Staff(await make_organ(catalog))
    body = f"各单位：经研究，{NAME}同志任办公室主任。"
    doc_id, etag = await draft(catalog, staff, body=body)
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    r = await redact(catalog, staff.secrecy_officer, doc_id, etag, "body", body, NAME)
    redaction_id, etag = r.json()["id"], r.headers["etag"]
    url = f"{API}/documents/{doc_id}/redactions/{redaction_id}"
    for who in (staff.drafter, staff.division_head, staff.unit_head):
        assert_problem(await catalog.delete(url, headers=with_etag(who, etag)), 403, "redaction_protected")
    # Not even once the record is back in drafting.
    etag = (await act(catalog, staff.division_head, doc_id, "return", etag, {"comment": "请修改"})).headers["etag"]
    assert_problem(await catalog.delete(url, headers=with_etag(staff.drafter, etag)), 403, "redaction_protected")
    assert NAME not in (await record(catalog, staff.drafter, doc_id))[0]["public_body"]
    other_officer = auth("secrecy_officer", organ=staff.organ, sub=f"secrecy2@{staff.organ}", name="钱保密")
    r = await catalog.delete(url, headers=with_etag(other_officer, etag))
    assert r.status_code == 204, r.text


async def test_a_drafter_removes_only_their_own_redaction_and_only_while_drafting(catalog):
    staff = Staff(await make_organ(catalog))
    body = f"各单位：经研究，{NAME}同志任办公室主任。"
    doc_id, etag = await draft(catalog, staff, body=body)
    r = await redact(catalog, staff.drafter, doc_id, etag, "body", body, NAME)
    url, etag = f"{API}/documents/{doc_id}/redactions/{r.json()['id']}", r.headers["etag"]
    colleague = auth("drafter", organ=staff.organ, sub=f"drafter2@{staff.organ}", name="孙拟稿")
    assert_problem(await catalog.delete(url, headers=with_etag(colleague, etag)), 403, "redaction_protected")
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    assert_problem(await catalog.delete(url, headers=with_etag(staff.drafter, etag)), 403, "redaction_protected")
    etag = (await act(catalog, staff.division_head, doc_id, "return", etag, {"comment": "请修改"})).headers["etag"]
    r = await catalog.delete(url, headers=with_etag(staff.drafter, etag))
    assert r.status_code == 204, r.text


async def test_every_redaction_change_is_in_the_review_log(catalog):
    staff = Staff(await make_organ(catalog))
    body = f"各单位：经研究，{NAME}同志任办公室主任。"
    doc_id, etag = await draft(catalog, staff, body=body)
    r = await redact(catalog, staff.secrecy_officer, doc_id, etag, "body", body, NAME)
    redaction_id, etag = r.json()["id"], r.headers["etag"]
    etag = (await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, etag),
                                json={"body": f"{PREFIX}{body}"})).headers["etag"]
    r = await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, etag),
                            json={"body": body.replace(NAME, "")})
    etag = r.headers["etag"]
    await act(catalog, staff.drafter, doc_id, "submit", etag, expect=409, expect_code="redaction_anchor_lost")
    r = await catalog.delete(f"{API}/documents/{doc_id}/redactions/{redaction_id}",
                             headers=with_etag(staff.secrecy_officer, etag))
    assert r.status_code == 204, r.text
    await act(catalog, staff.drafter, doc_id, "submit", r.headers["etag"])

    log = await review_log(catalog, staff, doc_id)
    assert [(s["action"], s["role"], s["actor_sub"], s["redaction_id"]) for s in log] == [
        ("create", "drafter", f"drafter@{staff.organ}", None),
        ("redaction_added", "secrecy_officer", f"secrecy@{staff.organ}", redaction_id),
        ("edit", "drafter", f"drafter@{staff.organ}", None),
        ("redaction_reanchored", "drafter", f"drafter@{staff.organ}", redaction_id),
        ("edit", "drafter", f"drafter@{staff.organ}", None),
        ("redaction_anchor_lost", "drafter", f"drafter@{staff.organ}", redaction_id),
        ("redaction_removed", "secrecy_officer", f"secrecy@{staff.organ}", redaction_id),
        ("submit", "drafter", f"drafter@{staff.organ}", None),
    ]
    assert all(s["status_before"] == s["status_after"] == "draft" for s in log[1:7])
    # The log says where, not what: the withheld text is not copied into it.
    assert all(NAME not in (s["comment"] or "") for s in log)
    assert "body" in log[1]["comment"] and "8–12" in log[3]["comment"] and "12–16" in log[3]["comment"]


# ---- the guard at projection time: offsets are never trusted on their own --------------------------------------


async def _shift_body_behind_the_apis_back(catalog_db, doc_id: str) -> None:
    """A change of the text that skipped re-anchoring (a bug, a repair script, rows from before anchoring)."""
    from sqlalchemy import update

    from catalog_service.models import Document

    async with catalog_db.transaction() as session:
        doc = await session.get(Document, doc_id)
        await session.execute(update(Document).where(Document.id == doc_id).values(body=f"{PREFIX}{doc.body}"))


async def test_the_projection_fails_closed_when_the_text_is_not_at_the_offsets(catalog, catalog_db):
    staff = Staff(await make_organ(catalog))
    body = f"各单位：经研究，{NAME}同志任办公室主任。"
    doc_id, etag = await draft(catalog, staff, body=body, keywords=["人事"])
    etag = (await redact(catalog, staff.secrecy_officer, doc_id, etag, "body", body, NAME)).headers["etag"]
    await _shift_body_behind_the_apis_back(catalog_db, doc_id)
    _, etag = await record(catalog, staff.drafter, doc_id)
    # An edit of another field projects the record again, with the redaction's offsets now off the name.
    r = await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, etag),
                            json={"keywords": ["人事", "任免"]})
    assert r.status_code == 200, r.text
    assert NAME not in r.json()["public_body"] and r.json()["public_body"] == MASK
    assert doc_id not in await searched(catalog, NAME, staff.drafter, scope="organ")
    await act(catalog, staff.drafter, doc_id, "submit", r.headers["etag"], expect=409,
              expect_code="redaction_anchor_lost")


async def test_scheduled_publication_holds_back_a_record_whose_redaction_lost_its_text(catalog, catalog_db):
    import asyncio
    from datetime import UTC, datetime, timedelta

    from catalog_service.config import Settings
    from catalog_service.domain.workflow import publish_due

    staff = Staff(await make_organ(catalog))
    body = f"各单位：经研究，{NAME}同志任办公室主任。"
    doc_id, etag = await draft(catalog, staff, body=body)
    etag = (await redact(catalog, staff.secrecy_officer, doc_id, etag, "body", body, NAME)).headers["etag"]
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    when = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    await act(catalog, staff.unit_head, doc_id, "decide", etag,
              {"attribute": "proactive", "scheduled_publish_at": when})
    await _shift_body_behind_the_apis_back(catalog_db, doc_id)
    await asyncio.sleep(1.2)
    async with catalog_db.transaction() as session:
        assert await publish_due(session, Settings()) == 0
    assert (await catalog.get(f"{API}/documents/{doc_id}")).status_code == 404
    assert doc_id not in await searched(catalog, NAME)
