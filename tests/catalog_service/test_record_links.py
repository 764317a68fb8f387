"""Links between records (修订 amends, 废止 repeals, 解读 interpretation_of) and the public 索引号, through the API.

Security review (issue 11): one organ cannot amend or repeal another organ's record (items 2); every change to a
record, by whatever path, is in that record's own review log (item 2); the public 索引号 serials have no gaps that
count hidden records (item 6); a public view never names a record the caller cannot see (item 7).
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from catalog_service.config import Settings
from catalog_service.domain.workflow import publish_due
from tests.catalog_service.helpers import API, Staff, act, draft, make_organ, publish, with_etag
from tests.catalog_service.test_sync import REVIEW, all_changes, bulk, integration, record
from tests.support import assert_problem

CLASSIFY = {"classification_level": "secret", "secrecy_period_years": 5, "classification_responsible": "王主任"}


async def review_log(client, headers: dict[str, str], doc_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/documents/{doc_id}/review-log", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def public_view(client, doc_id: str) -> dict[str, Any]:
    r = await client.get(f"{API}/documents/{doc_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def staff_view(client, headers: dict[str, str], doc_id: str) -> tuple[dict[str, Any], str]:
    r = await client.get(f"{API}/documents/{doc_id}/record", headers=headers)
    assert r.status_code == 200, r.text
    return r.json(), r.headers["etag"]


def serial(index_no: str) -> int:
    return int(index_no.rsplit("-", 1)[1])


# ---- item 2: one organ cannot amend or repeal another organ's record ---------------------------------------------


async def test_an_organ_cannot_repeal_or_amend_another_organs_record(catalog):
    a, b = Staff(await make_organ(catalog, "甲局")), Staff(await make_organ(catalog, "乙局"))
    theirs = await publish(catalog, b, genre="normative_document", title="乙局的规范性文件")
    log_before = await review_log(catalog, b.unit_head, theirs)
    for field in ("repeals", "amends"):
        r = await catalog.post(f"{API}/documents", headers=a.drafter, json={
            "title": "甲局的新办法", "genre": "normative_document", "proposed_attribute": "proactive",
            field: [theirs]})
        body = assert_problem(r, 403, "foreign_record_link")
        assert body["errors"][0]["loc"] == ["body", field]
    # A 解读 of another organ's public record changes nothing of it: allowed.
    await publish(catalog, a, genre="interpretation", title="甲局对乙局文件的解读", interpretation_of=theirs)
    # PATCH cannot add links at all (a draft's links are fixed when it is drafted or imported).
    own, etag = await draft(catalog, a)
    assert_problem(await catalog.patch(f"{API}/documents/{own}", headers=with_etag(a.drafter, etag),
                                       json={"repeals": [theirs]}), 422)
    # The bulk import applies the same rule, with the same code.
    result = (await bulk(catalog, integration(a.organ), [record(1, review=REVIEW, repeals=[theirs]),
                                                         record(2, review=REVIEW, amends=[theirs])])).json()
    assert [(r["status"], r["reason"]) for r in result["results"]] == [("rejected", "foreign_record_link")] * 2
    assert result["results"][0]["errors"][0]["loc"] == ["repeals"]

    view = await public_view(catalog, theirs)
    assert (view["validity"], view["repeal_date"]) == ("in_force", None)
    # Only the 解读's publication is in its log: the system showing the new link (interpreted_by) in its public view.
    log_after = await review_log(catalog, b.unit_head, theirs)
    assert log_after[:len(log_before)] == log_before
    assert [(s["action"], s["actor_sub"]) for s in log_after[len(log_before):]] == [("link_shown", "system")]


async def test_co_issuers_may_repeal_their_joint_record_and_it_is_in_its_own_log(catalog):
    a, b = Staff(await make_organ(catalog, "甲局")), Staff(await make_organ(catalog, "乙局"))
    joint = await publish(catalog, b, genre="normative_document", title="乙局牵头、甲局联合印发的办法",
                          co_issuer_codes=[a.organ])
    own = await publish(catalog, a, genre="normative_document", title="甲局自己的旧办法")
    new = await publish(catalog, a, genre="normative_document", title="甲局的新办法", repeals=[joint],
                        amends=[own], effective_date="2026-07-01")
    assert (await public_view(catalog, joint))["validity"] == "repealed"
    assert (await public_view(catalog, own))["validity"] == "amended"
    new_no = (await public_view(catalog, new))["index_no"]
    # The change is in the changed record's own log, saying which record did it and who published that.
    [*_, step] = await review_log(catalog, b.unit_head, joint)
    assert (step["action"], step["status_before"], step["status_after"]) == ("repealed_by", "published", "published")
    assert new in step["comment"] and new_no in step["comment"] and step["actor_sub"] == f"unit@{a.organ}"
    [*_, step] = await review_log(catalog, a.unit_head, own)
    assert step["action"] == "amended_by" and new in step["comment"]


async def test_an_import_that_repeals_writes_the_targets_log(catalog):
    a = Staff(await make_organ(catalog))
    [old] = (await bulk(catalog, integration(a.organ), [record(1, review=REVIEW)])).json()["results"]
    await bulk(catalog, integration(a.organ), [record(2, review=REVIEW, repeals=[old["document_id"]])])
    [*_, step] = await review_log(catalog, a.unit_head, old["document_id"])
    assert (step["action"], step["role"], step["actor_sub"]) == ("repealed_by", "integration", "oa-system")


async def test_an_import_that_updates_a_draft_writes_its_log(catalog):
    a = Staff(await make_organ(catalog))
    [doc] = (await bulk(catalog, integration(a.organ), [record(1)])).json()["results"]
    await bulk(catalog, integration(a.organ), [record(1, title="更新后的标题：关于做好政务公开工作的通知")])
    log = await review_log(catalog, a.unit_head, doc["document_id"])
    assert [(s["action"], s["role"], s["status_after"]) for s in log] == [
        ("import", "integration", "draft"), ("import_update", "integration", "draft")]


async def test_scheduled_publication_is_in_the_records_log(catalog, catalog_db):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff)
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    when = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    await act(catalog, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive",
                                                                 "scheduled_publish_at": when})
    await asyncio.sleep(1.2)
    async with catalog_db.transaction() as session:
        assert await publish_due(session, Settings()) == 1
    [*_, step] = await review_log(catalog, staff.unit_head, doc_id)
    assert (step["action"], step["role"], step["status_before"], step["status_after"]) == (
        "publish", "system", "scheduled", "published")


# ---- item 6: the public 索引号 has no gaps that count hidden records --------------------------------------------


async def test_public_index_numbers_are_consecutive_around_hidden_records(catalog):
    staff = Staff(await make_organ(catalog))
    first = await publish(catalog, staff, title="第一份公开文件")
    hidden, _ = await draft(catalog, staff, title="一直未公开的草稿")
    classified, etag = await draft(catalog, staff, title="定密的文件")
    await act(catalog, staff.secrecy_officer, classified, "classify", etag, CLASSIFY)
    # Records imported without a concluding review stay drafts; those concluded proactive are published.
    await bulk(catalog, integration(staff.organ), [record(1), record(2)])
    [imported] = (await bulk(catalog, integration(staff.organ), [record(3, review=REVIEW)])).json()["results"]
    second = await publish(catalog, staff, title="第二份公开文件")

    numbers = [(await public_view(catalog, d))["index_no"] for d in (first, imported["document_id"], second)]
    assert [serial(n) for n in numbers] == [1, 2, 3], numbers
    # Unpublished records carry no 索引号 at all; a number, once given, never changes.
    for doc_id, headers in ((hidden, staff.drafter), (classified, staff.secrecy_officer)):
        assert (await staff_view(catalog, headers, doc_id))[0]["index_no"] is None
    _, etag = await staff_view(catalog, staff.unit_head, first)
    await act(catalog, staff.unit_head, first, "withdraw", etag, {"comment": "撤回重审"})
    assert (await staff_view(catalog, staff.unit_head, first))[0]["index_no"] == numbers[0]


# ---- item 7: a public view never names a record the caller cannot see --------------------------------------------


async def test_a_classified_policy_is_not_named_by_its_published_interpretation(catalog):
    staff = Staff(await make_organ(catalog))
    other = Staff(await make_organ(catalog, "解读机关"))
    policy = await publish(catalog, staff, genre="normative_document", title="被解读的政策")
    ours = await publish(catalog, staff, genre="interpretation", title="政策解读", interpretation_of=policy)
    theirs = await publish(catalog, other, genre="interpretation", title="另一机关的解读", interpretation_of=policy)
    assert (await public_view(catalog, ours))["interpretation_of"] == policy
    etags = {d: (await catalog.get(f"{API}/documents/{d}")).headers["etag"] for d in (ours, theirs)}

    _, etag = await staff_view(catalog, staff.secrecy_officer, policy)
    await act(catalog, staff.secrecy_officer, policy, "classify", etag, CLASSIFY)

    for doc_id in (ours, theirs):
        r = await catalog.get(f"{API}/documents/{doc_id}")
        assert policy not in r.text and r.json()["interpretation_of"] is None
        # The public view changed: a cached copy must not be revalidated as current.
        again = await catalog.get(f"{API}/documents/{doc_id}", headers={"If-None-Match": etags[doc_id]})
        assert again.status_code == 200
    # Staff who may not see the classified record (another organ; a drafter outside 知悉范围) are not told either.
    for headers, doc_id in ((other.drafter, theirs), (staff.drafter, ours)):
        view, _ = await staff_view(catalog, headers, doc_id)
        assert view["interpretation_of"] is None
    view, _ = await staff_view(catalog, staff.unit_head, ours)
    assert view["interpretation_of"] == policy  # the unit head may see it (知悉范围)

    search = await catalog.get(f"{API}/documents", params={"q": "解读"})
    assert search.status_code == 200 and policy not in search.text
    feed = await catalog.get(f"{API}/feeds/atom.xml")
    assert policy not in feed.text
    # The change feed re-announces the interpretations without the link; the policy itself only as a tombstone.
    items = await all_changes(catalog)
    for item in items:
        if item["document_id"] != policy:
            assert policy not in str(item), item
    latest = {i["document_id"]: i for i in items}
    assert latest[policy]["change"] == "tombstone" and latest[policy]["record"] is None
    for doc_id in (ours, theirs):
        assert latest[doc_id]["record"]["interpretation_of"] is None
    # The re-announcement is in the interpretations' own logs.
    [*_, step] = await review_log(catalog, other.unit_head, theirs)
    assert step["action"] == "link_hidden" and policy not in (step["comment"] or "")


async def test_a_drafters_own_edits_and_attachments_are_in_the_records_review_log(catalog, tmp_path):
    """Every change to a record, by whatever path, is in its own review log (security review, issue 11 item 2):
    an edit of the draft names the fields it changed (never their values), and attaching or removing a file names
    the file."""
    from tests.catalog_service.test_attachments import upload

    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff)
    r = await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, etag),
                            json={"summary": "王小明的联系电话13800001234", "keywords": ["预算"]})
    assert r.status_code == 200, r.text
    r = await upload(catalog, staff.drafter, doc_id, r.headers["etag"])
    attachment_id = r.json()["id"]
    r = await catalog.delete(f"{API}/documents/{doc_id}/attachments/{attachment_id}",
                             headers=with_etag(staff.drafter, r.headers["etag"]))
    assert r.status_code == 204, r.text
    steps = await review_log(catalog, staff.drafter, doc_id)
    assert [s["action"] for s in steps] == ["create", "edit", "attachment_added", "attachment_removed"]
    edit = steps[1]
    assert edit["actor_sub"] == f"drafter@{staff.organ}" and edit["role"] == "drafter"
    assert "keywords" in edit["comment"] and "summary" in edit["comment"]
    assert "13800001234" not in edit["comment"] and "王小明" not in edit["comment"]
    assert "关于2026年预算公开的说明.pdf" in steps[2]["comment"] and attachment_id in steps[3]["comment"]
    assert all(s["status_before"] == s["status_after"] == "draft" for s in steps[1:])


async def test_the_change_feed_cursor_does_not_count_hidden_activity(catalog, catalog_db):
    """索引号 aside, the public change feed's cursors must not let a reader count what the public cannot see
    (security review item 6): drafts created between two publications leave no trace in the cursors a harvester
    reads — the cursors are not the internal event ids, and their difference says nothing."""
    from sqlalchemy import select

    from catalog_service.models import outbox

    staff = Staff(await make_organ(catalog))
    first = await publish(catalog, staff)
    for n in range(5):  # hidden activity: five drafts, each an event on the internal feed
        await draft(catalog, staff, title=f"内部草稿{n}")
    second = await publish(catalog, staff)
    items = await all_changes(catalog)
    cursors = {i["document_id"]: i["cursor"] for i in items if i["document_id"] in (first, second)}
    async with catalog_db.session(write=False) as session:
        event_ids = dict((await session.execute(
            select(outbox.events.c.entity_id, outbox.events.c.id)
            .where(outbox.events.c.entity_id.in_([first, second]), outbox.events.c.type == "document.published")
        )).all())
    assert event_ids[second] - event_ids[first] > 5  # the internal feed did see the drafts
    assert int(cursors[first]) != event_ids[first] and int(cursors[second]) != event_ids[second]
    assert int(cursors[second]) - int(cursors[first]) != event_ids[second] - event_ids[first]
    # Still a cursor: resuming after the first publication's cursor gives the second next.
    r = await catalog.get(f"{API}/changes", params={"after": cursors[first]})
    assert [i["document_id"] for i in r.json()["items"]][-1] == second


def test_feed_cursors_are_a_keyed_permutation():
    """encode/decode undo each other on the whole int64 range, stay inside it, and depend on the key."""
    from catalog_service.domain import feed_cursor

    key = b"test-key"
    samples = [1, 2, 3, 41, 42, 10**6, 2**31, 2**32 - 1, 2**32, 2**62, feed_cursor.LIMIT - 1]
    encoded = [feed_cursor.encode(key, n) for n in samples]
    assert all(0 < c < feed_cursor.LIMIT for c in encoded) and len(set(encoded)) == len(samples)
    assert [feed_cursor.decode(key, c) for c in encoded] == samples
    assert feed_cursor.encode(key, 0) == 0 and feed_cursor.decode(key, 0) == 0
    assert [feed_cursor.encode(b"other-key", n) for n in samples] != encoded


def test_production_refuses_the_development_feed_cursor_key():
    import pytest

    from services.settings import AuthSettings

    real = {"environment": "production", "public_base_url": "https://gongkai.example.gov.cn",
            "auth": AuthSettings(environment="production", jwt_secret="a-real-jwt-secret-from-the-vault-0123")}
    with pytest.raises(ValueError, match="CATALOG_FEED_CURSOR_KEY"):
        Settings(**real)
    assert Settings(**real, feed_cursor_key="a-real-feed-cursor-key-0123").feed_cursor_key.get_secret_value()
