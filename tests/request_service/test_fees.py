"""信息处理费 (国办函〔2020〕109号): the worked examples of legal-rules §2, the band edges, the monthly position of
an application, and the calculator and preview endpoints."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from request_service.domain.fees import (
    fee_for,
    fee_preview,
    per_application_fee,
    per_application_total,
    per_volume_fee,
)
from request_service.models import Application, KnownOrgan
from tests.request_service.helpers import API, Desk, insert_application, organ_code
from tests.support import assert_problem


@pytest.mark.parametrize(("nth", "fee"), [
    (1, 0), (10, 0), (11, 100), (30, 100), (31, 200), (40, 200), (41, 300), (50, 300), (51, 400), (61, 500),
])
def test_per_application_fee_edges(nth, fee):
    assert per_application_fee(nth) == Decimal(fee)


@pytest.mark.parametrize(("count", "total"), [
    (0, 0), (10, 0), (11, 100), (30, 2000), (31, 2200), (35, 3000), (40, 4000), (41, 4300), (50, 7000),
])
def test_per_application_total(count, total):
    # worked example: 35 applications in one month → 20 × 100 + 5 × 200 = 3,000元
    assert per_application_total(count) == Decimal(total)


@pytest.mark.parametrize(("pages", "fee"), [
    (0, 0), (30, 0), (31, 10), (100, 700), (101, 720), (200, 2700), (201, 2740), (250, 4700),
])
def test_per_volume_fee_edges(pages, fee):
    # worked example: 250 pages → 700 + 2,000 + 2,000 = 4,700元
    assert per_volume_fee(pages) == Decimal(fee)


def test_negative_quantities_are_errors():
    for call, arg in ((per_application_fee, 0), (per_application_total, -1), (per_volume_fee, -1)):
        with pytest.raises(ValueError):
            call(arg)


async def test_calculator_endpoint(requests_client):
    r = await requests_client.get(f"{API}/fees/calculate", params={"method": "per_application", "quantity": 35})
    assert r.status_code == 200, r.text
    body = r.json()
    assert Decimal(body["amount"]) == Decimal("3000") and "国办函〔2020〕109号" in body["basis"]
    assert [(b["first"], b["last"], Decimal(b["rate"]), Decimal(b["amount"])) for b in body["bands"]] == [
        (1, 10, 0, 0), (11, 30, 100, 2000), (31, 35, 200, 1000)]
    r = await requests_client.get(f"{API}/fees/calculate", params={"method": "per_volume", "quantity": 250})
    body = r.json()
    assert Decimal(body["amount"]) == Decimal("4700") and body["standard"].startswith("按量计收")
    assert [(b["first"], b["last"], Decimal(b["amount"])) for b in body["bands"]] == [
        (1, 30, 0), (31, 100, 700), (101, 200, 2000), (201, 250, 2000)]
    for params in ({"method": "per_page", "quantity": 3}, {"method": "per_volume", "quantity": -1},
                   {"method": "per_volume"}):
        assert_problem(await requests_client.get(f"{API}/fees/calculate", params=params), 422, "validation_error")


async def _insert(db, organ: str, key: str, receipt: date, submitted_hour: int = 2, *,
                  submitted: datetime | None = None, app_id: str | None = None) -> Application:
    async with db.transaction() as session:
        if await session.get(KnownOrgan, organ) is None:
            session.add(KnownOrgan(code=organ, id=str(uuid.uuid4()), name="测试市财政局", path=f"/{organ}/"))
        app = Application(
            id=app_id or str(uuid.uuid4()), tracking_no=f"T{uuid.uuid4().hex[:12]}", query_code_hash="x",
            organ_code=organ, channel="online", receipt_date=receipt, status="accepted",
            applicant_type="natural_person",
            submitted_at=submitted or datetime(receipt.year, receipt.month, receipt.day, submitted_hour, tzinfo=UTC),
            applicant_name="李四", applicant_key=key, info_title="申请公开某项目审批材料")
        session.add(app)
    return app


async def test_fee_for_counts_the_applicants_month_at_this_organ(requests_client, request_db):
    desk = Desk(organ_code())
    key = uuid.uuid4().hex
    # Noise that must not count: last month, another organ, another applicant, an unconfirmed submission.
    await _insert(request_db, desk.organ, key, date(2026, 2, 28))
    await _insert(request_db, organ_code(), key, date(2026, 3, 2))
    await _insert(request_db, desk.organ, uuid.uuid4().hex, date(2026, 3, 2))
    march = [await _insert(request_db, desk.organ, key, date(2026, 3, 2) + timedelta(days=i)) for i in range(10)]
    # The 11th and 12th are received the same day: submission time orders them.
    twelfth = await _insert(request_db, desk.organ, key, date(2026, 3, 20), submitted_hour=9)
    eleventh = await _insert(request_db, desk.organ, key, date(2026, 3, 20), submitted_hour=3)
    async with request_db.transaction() as session:
        assert await fee_for(session, march[0], "per_application", None) == 0
        assert await fee_for(session, march[9], "per_application", None) == 0
        assert await fee_for(session, eleventh, "per_application", None) == Decimal(100)
        assert await fee_for(session, twelfth, "per_application", None) == Decimal(100)
        assert await fee_for(session, march[0], "per_volume", 250) == Decimal(4700)
        # counted across organs only when asked
        assert await fee_for(session, march[9], "per_application", None, same_organ=False) == Decimal(100)

    r = await requests_client.get(f"{API}/applications/{twelfth.id}/fee-preview",
                                  params={"method": "per_application"}, headers=desk.handler)
    assert r.status_code == 200, r.text
    assert r.json()["nth"] == 12 and Decimal(r.json()["amount"]) == 100 and r.json()["pages"] is None
    r = await requests_client.get(f"{API}/applications/{twelfth.id}/fee-preview",
                                  params={"method": "per_volume", "pages": 101}, headers=desk.handler)
    assert r.json()["nth"] is None and Decimal(r.json()["amount"]) == 720 and r.json()["pages"] == 101
    r = await requests_client.get(f"{API}/applications/{twelfth.id}/fee-preview",
                                  params={"method": "per_volume"}, headers=desk.handler)
    assert_problem(r, 422, "fee_pages_required")
    r = await requests_client.get(f"{API}/applications/{twelfth.id}/fee-preview",
                                  params={"method": "per_application"}, headers=Desk(organ_code()).handler)
    assert_problem(r, 404, "application_not_found")
    r = await requests_client.get(f"{API}/applications/{twelfth.id}/fee-preview", params={"method": "per_volume"})
    assert_problem(r, 401)


async def test_fee_notice_through_handling_uses_the_position_in_the_month(requests_client, request_db):
    """The handler's notify-fee action charges what fee_for computes and issues the 收费通知."""
    desk = Desk(organ_code())
    key = uuid.uuid4().hex
    apps = [await _insert(request_db, desk.organ, key, date(2026, 3, 2) + timedelta(days=i)) for i in range(11)]
    target = apps[-1].id
    etag = (await requests_client.get(f"{API}/applications/{target}", headers=desk.handler)).headers["etag"]
    r = await requests_client.post(f"{API}/applications/{target}/notify-fee",
                                   headers={**desk.handler, "If-Match": etag},
                                   json={"fee_method": "per_application", "on": "2026-03-13"})
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["fee_amount"]) == 100 and r.json()["status"] == "awaiting_fee"
    letters = (await requests_client.get(f"{API}/applications/{target}/letters",
                                         headers=desk.handler)).json()["items"]
    notice = next(letter for letter in letters if letter["kind"] == "fee_notice")
    html = (await requests_client.get(f"{API}/applications/{target}/letters/{notice['id']}",
                                      headers=desk.handler)).text
    assert "国办函〔2020〕109号" in html and "人民币100.00元" in html and "按件计收" in html
    assert "本月内您向本机关提出的政府信息公开申请累计已达11件" in html
    assert "收到本通知次日起20个工作日内" in html and "视为放弃申请" in html


async def test_calculator_with_nothing_to_charge(requests_client):
    """Zero applications or pages: no band at all, and the amount is still a 0.00 (not an error)."""
    for method in ("per_application", "per_volume"):
        r = await requests_client.get(f"{API}/fees/calculate", params={"method": method, "quantity": 0})
        assert r.status_code == 200, r.text
        assert Decimal(r.json()["amount"]) == 0 and r.json()["bands"] == []


async def test_the_month_starts_on_its_first_day_and_the_preview_states_its_method(requests_client, request_db):
    desk = Desk(organ_code())
    key = uuid.uuid4().hex
    # The applicant's first application to this organ is received on 1 April (自然月 from its first day) ...
    april = [await _insert(request_db, desk.organ, key, date(2026, 4, 1) + timedelta(days=i)) for i in range(10)]
    # ... and one more that month at another organ, counted only across organs.
    await _insert(request_db, organ_code(), key, date(2026, 4, 1), submitted_hour=1)
    tenth = april[-1]
    r = await requests_client.get(f"{API}/applications/{tenth.id}/fee-preview",
                                  params={"method": "per_application", "pages": 5}, headers=desk.handler)
    assert r.status_code == 200, r.text
    # per_application ignores pages: the preview says which method it applied and shows no page count.
    assert r.json()["method"] == "per_application" and r.json()["pages"] is None
    assert r.json()["nth"] == 10 and Decimal(r.json()["amount"]) == 0
    r = await requests_client.get(f"{API}/applications/{april[0].id}/fee-preview",
                                  params={"method": "per_volume", "pages": 31}, headers=desk.handler)
    assert r.json()["method"] == "per_volume" and r.json()["pages"] == 31 and Decimal(r.json()["amount"]) == 10
    # The 🔧 interpretation switch reaches both the amount and the position (fee_preview passes it on).
    async with request_db.transaction() as session:
        across = await fee_preview(session, tenth, "per_application", None, same_organ=False)
        at_organ = await fee_preview(session, tenth, "per_application", None)
    assert (across.nth, across.amount) == (11, Decimal(100))
    assert (at_organ.nth, at_organ.amount) == (10, Decimal(0))


async def test_the_position_orders_by_receipt_date_then_submission_time_then_id(requests_client, request_db):
    """application_rank's three keys, each one deciding: an application submitted earlier but confirmed later
    comes later (the month and the order are those of 收到申请之日), the same receipt date falls back to the
    submission time, and a full tie to the id."""
    desk = Desk(organ_code())
    key, prefix = uuid.uuid4().hex, uuid.uuid4().hex[:8]

    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 5, day, hour, tzinfo=UTC)

    async def add(name: str, receipt_day: int, submitted: datetime) -> tuple[str, str]:
        app = await _insert(request_db, desk.organ, key, date(2026, 5, receipt_day), submitted=submitted,
                            app_id=f"{prefix}-{name}")
        return name, app.id

    apps = [
        await add("1a", 6, at(4, 8)),  # submitted first, received (confirmed) after 1b
        await add("2b", 5, at(5, 2)),
        await add("3c", 8, at(7, 2)),  # submitted at the same moment as 4d, received a day later
        await add("4d", 7, at(7, 2)),
        await add("5e", 11, at(11, 9)),  # the same receipt date as 6f, submitted later, smaller id
        await add("6f", 11, at(11, 3)),
        await add("7g", 12, at(12, 2)),  # a full tie with 8h: the id decides
        await add("8h", 12, at(12, 2)),
    ]
    ranks = {}
    for name, app_id in apps:
        r = await requests_client.get(f"{API}/applications/{app_id}/fee-preview",
                                      params={"method": "per_application"}, headers=desk.handler)
        assert r.status_code == 200, r.text
        ranks[name] = r.json()["nth"]
    assert ranks == {"2b": 1, "1a": 2, "4d": 3, "3c": 4, "6f": 5, "5e": 6, "7g": 7, "8h": 8}


async def test_pages_edge_and_the_problems_of_a_fee_that_cannot_be_computed(requests_client, request_db, desk):
    key = uuid.uuid4().hex
    app = await _insert(request_db, desk.organ, key, date(2026, 3, 2))
    # 0 pages is a valid per-volume quantity (nothing to charge), not a missing one.
    r = await requests_client.get(f"{API}/applications/{app.id}/fee-preview",
                                  params={"method": "per_volume", "pages": 0}, headers=desk.handler)
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["amount"]) == 0 and r.json()["pages"] == 0
    # per_volume without pages: the problem names the missing field, as a validation error would.
    etag = (await requests_client.get(f"{API}/applications/{app.id}", headers=desk.handler)).headers["etag"]
    r = await requests_client.post(f"{API}/applications/{app.id}/notify-fee",
                                   headers={**desk.handler, "If-Match": etag},
                                   json={"fee_method": "per_volume", "on": "2026-03-03"})
    body = assert_problem(r, 422, "fee_pages_required")
    assert body["errors"] == [{"loc": ["body", "pages"], "msg": "required for per_volume", "type": "missing"}]
    # An application not yet received (no 收到申请之日) has no month to count in.
    unconfirmed = await insert_application(request_db, desk.organ, submitted=date(2026, 3, 2), key=key)
    r = await requests_client.get(f"{API}/applications/{unconfirmed}/fee-preview",
                                  params={"method": "per_application"}, headers=desk.handler)
    assert_problem(r, 409, "receipt_date_missing")
