"""有效期 · the validity lifecycle of 规范性文件 (issue 16 item 3; 国办发〔2018〕37号): the expiry set at publication
(5 years from 施行日期/成文日期, 2 for 试行/暂行, or the drafter's explicit 有效期至), the review work-list opening 6
months before it, "in force on D" right on history, and the scorecard's `validity_reviews_overdue` from the
catalogue's real feed.

Dates are relative to today (Beijing), so the fixture means the same whenever it runs."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.catalog_service.helpers import API, Staff, act, make_organ, publish
from tests.catalog_service.test_columns import follow
from tests.catalog_service.test_sync import REVIEW, bulk, integration
from tests.support import assert_problem, auth

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


def months(day: date, n: int) -> date:
    """Calendar months, the day clipped to the month's end (as the regulation's 年 and 月 are read)."""
    y, m = divmod(day.month - 1 + n, 12)
    for dd in (day.day, 30, 29, 28):
        try:
            return date(day.year + y, m + 1, dd)
        except ValueError:
            continue
    raise AssertionError


def record(key: str, title: str, **fields: Any) -> dict[str, Any]:
    return {"external_id": key, "title": title, "genre": "normative_document", "body": "各部门：现将办法印发给你们。",
            "review": {**REVIEW, "reviewed_on": (TODAY - timedelta(days=400)).isoformat()},
            "history": {"published_at": f"{(TODAY - timedelta(days=300)).isoformat()}T09:00:00+08:00"}, **fields}


async def in_force(catalog, staff: Staff, day: date) -> set[str]:
    r = await catalog.get(f"{API}/registers/in-force", headers=staff.drafter,
                          params={"in_force_on": day.isoformat(), "limit": 100})
    assert r.status_code == 200, r.text
    return {i["id"] for i in r.json()["items"]}


async def test_validity_lifecycle_review_worklist_and_in_force_on_a_day(catalog, stats, stats_db):
    organ = await make_organ(catalog, "有效期测试局")
    staff = Staff(organ)
    # A: 施行 5 years and 10 days ago → its 5 years ended 11 days ago (overdue). B: 试行, 成文 21 months ago → 2 years
    # end in 3 months (reminder open). C: explicit 有效期至 in 4 years. R: repealed 2 years ago. E: migrated,
    # expired 1 year ago by its validity history. N: a notice, no 有效期.
    a_start = months(TODAY, -60) - timedelta(days=10)
    b_written = months(TODAY, -21)
    repealed_on, expired_on = months(TODAY, -24), months(TODAY, -12)
    body = (await bulk(catalog, integration(organ), [
        record("A", "关于印发甲管理办法的通知", effective_date=a_start.isoformat(),
               written_date=(a_start - timedelta(days=20)).isoformat()),
        record("B", "关于印发乙管理办法（试行）的通知", written_date=b_written.isoformat()),
        record("C", "关于印发丙管理规定的通知", written_date=months(TODAY, -12).isoformat(),
               valid_until=months(TODAY, 48).isoformat()),
        record("R", "关于印发丁管理办法的通知", effective_date=months(TODAY, -72).isoformat(),
               history={"published_at": f"{months(TODAY, -72).isoformat()}T09:00:00+08:00", "validity": "repealed",
                        "repeal_date": repealed_on.isoformat()}),
        record("E", "关于印发戊管理办法的通知", effective_date=months(TODAY, -48).isoformat(),
               history={"published_at": f"{months(TODAY, -48).isoformat()}T09:00:00+08:00", "validity": "expired",
                        "validity_history": [{"validity": "in_force", "since": months(TODAY, -48).isoformat()},
                                             {"validity": "expired", "since": expired_on.isoformat()}]}),
        record("N", "关于召开工作会议的通知", genre="notice", written_date=months(TODAY, -70).isoformat()),
    ])).json()
    assert body["summary"]["published"] == 6, body
    a, b, c, rep, exp, notice = (r["document_id"] for r in body["results"])
    expected = {a: months(a_start, 60) - timedelta(days=1), b: months(b_written, 24) - timedelta(days=1),
                c: months(TODAY, 48), notice: None}
    for doc_id, expires in expected.items():
        r = await catalog.get(f"{API}/documents/{doc_id}/record", headers=staff.drafter)
        assert r.json()["expires_on"] == (expires.isoformat() if expires else None), (doc_id, r.json()["title"])
    # A record published through the workflow with an explicit 有效期至.
    own = await publish(catalog, staff, title="关于印发己实施细则的通知", genre="normative_document",
                        effective_date=TODAY.isoformat(), valid_until=months(TODAY, 36).isoformat())
    r = await catalog.get(f"{API}/documents/{own}/record", headers=staff.drafter)
    assert (r.json()["valid_until"], r.json()["expires_on"]) == ((months(TODAY, 36).isoformat(),) * 2)

    # 评估提醒: A (ended, overdue) and B (ends within 6 months); not C, R, E, N.
    r = await catalog.get(f"{API}/worklists/validity-review", headers=staff.drafter)
    assert r.status_code == 200, r.text
    assert [(i["id"], i["overdue"], i["expires_on"], i["review_from"]) for i in r.json()["items"]] == [
        (a, True, expected[a].isoformat(), months(expected[a], -6).isoformat()),
        (b, False, expected[b].isoformat(), months(expected[b], -6).isoformat())]
    r = await catalog.get(f"{API}/worklists/validity-review", headers=staff.drafter, params={"overdue": "true"})
    assert [i["id"] for i in r.json()["items"]] == [a]
    r = await catalog.get(f"{API}/worklists/validity-review", headers=Staff(await make_organ(catalog)).drafter)
    assert r.json()["items"] == []  # another organ's staff see their own reviews only
    r = await catalog.get(f"{API}/worklists/validity-review", headers=auth("applicant", sub="x"))
    assert_problem(r, 403, "wrong_role")

    # In force on a day, right on history.
    assert await in_force(catalog, staff, TODAY) == {b, c, notice, own}
    assert await in_force(catalog, staff, a_start - timedelta(days=1)) == {rep, notice}
    assert await in_force(catalog, staff, a_start) == {a, rep, notice}
    assert await in_force(catalog, staff, expected[a]) == {a, b, c, notice}
    assert await in_force(catalog, staff, expected[a] + timedelta(days=1)) == {b, c, notice}
    assert await in_force(catalog, staff, repealed_on - timedelta(days=1)) == {a, rep, exp, notice}
    assert await in_force(catalog, staff, repealed_on) == {a, exp, notice}
    assert await in_force(catalog, staff, expired_on - timedelta(days=1)) == {a, b, exp, notice}
    assert await in_force(catalog, staff, expired_on) == {a, b, c, notice}
    r = await catalog.get(f"{API}/registers/in-force", headers=staff.drafter,
                          params={"in_force_on": TODAY.isoformat(), "genre": "normative_document"})
    assert {i["id"] for i in r.json()["items"]} == {b, c, own}
    assert {i["validity_label"]["zh"] for i in r.json()["items"]} == {"现行有效"}

    # The scorecard counts A (past its 有效期, still marked in force) today, not on its last day in force.
    await follow(catalog, stats_db)
    who = auth("stats_officer", organ=organ)
    r = await stats.get(f"/api/v1/stats/scorecards/{organ}", headers=who, params={"as_of": TODAY.isoformat()})
    assert r.status_code == 200, r.text
    card = {i["key"]: i for i in r.json()["indicators"]}
    assert (card["validity_reviews"]["value"], card["validity_reviews"]["status"]) == (1, "fail")
    r = await stats.get(card["validity_reviews"]["records_url"], headers=who)
    assert [(i["id"], i["due_on"]) for i in r.json()["items"]] == [(a, expected[a].isoformat())]
    r = await stats.get(f"/api/v1/stats/scorecards/{organ}", headers=who,
                        params={"as_of": expected[a].isoformat(), "from": expected[a].replace(day=1).isoformat()})
    assert {i["key"]: i["value"] for i in r.json()["indicators"]}["validity_reviews"] == 0

    # Repealing A today ends the review (work-list, register) but not A's past: it was in force on its last day.
    r = await catalog.get(f"{API}/documents/{a}/record", headers=staff.unit_head)
    await act(catalog, staff.unit_head, a, "repeal", r.headers["etag"], {"repeal_date": TODAY.isoformat()})
    r = await catalog.get(f"{API}/worklists/validity-review", headers=staff.drafter)
    assert [i["id"] for i in r.json()["items"]] == [b]
    assert a in await in_force(catalog, staff, expected[a])
    await follow(catalog, stats_db)
    r = await stats.get(f"/api/v1/stats/scorecards/{organ}", headers=who,
                        params={"as_of": TODAY.isoformat()})
    assert {i["key"]: i["value"] for i in r.json()["indicators"]}["validity_reviews"] == 0
