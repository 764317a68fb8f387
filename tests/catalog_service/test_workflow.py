"""The review workflow through the API: every path, the refused ones, and what the public can see."""

import asyncio
from datetime import date

from catalog_service.config import Settings
from catalog_service.domain.workflow import publish_due
from tests.catalog_service.helpers import API, Staff, act, draft, make_organ, publish, with_etag
from tests.support import assert_problem, auth


async def public_get(client, doc_id: str):
    return await client.get(f"{API}/documents/{doc_id}")


async def record(client, staff_headers, doc_id: str) -> dict:
    r = await client.get(f"{API}/documents/{doc_id}/record", headers=staff_headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_drafter_to_publication_with_an_immutable_review_log(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff, doc_number="穗府办〔2026〕8号", formed_on="2025-09-26")
    created = await record(catalog, staff.drafter, doc_id)
    # No 索引号 before publication: the public serial counts public records only (security review, issue 11).
    assert created["status"] == "draft" and created["index_no"] is None
    # 条例第二十六条: 20 working days from 2025-09-26, across 国庆/中秋 2025 (legal-rules §6.4 example 1).
    assert created["publication_due_on"] == "2025-10-30"
    assert_problem(await public_get(catalog, doc_id), 404, "document_not_found")

    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag, {"comment": "请审核"})).headers["etag"]
    etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    decided = (await act(catalog, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})).json()
    assert decided["status"] == "published" and decided["attribute"] == "proactive" and decided["published_at"]
    assert decided["index_no"].startswith(f"{staff.organ}/") and decided["index_no"].endswith("-00001")

    public = (await public_get(catalog, doc_id)).json()
    assert public["doc_number"] == "穗府办〔2026〕8号" and public["organ_code"] == staff.organ
    log = (await catalog.get(f"{API}/documents/{doc_id}/review-log", headers=staff.unit_head)).json()["items"]
    assert [(s["action"], s["role"], s["status_before"], s["status_after"]) for s in log] == [
        ("create", "drafter", None, "draft"),
        ("submit", "drafter", "draft", "division_review"),
        ("approve", "division_head", "division_review", "unit_review"),
        ("decide", "unit_head", "unit_review", "published"),
    ]
    assert log[1]["comment"] == "请审核" and log[3]["attribute_after"] == "proactive"
    assert log[3]["actor_name"] == "王主任"


async def test_index_numbers_count_up_per_organ(catalog):
    staff = Staff(await make_organ(catalog))
    first = await publish(catalog, staff)
    second = await publish(catalog, staff)
    n1 = (await record(catalog, staff.drafter, first))["index_no"]
    n2 = (await record(catalog, staff.drafter, second))["index_no"]
    assert int(n2.rsplit("-", 1)[1]) == int(n1.rsplit("-", 1)[1]) + 1


async def test_roles_are_enforced(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff)
    # A drafter cannot approve, a division head cannot decide, and nobody skips a step.
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/approve", headers=with_etag(staff.drafter, etag),
                                      json={}), 403, "wrong_role")
    r = await act(catalog, staff.drafter, doc_id, "submit", etag)
    etag = r.headers["etag"]
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/decide",
                                      headers=with_etag(staff.division_head, etag), json={"attribute": "proactive"}),
                   403, "wrong_role")
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/decide", headers=with_etag(staff.unit_head, etag),
                                      json={"attribute": "proactive"}), 409, "invalid_transition")
    # Drafting needs the drafter role; anonymous callers need a token.
    assert_problem(await catalog.post(f"{API}/documents", headers=staff.unit_head, json={"title": "标题标题"}),
                   403, "wrong_role")
    assert_problem(await catalog.post(f"{API}/documents", json={"title": "标题标题"}), 401, "authentication_required")


async def test_no_one_acts_outside_their_organ(catalog):
    ours, theirs = Staff(await make_organ(catalog)), Staff(await make_organ(catalog, "另一局"))
    doc_id, etag = await draft(catalog, ours)
    # Another organ's unpublished record does not exist for them (404, no oracle) ...
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/submit", headers=with_etag(theirs.drafter, etag),
                                      json={}), 404, "document_not_found")
    assert_problem(await catalog.get(f"{API}/documents/{doc_id}/record", headers=theirs.unit_head),
                   404, "document_not_found")
    # ... and on a published one of ours they may read the public view but not act.
    published = await publish(catalog, ours)
    etag = (await catalog.get(f"{API}/documents/{published}")).headers["etag"]
    assert_problem(await catalog.post(f"{API}/documents/{published}/withdraw",
                                      headers=with_etag(theirs.unit_head, etag), json={"comment": "越权撤回"}),
                   403, "outside_organ")
    assert_problem(await catalog.get(f"{API}/documents/{published}/record", headers=theirs.unit_head),
                   403, "outside_organ")


async def test_if_match_is_required_and_checked(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff)
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/submit", headers=staff.drafter, json={}),
                   428, "precondition_required")
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/submit", headers=with_etag(staff.drafter, '"99"'),
                                      json={}), 412, "precondition_failed")
    edited = await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, etag),
                                 json={"title": "修改后的标题"})
    assert edited.status_code == 200 and edited.json()["title"] == "修改后的标题"
    # The ETag read before the edit is now stale.
    assert_problem(await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, etag),
                                       json={"title": "再次修改"}), 412, "precondition_failed")


async def test_concurrent_transitions_one_wins(database_urls):
    """Real commits on a real engine (not the rolled-back test connection): racing submits with the same ETag."""
    from catalog_service.app import create_app
    from catalog_service.config import Settings
    from tests.support import serve

    app = create_app(Settings(database_url=database_urls["catalog"], scheduler_interval_seconds=0,
                              calendar_feed_enabled=False))  # no consumer writing into the shared test database
    async with serve(app) as client:
        staff = Staff(await make_organ(client))
        doc_id, etag = await draft(client, staff)
        results = await asyncio.gather(*(client.post(f"{API}/documents/{doc_id}/submit",
                                                     headers=with_etag(staff.drafter, etag), json={})
                                         for _ in range(20)))
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1 and set(codes) - {200} <= {409, 412}, codes


async def test_return_edit_and_resubmit(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff)
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    assert_problem(await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, etag),
                                       json={"title": "审核中不能修改"}), 409, "not_editable")
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/return",
                                      headers=with_etag(staff.division_head, etag), json={}), 422, "validation_error")
    r = await act(catalog, staff.division_head, doc_id, "return", etag, {"comment": "请补充文号"})
    assert r.json()["status"] == "draft"
    r = await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, r.headers["etag"]),
                            json={"doc_number": "示政办〔2026〕3号"})
    assert r.status_code == 200
    await act(catalog, staff.drafter, doc_id, "submit", r.headers["etag"])


async def test_referral_to_the_secrecy_administration(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff)
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    r = await act(catalog, staff.division_head, doc_id, "refer", etag, {"comment": "是否涉密不明确，报请确定"})
    assert r.json()["status"] == "referred"
    etag = r.headers["etag"]
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/resolve-referral",
                                      headers=with_etag(staff.unit_head, etag), json={"comment": "意见"}),
                   403, "wrong_role")
    r = await act(catalog, staff.secrecy_officer, doc_id, "resolve-referral", etag,
                  {"comment": "经保密行政管理部门确定，不属于国家秘密，可以公开", "attribute": "proactive"})
    assert r.json()["status"] == "unit_review"
    r = await act(catalog, staff.unit_head, doc_id, "decide", r.headers["etag"], {"attribute": "proactive"})
    assert r.json()["status"] == "published"


async def test_withheld_needs_grounds_and_gets_a_reevaluation_date(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff, proposed_attribute="withheld", withholding_grounds=["internal_affairs"])
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/decide", headers=with_etag(staff.unit_head, etag),
                                      json={"attribute": "on_request", "withholding_grounds": []}),
                   422, "validation_error")
    r = await act(catalog, staff.unit_head, doc_id, "decide", etag, {"attribute": "withheld"})
    body = r.json()
    assert body["status"] == "approved" and body["withholding_grounds"] == ["internal_affairs"]
    assert body["reevaluation_due_on"]
    assert_problem(await public_get(catalog, doc_id), 404, "document_not_found")
    listed = (await catalog.get(f"{API}/worklists/reevaluation", headers=staff.unit_head,
                                params={"within_days": 366})).json()
    assert doc_id in [i["id"] for i in listed["items"]]
    r = await act(catalog, staff.unit_head, doc_id, "reevaluate", r.headers["etag"],
                  {"comment": "情况变化，可以公开", "attribute": "proactive"})
    assert r.json()["status"] == "draft" and r.json()["proposed_attribute"] == "proactive"


async def test_drafts_without_grounds_for_withholding_are_refused(catalog):
    staff = Staff(await make_organ(catalog))
    r = await catalog.post(f"{API}/documents", headers=staff.drafter,
                           json={"title": "内部事项", "proposed_attribute": "withheld"})
    assert_problem(r, 422, "validation_error")


async def test_scheduled_publication(catalog, catalog_db):
    from datetime import UTC, datetime, timedelta

    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff)
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    when = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    r = await act(catalog, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive",
                                                                      "scheduled_publish_at": when})
    assert r.json()["status"] == "scheduled"
    assert_problem(await public_get(catalog, doc_id), 404, "document_not_found")
    await asyncio.sleep(1.2)
    async with catalog_db.transaction() as session:
        assert await publish_due(session, Settings()) == 1
    assert (await public_get(catalog, doc_id)).status_code == 200


async def test_classified_records_are_never_published(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff, title="涉密事项CANARY-CLS-1")
    classify = {"classification_level": "secret", "secrecy_period_years": 10, "classification_responsible": "王主任"}
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/classify", headers=with_etag(staff.drafter, etag),
                                      json=classify), 403, "wrong_role")
    r = await act(catalog, staff.secrecy_officer, doc_id, "classify", etag, classify)
    assert r.json()["classified"] is True and r.json()["classification_level"] == "secret"
    # The drafter no longer sees it at all (知悉范围): 404.
    assert_problem(await catalog.get(f"{API}/documents/{doc_id}/record", headers=staff.drafter),
                   404, "document_not_found")
    etag = r.headers["etag"]
    etag = (await act(catalog, staff.unit_head, doc_id, "submit", etag, expect=403,
                       expect_code="wrong_role")).headers.get("etag", etag)
    # Declassification re-opens review; it does not publish.
    r = await act(catalog, staff.secrecy_officer, doc_id, "declassify", etag, {"comment": "保密期限届满，解密"})
    body = r.json()
    assert body["classified"] is False and body["status"] == "draft" and body["attribute"] is None
    assert_problem(await public_get(catalog, doc_id), 404, "document_not_found")


async def test_a_published_row_that_is_classified_stays_within_the_secrecy_officers_reach(catalog, catalog_db):
    """visibility.public_condition's second half: a row that is published *and* classified (which the workflow never
    produces — e.g. one written by a migration or an import) stays out of the public view and out of a drafter's
    record view; the secrecy officer and unit head (知悉范围) still see it."""
    from sqlalchemy import update

    from catalog_service.models import Document

    staff = Staff(await make_organ(catalog))
    doc_id = await publish(catalog, staff, title="已公开后被定密的文件")
    assert (await public_get(catalog, doc_id)).status_code == 200
    async with catalog_db.transaction() as session:
        await session.execute(update(Document).where(Document.id == doc_id).values(classified=True))
    assert_problem(await public_get(catalog, doc_id), 404, "document_not_found")
    for headers in (staff.drafter, staff.division_head):
        assert_problem(await catalog.get(f"{API}/documents/{doc_id}/record", headers=headers), 404,
                       "document_not_found")
    for headers in (staff.secrecy_officer, staff.unit_head):
        assert (await record(catalog, headers, doc_id))["classified"] is True


async def test_unit_head_cannot_publish_a_classified_record(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff)
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    etag = (await act(catalog, staff.secrecy_officer, doc_id, "classify", etag, {
        "classification_level": "confidential", "declassify_on": "2036-01-01",
        "classification_responsible": "王主任"})).headers["etag"]
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/decide", headers=with_etag(staff.unit_head, etag),
                                      json={"attribute": "proactive"}), 409, "classified_never_published")


async def test_reclassification_after_publication_withdraws_it(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id = await publish(catalog, staff, title="已公开后定密CANARY-RECLS")
    etag = (await public_get(catalog, doc_id)).headers["etag"]
    r = await act(catalog, staff.secrecy_officer, doc_id, "classify", etag, {
        "classification_level": "secret", "secrecy_period_years": 5, "classification_responsible": "王主任"})
    assert r.json()["status"] == "withdrawn"
    assert_problem(await public_get(catalog, doc_id), 404, "document_not_found")


async def test_withdrawal_keeps_the_record_and_repeal_marks_it(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id = await publish(catalog, staff)
    etag = (await public_get(catalog, doc_id)).headers["etag"]
    r = await act(catalog, staff.unit_head, doc_id, "repeal", etag, {"repeal_date": "2026-06-30"})
    assert r.json()["validity"] == "repealed" and r.json()["repeal_date"] == "2026-06-30"
    public = await public_get(catalog, doc_id)
    assert public.json()["validity"] == "repealed"
    r = await act(catalog, staff.unit_head, doc_id, "withdraw", public.headers["etag"], {"comment": "发布有误，撤回"})
    assert r.json()["status"] == "withdrawn" and r.json()["withdrawal_reason"] == "发布有误，撤回"
    assert_problem(await public_get(catalog, doc_id), 404, "document_not_found")
    assert (await record(catalog, staff.unit_head, doc_id))["status"] == "withdrawn"


async def test_publishing_an_amendment_updates_the_old_records(catalog):
    staff = Staff(await make_organ(catalog))
    old = await publish(catalog, staff, genre="normative_document", title="旧办法")
    amended = await publish(catalog, staff, genre="normative_document", title="被修订的办法")
    await publish(catalog, staff, genre="normative_document", title="新办法", repeals=[old], amends=[amended])
    assert (await public_get(catalog, old)).json()["validity"] == "repealed"
    assert (await public_get(catalog, amended)).json()["validity"] == "amended"


async def test_redaction_the_public_never_receives_the_withheld_text(catalog):
    staff = Staff(await make_organ(catalog))
    text = "本次会议纪要。出席人员：张三身份证号CANARY-PII-7788，住址某路。其余事项公开。"
    doc_id, etag = await draft(catalog, staff, body=text)
    start = text.index("张三")
    end = text.index("，住址") + len("，住址某路。")
    r = await catalog.post(f"{API}/documents/{doc_id}/redactions", headers=with_etag(staff.drafter, etag),
                           json={"field": "body", "start": start, "end": end, "ground": "third_party_rights"})
    assert r.status_code == 201, r.text
    etag = r.headers["etag"]
    assert_problem(await catalog.post(f"{API}/documents/{doc_id}/redactions", headers=with_etag(staff.drafter, etag),
                                      json={"field": "body", "start": 0, "end": 10_000, "ground": "state_secret"}),
                   422, "invalid_reference")
    staff_view = await record(catalog, staff.drafter, doc_id)
    assert "CANARY-PII-7788" in staff_view["body"] and "CANARY-PII-7788" not in staff_view["public_body"]
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    await act(catalog, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})
    public = await public_get(catalog, doc_id)
    assert "CANARY-PII-7788" not in public.text
    assert "［已删除：涉及商业秘密、个人隐私等第三方合法权益（第十五条）］" in public.json()["body"]
    assert public.json()["body"].endswith("其余事项公开。")


async def test_publication_worklist_shows_overdue_and_due_soon(catalog):
    staff = Staff(await make_organ(catalog))
    overdue, _ = await draft(catalog, staff, formed_on="2025-01-02")
    later, _ = await draft(catalog, staff, formed_on=date.today().replace(year=date.today().year + 1).isoformat())
    r = await catalog.get(f"{API}/worklists/publication", headers=staff.division_head)
    items = {i["id"]: i for i in r.json()["items"]}
    assert items[overdue]["overdue"] is True and later not in items
    assert_problem(await catalog.get(f"{API}/worklists/publication", headers=staff.division_head,
                                     params={"limit": 1000}), 422, "validation_error")
    assert_problem(await catalog.get(f"{API}/worklists/publication"), 401, "authentication_required")


async def test_mass_assignment_is_refused(catalog):
    staff = Staff(await make_organ(catalog))
    for field, value in (("status", "published"), ("attribute", "proactive"), ("classified", False),
                         ("version", 7), ("organ_id", "x"), ("published_at", "2020-01-01T00:00:00Z"),
                         ("index_no", "X/2020-00001"), ("id", "x")):
        r = await catalog.post(f"{API}/documents", headers=staff.drafter, json={"title": "标题标题", field: value})
        assert_problem(r, 422, "validation_error")


async def test_document_number_shape(catalog):
    staff = Staff(await make_organ(catalog))
    for good in ("穗府办〔2011〕8号", "国发〔2018〕43号", "庆政办函〔2021〕31号"):
        assert (await catalog.post(f"{API}/documents", headers=staff.drafter,
                                   json={"title": "标题标题", "doc_number": good})).status_code == 201
    for bad in ("穗府办2011年8号", "〔2011〕8号", "穗府办〔11〕8号"):
        assert_problem(await catalog.post(f"{API}/documents", headers=staff.drafter,
                                          json={"title": "标题标题", "doc_number": bad}), 422, "validation_error")


async def test_anonymous_cannot_read_records(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, _ = await draft(catalog, staff)
    assert_problem(await catalog.get(f"{API}/documents/{doc_id}/record"), 401, "authentication_required")
    assert_problem(await catalog.get(f"{API}/documents/{doc_id}/review-log", headers=auth("handler", organ="x")),
                   403, "wrong_role")  # the policy refuses the role before the record is looked up


async def test_organ_directory_hierarchy_and_updates(catalog):
    city = await make_organ(catalog, "示例市人民政府", kind="peoples_government")
    dept = await make_organ(catalog, "示例市教育局", parent=city)
    street = await make_organ(catalog, "示例街道", parent=dept, kind="township_street")
    other = await make_organ(catalog, "无关机关")
    under = [o["code"] for o in (await catalog.get(f"{API}/organs", params={"under": city})).json()["items"]]
    assert under == [city, dept, street] and other not in under
    r = await catalog.get(f"{API}/organs/{dept}")
    r = await catalog.patch(f"{API}/organs/{dept}", headers=with_etag(auth("admin"), r.headers["etag"]),
                            json={"office_hours": "工作日 9:00-17:00", "phone": "020-88886666"})
    assert r.status_code == 200 and r.json()["office_hours"] == "工作日 9:00-17:00" and r.json()["version"] == 2
    assert_problem(await catalog.patch(f"{API}/organs/{dept}", headers=auth("admin"), json={"phone": "020-1234"}),
                   428, "precondition_required")
    assert_problem(await catalog.patch(f"{API}/organs/{dept}", headers=with_etag(auth("drafter", organ=dept), '"2"'),
                                       json={"phone": "020-1234"}), 403, "wrong_role")
    events = (await catalog.get("/internal/v1/events", headers=auth("service"), params={"limit": 1000})).json()
    updated = [e for e in events["items"] if e["type"] == "organ.updated" and e["payload"]["code"] == dept]
    assert updated and updated[-1]["payload"]["parent_code"] == city
