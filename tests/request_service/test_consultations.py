"""咨询 (consultations): recorded by intake clerks and handlers, listed by year and channel, counted per channel for
the annual report, and published as consultation.recorded without personal data."""

from datetime import date

import pytest

from tests.request_service.intake_support import API, Desk, add_organ, events_of
from tests.support import assert_problem, auth, expect_status


async def record(client, headers, channel: str, received_on: str, topic: str = "如何申请公开政府信息？",
                 answer: str | None = "可通过在线申请平台提交。", expect: int = 201,
                 expect_code: str | None = None) -> dict:
    r = await client.post(f"{API}/consultations", headers=headers,
                          json={"channel": channel, "received_on": received_on, "topic": topic, "answer": answer})
    expect_status(r, expect, expect_code)
    return r.json()


async def test_record_and_event(client, request_db, desk):
    body = await record(client, desk.clerk, "phone", "2025-03-04", topic="张三 13812345678 询问申请进度")
    assert body["organ_code"] == desk.organ and body["channel_label"]["zh"] == "电话咨询"
    assert body["recorded_by"] == f"clerk@{desk.organ}"
    await record(client, desk.handler, "letter", "2025-03-05", answer=None)
    events = [e for e in await events_of(request_db, "consultation.recorded")
              if e["payload"]["organ_code"] == desk.organ]
    assert [e["payload"] for e in events] == [
        {"organ_code": desk.organ, "channel": "phone", "received_on": "2025-03-04"},
        {"organ_code": desk.organ, "channel": "letter", "received_on": "2025-03-05"},
    ]
    assert events[0]["entity_type"] == "consultation" and events[0]["entity_id"] == body["id"]


async def test_who_may_record(client, desk):
    body = {"channel": "phone", "received_on": "2025-03-04", "topic": "问题"}
    assert_problem(await client.post(f"{API}/consultations", json=body), 401, "authentication_required")
    for headers in (desk.approver, desk.drafter, auth("applicant", sub="x"), auth("handler")):
        assert_problem(await client.post(f"{API}/consultations", json=body, headers=headers), 403, "wrong_role")


@pytest.mark.parametrize("change", [
    {"received_on": "2999-01-01"}, {"channel": "carrier_pigeon"}, {"topic": ""}, {"organ_code": "X"},
    {"recorded_by": "someone"}, {"id": "x"},
])
async def test_validation(client, desk, change):
    body = {"channel": "phone", "received_on": "2025-03-04", "topic": "问题", **change}
    assert_problem(await client.post(f"{API}/consultations", json=body, headers=desk.clerk), 422, "validation_error")


async def test_list_by_year_and_channel_with_cursor(client, request_db, desk):
    for day, channel in [("2024-12-31", "phone"), ("2025-01-02", "phone"), ("2025-02-03", "online"),
                         ("2025-02-03", "phone"), ("2025-06-30", "in_person")]:
        await record(client, desk.clerk, channel, day)
    other = Desk(await add_organ(request_db))
    await record(client, other.clerk, "phone", "2025-05-05")

    r = await client.get(f"{API}/consultations", params={"year": 2025}, headers=desk.stats)
    assert r.status_code == 200, r.text
    assert [i["received_on"] for i in r.json()["items"]] == ["2025-06-30", "2025-02-03", "2025-02-03", "2025-01-02"]
    phones = await client.get(f"{API}/consultations", params={"year": 2025, "channel": "phone"}, headers=desk.handler)
    assert [i["received_on"] for i in phones.json()["items"]] == ["2025-02-03", "2025-01-02"]

    seen, cursor = [], None
    while True:  # pages of 2: the cursor carries a date (typed back for PostgreSQL)
        params = {"year": 2025, "limit": 2, **({"after": cursor} if cursor else {})}
        page = (await client.get(f"{API}/consultations", params=params, headers=desk.clerk)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 4
    assert_problem(await client.get(f"{API}/consultations", params={"after": "bm9wZQ"}, headers=desk.clerk),
                   422, "validation_error")
    assert_problem(await client.get(f"{API}/consultations", headers=desk.drafter), 403, "wrong_role")
    assert_problem(await client.get(f"{API}/consultations"), 401, "authentication_required")


async def test_summary_counts_per_channel(client, request_db, desk):
    for day, channel in [("2025-01-02", "phone"), ("2025-02-03", "phone"), ("2025-02-03", "online"),
                         ("2025-12-31", "email"), ("2026-01-01", "phone"), ("2024-12-31", "letter")]:
        await record(client, desk.clerk, channel, day)
    other = Desk(await add_organ(request_db))
    await record(client, other.clerk, "phone", "2025-05-05")
    r = await client.get(f"{API}/consultations/summary", params={"year": 2025}, headers=desk.approver)
    assert r.status_code == 200, r.text
    summary = r.json()
    labels = summary.pop("channel_labels")
    assert summary == {"organ_code": desk.organ, "year": 2025, "total": 4, "by_channel": {
        "in_person": 0, "phone": 2, "online": 1, "email": 1, "letter": 0, "other": 0}}
    assert labels["phone"] == {"code": "phone", "zh": "电话咨询", "en": "Telephone"} and set(labels) == set(
        summary["by_channel"])
    empty = await client.get(f"{API}/consultations/summary", params={"year": date.today().year - 10},
                             headers=desk.stats)
    assert empty.json()["total"] == 0
    assert_problem(await client.get(f"{API}/consultations/summary", headers=desk.stats), 422, "validation_error")
    assert_problem(await client.get(f"{API}/consultations/summary", params={"year": 2025},
                                    headers=desk.drafter), 403, "wrong_role")
