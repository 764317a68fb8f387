"""The "done means" test of the statistics service (issue 5): a realistic year replayed end to end.

1. Organs and documents are made through the catalogue's API; the request service learns the organs from the
   catalogue's event feed (its real "catalog-organs" consumer and catalogue client).
2. Every application of year_scenario.py goes through the request service's real endpoints, in date order, with
   the proper roles and If-Match: registration / the online form, 双方确认, 补正, 征求意见, 延期, 收费, drafted and
   signed-off replies, 复议 and 诉讼 with their results, 咨询. "Today" is the scenario's day (request_clock.py).
3. The statistics service follows both feeds the way it does in production — stats_service.consumers (HttpFeed over
   `/internal/v1/events`) against the two apps, here over ASGI — while the year is replayed, month by month.
4. Every cell of the annual reports (the finance bureau for 2024, 2025 and 2026; the city with all subordinates
   for 2025) equals the figures computed from the scenario alone, every identity in `checks` holds, and the
   drill-down of every row lists exactly the scenario's applications.
5. Rebuilt from cursor 0 with a consumer that is stopped part-way, then crashes mid-batch after writing, then is
   replaced by a new instance, the reports are identical; the XLSX export of the 2025 report opens in openpyxl with
   the expected numbers in the official layout.
"""

import io
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import delete

from request_service.app import create_app as create_request_app
from request_service.clients import make_catalog_client
from request_service.config import Settings as RequestSettings
from request_service.domain.organs import apply_organ_events
from request_service.feeds import ORGAN_FEED
from request_service.models import outbox as request_outbox
from services.outbox import FeedConsumer
from stats_service.config import Settings as StatsSettings
from stats_service.consumers import HttpFeed, make_consumers
from stats_service.models import (
    AppealFact,
    ApplicationFact,
    ConsultationFact,
    DocumentFact,
    OrganFact,
    ReportCounter,
)
from stats_service.models import outbox as stats_outbox
from tests.catalog_service.helpers import Staff, make_organ
from tests.catalog_service.helpers import act as catalog_act
from tests.catalog_service.helpers import publish as catalog_publish
from tests.request_service.intake_support import Desk, applicant, resident_id, uscc
from tests.stats_service import year_scenario
from tests.stats_service.helpers import Forward
from tests.stats_service.request_clock import RequestClock
from tests.stats_service.year_scenario import (
    APPLICANTS,
    CHANNELS,
    CITY,
    COLUMNS,
    DEPT,
    IMMEDIATE,
    OFFICE,
    RESULT_ROWS,
    ROWS,
    STREET,
    Case,
    Scenario,
    Step,
)
from tests.support import auth, serve

REQUESTS = "/api/v1/requests"
STATS = "/api/v1/stats"
REPORTS = [(DEPT, 2024, False), (DEPT, 2025, False), (DEPT, 2026, False), (CITY, 2025, True), (OFFICE, 2025, False)]
NAMES = {CITY: ("示例市人民政府", "peoples_government"), DEPT: ("示例市财政局", "department"),
         OFFICE: ("示例市财政局直属分局", "department"), STREET: ("示例街道办事处", "township_street")}
REASONS = {"withheld": "依据《中华人民共和国政府信息公开条例》第十四条、第十五条、第十六条不予公开。",
           "unable": "经检索，本机关未制作或者获取该政府信息。",
           "not_processed": "依据条例第三十六条第（三）项、第三十九条，不予处理。",
           "other": "申请人撤回申请。"}
FACTS = (ApplicationFact, AppealFact, ConsultationFact, DocumentFact, OrganFact, ReportCounter)


@pytest.fixture
async def request_api(request_db, catalog) -> AsyncIterator[httpx.AsyncClient]:
    """The request service with its catalogue client pointed at the real catalogue app."""
    app = create_request_app(database=request_db, catalog_transport=Forward(catalog))
    async with serve(app) as client:
        yield client


class Replay:
    """Drives the scenario through the three services' APIs and keeps the ids they hand out."""

    def __init__(self, s: Scenario, catalog: httpx.AsyncClient, requests: httpx.AsyncClient,
                 stats: httpx.AsyncClient, request_db: Any, stats_db: Any, clock: RequestClock) -> None:
        self.s, self.catalog, self.requests, self.stats = s, catalog, requests, stats
        self.request_db, self.stats_db, self.clock = request_db, stats_db, clock
        self.codes: dict[str, str] = {}
        self.desks: dict[str, Desk] = {}
        self.calls = 0

    # --- catalogue ---------------------------------------------------------------------------------------------
    async def organs(self) -> None:
        for role in (CITY, DEPT, OFFICE, STREET):
            name, kind = NAMES[role]
            parent = year_scenario.PARENTS[role]
            self.codes[role] = await make_organ(self.catalog, name, kind=kind,
                                                parent=self.codes[parent] if parent else None)
            self.desks[role] = Desk(self.codes[role])
        # The request service learns them from the catalogue's feed, with its own consumer and client.
        client = make_catalog_client(RequestSettings(), Forward(self.catalog))
        try:
            consumer = FeedConsumer(ORGAN_FEED, self.request_db, request_outbox, client.fetch_events,
                                    apply_organ_events, batch_size=2)
            assert await consumer.drain() >= 4
        finally:
            await client.aclose()

    async def documents(self) -> None:
        for doc in self.s.documents:
            staff = Staff(self.codes[doc.organ])
            doc.id = await catalog_publish(self.catalog, staff, genre=doc.genre, title=f"示例文件{doc.key}",
                                           written_date=doc.written.isoformat(), formed_on=doc.written.isoformat())
            if doc.repealed:
                etag = (await self.catalog.get(f"/api/v1/catalog/documents/{doc.id}")).headers["etag"]
                await catalog_act(self.catalog, staff.unit_head, doc.id, "repeal", etag,
                                  {"repeal_date": doc.repealed.isoformat()})

    async def figures(self) -> None:
        for role, body in self.s.figures.items():
            r = await self.stats.put(f"{STATS}/annual-reports/{self.codes[role]}/2025/figures", json=body,
                                     headers=auth("stats_officer", organ=self.codes[role]))
            assert r.status_code == 200, r.text

    # --- request service ---------------------------------------------------------------------------------------
    async def step(self, step: Step) -> None:
        self.clock.set(step.day)
        self.calls += 1
        if step.case is None:
            await self.record_consultation(step.day, **step.args)
        else:
            await getattr(self, step.action)(step.case, step.day, **step.args)

    def _applicant(self, case: Case) -> dict[str, Any]:
        if case.applicant == "natural_person":
            return applicant(name=f"申请人{case.key}", id_type="resident_id", id_number=resident_id())
        return applicant(type=case.applicant, name=f"某某单位{case.key}", id_type="uscc", id_number=uscc())

    def _body(self, case: Case) -> dict[str, Any]:
        return {"applicant": self._applicant(case), "info_title": f"申请公开2025年度专项资金分配情况（{case.key}）",
                "info_description": "请提供专项资金分配结果及依据", "preferred_form": "electronic",
                "delivery": "email"}

    def _received(self, case: Case, r: httpx.Response) -> None:
        assert r.status_code == 201, r.text
        body = r.json()
        case.id, case.etag = body["id"], r.headers["etag"]
        # The clock took: the service dates the submission on the scenario's day (Beijing time).
        assert body["submitted_at"].startswith(case.submitted.isoformat()), body["submitted_at"]
        assert body["receipt_date"] == (case.submitted.isoformat() if case.channel in IMMEDIATE else None)

    async def submit_online(self, case: Case, day: date) -> None:
        self._received(case, await self.requests.post(f"{REQUESTS}/applications",
                                                      json={**self._body(case), "organ_code": self.codes[case.organ]}))

    async def register(self, case: Case, day: date) -> None:
        body: dict[str, Any] = {**self._body(case), "channel": case.channel}
        if case.channel == "in_person":
            body["submitted_on"] = day.isoformat()
        elif case.channel == "mail_signed":
            body["signed_for_on"] = day.isoformat()
        self._received(case, await self.requests.post(f"{REQUESTS}/applications/register", json=body,
                                                      headers=self.desks[case.organ].clerk))

    async def _act(self, case: Case, role: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {**getattr(self.desks[case.organ], role), "If-Match": case.etag}
        r = await self.requests.post(f"{REQUESTS}/applications/{case.id}/{action.replace('_', '-')}", json=body,
                                     headers=headers)
        assert r.status_code == 200, f"{case.key} {action}: {r.text}"
        case.etag = r.headers["etag"]
        return r.json()

    async def confirm(self, case: Case, day: date) -> None:
        app = await self._act(case, "clerk", "confirm", {"on": day.isoformat(), "method": "电话确认"})
        assert app["receipt_date"] == day.isoformat() and app["status"] == "accepted"

    async def request_supplement(self, case: Case, day: date, days: int) -> None:
        await self._act(case, "handler", "request_supplement", {
            "on": day.isoformat(), "days": days, "items": ["请明确所需政府信息的名称、文号或者其他特征性描述"]})

    async def receive_supplement(self, case: Case, day: date) -> None:
        await self._act(case, "clerk", "receive_supplement", {"on": day.isoformat()})

    async def close_unsupplemented(self, case: Case, day: date) -> None:
        app = await self._act(case, "handler", "close_unsupplemented", {"on": day.isoformat()})
        assert (app["status"], app["outcome"]) == ("closed", "other.no_supplement")

    async def consult(self, case: Case, day: date, party_kind: str) -> None:
        await self._act(case, "handler", "consult", {"on": day.isoformat(), "party_kind": party_kind,
                                                     "party_name": "示例科技有限公司" if party_kind == "third_party"
                                                     else "示例市发展和改革委员会"})

    async def record_opinion(self, case: Case, day: date, opinion: str) -> None:
        r = await self.requests.get(f"{REQUESTS}/applications/{case.id}/third-party-consultations",
                                    headers=self.desks[case.organ].handler)
        (open_one,) = [c for c in r.json()["items"] if c["opinion"] is None]
        await self._act(case, "handler", "record_opinion", {"on": day.isoformat(), "consultation_id": open_one["id"],
                                                            "opinion": opinion, "comment": "书面答复"})

    async def extend(self, case: Case, day: date, days: int) -> None:
        app = await self._act(case, "approver", "extend", {"days": days,
                                                           "comment": "需要调取历年档案，经负责人同意延期"})
        assert app["extension_days"] == days

    async def request_explanation(self, case: Case, day: date, days: int) -> None:
        app = await self._act(case, "handler", "request_explanation", {
            "on": day.isoformat(), "days": days, "comment": "一个月内提出申请数十件，明显超过合理范围"})
        assert app["explanation_requested_on"] == day.isoformat()

    async def record_explanation(self, case: Case, day: date) -> None:
        await self._act(case, "handler", "record_explanation", {"on": day.isoformat(), "comment": "未说明具体用途"})

    async def notify_fee(self, case: Case, day: date, pages: int, amount: str) -> None:
        app = await self._act(case, "handler", "notify_fee", {"on": day.isoformat(), "fee_method": "per_volume",
                                                              "pages": pages})
        assert (app["status"], app["fee_amount"]) == ("awaiting_fee", amount)

    async def record_payment(self, case: Case, day: date, amount: str) -> None:
        await self._act(case, "handler", "record_payment", {"on": day.isoformat(), "amount": amount})

    async def waive_fee(self, case: Case, day: date) -> None:
        await self._act(case, "approver", "waive_fee", {"comment": "申请人确有经济困难，予以减免"})

    async def close_unpaid(self, case: Case, day: date) -> None:
        app = await self._act(case, "handler", "close_unpaid", {"on": day.isoformat()})
        assert (app["status"], app["outcome"]) == ("closed", "other.fee_unpaid")

    async def draft_reply(self, case: Case, day: date, outcome: str, already_published: bool = False) -> None:
        body: dict[str, Any] = {"outcome": outcome, "articles": ["《中华人民共和国政府信息公开条例》第三十六条"],
                                "comment": REASONS.get(outcome.split(".")[0])}
        if outcome == "partially_granted":
            body["withheld_parts"] = [{"description": "涉及个人信息的部分", "ground": "third_party_rights",
                                       "article": "条例第十五条"}]
            body["comment"] = "对涉及第三方个人信息的部分作区分处理。"
        if already_published:  # 条例第三十六条第一项: counted as granted
            body["published_document_id"] = next(doc.id for doc in self.s.documents if doc.key == "N2")
        app = await self._act(case, "handler", "draft_reply", body)
        assert app["status"] == "reply_drafted"

    async def return_reply(self, case: Case, day: date) -> None:
        await self._act(case, "approver", "return_reply", {"comment": "请补充引用的法律依据"})

    async def approve_reply(self, case: Case, day: date) -> None:
        app = await self._act(case, "approver", "approve_reply", {})
        assert (app["status"], app["closed_on"], app["outcome"]) == ("replied", day.isoformat(), case.outcome)

    async def file_appeal(self, case: Case, day: date, appeal: year_scenario.Appeal) -> None:
        body = {"kind": appeal.kind, "filed_on": day.isoformat(), "case_no": f"（{day.year}）示例行复第{case.key}号"}
        r = await self.requests.post(f"{REQUESTS}/applications/{case.id}/appeals", json=body,
                                     headers=self.desks[case.organ].handler)
        assert r.status_code == 201, r.text
        appeal.id = r.json()["id"]
        appeal.etag = r.headers["etag"]

    async def decide_appeal(self, case: Case, day: date, appeal: year_scenario.Appeal) -> None:
        headers = {**self.desks[case.organ].approver, "If-Match": appeal.etag}
        r = await self.requests.patch(f"{REQUESTS}/appeals/{appeal.id}", headers=headers,
                                      json={"outcome": appeal.outcome, "decided_on": day.isoformat()})
        assert r.status_code == 200, r.text

    async def record_consultation(self, day: date, organ: str, channel: str) -> None:
        r = await self.requests.post(f"{REQUESTS}/consultations", headers=self.desks[organ].clerk,
                                     json={"channel": channel, "received_on": day.isoformat(),
                                           "topic": "咨询依申请公开的办理流程"})
        assert r.status_code == 201, r.text

    # --- statistics ----------------------------------------------------------------------------------------------
    def consumers(self, batch_size: int) -> list[FeedConsumer]:
        """What the statistics service's lifespan runs: stats_service.consumers over the producers' feeds."""
        settings = StatsSettings(consumer_batch_size=batch_size)
        return make_consumers(self.stats_db, settings, HttpFeed(self.catalog, settings),
                              HttpFeed(self.requests, settings))

    async def reports(self) -> dict[tuple[str, int, bool], dict]:
        out = {}
        for role, year, subordinates in REPORTS:
            r = await self.stats.get(f"{STATS}/annual-reports/{self.codes[role]}/{year}",
                                     headers=auth("stats_officer", organ=self.codes[CITY]),
                                     params={"include_subordinates": str(subordinates).lower()})
            assert r.status_code == 200, r.text
            report = r.json()
            report.pop("generated_at")
            out[(role, year, subordinates)] = report
        return out


def assert_scenario_covers_everything(s: Scenario) -> None:
    """The scenario is what the issue asks for: if someone trims it, this fails before any figure is compared."""
    dept_2025 = [c for c in s.cases if c.organ == DEPT and year_scenario.received_on(c).year == 2025]
    assert {c.channel for c in dept_2025} == set(CHANNELS)
    assert {c.applicant for c in dept_2025} == set(APPLICANTS)
    closed_2025 = [c for c in s.cases if c.organ == DEPT and c.closed and c.closed.year == 2025]
    assert {c.outcome for c in closed_2025} == set(RESULT_ROWS)
    rows = year_scenario.expected_section3([c for c in s.cases if c.organ == DEPT], 2025)
    assert rows["carried_over"]["total"] >= 3 and rows["carried_forward"]["total"] >= 5
    assert any(c.receipt and c.receipt.year > c.submitted.year for c in s.cases)  # confirmed across the boundary
    s4 = year_scenario.expected_section4([c for c in s.cases if c.organ == DEPT], 2025)
    assert all(s4[kind]["total"] for kind in s4) and sum(s4[kind]["pending"] for kind in s4) >= 2
    actions = {step.action for step in s.steps}
    assert actions >= {"confirm", "request_supplement", "receive_supplement", "close_unsupplemented", "consult",
                       "record_opinion", "extend", "notify_fee", "record_payment", "waive_fee", "close_unpaid",
                       "return_reply", "file_appeal", "decide_appeal", "record_consultation"}


def assert_report(report: dict, expected: dict) -> None:
    checks = report.pop("checks")
    assert report == expected  # exactly the contract's keys (annual-report-contract.md), labels are at /layout
    assert checks and all(c["ok"] for c in checks), [c for c in checks if not c["ok"]]
    listed = {(c["rule"], c["column"]) for c in checks}
    for column in COLUMNS:  # the table's own identity, and 总计 = the sum of the result rows, per column
        assert ("received_plus_carried_equals_closed_plus_forward", column) in listed
        assert ("results_total_equals_sum_of_result_rows", column) in listed
    rows = expected["section3"]["rows"]
    for column in COLUMNS:  # … and they hold on the expected figures too (the scenario is consistent)
        assert rows["new_received"][column] + rows["carried_over"][column] == \
            rows["results_total"][column] + rows["carried_forward"][column]
        assert rows["results_total"][column] == sum(rows[r][column] for r in RESULT_ROWS)


async def wipe(stats_db) -> None:
    async with stats_db.transaction() as session:
        for model in FACTS:
            await session.execute(delete(model))
        await session.execute(delete(stats_outbox.cursors))


class Crash(RuntimeError):
    pass


async def test_a_year_replayed_through_the_request_service(catalog, request_api, request_db, stats, stats_db,
                                                           monkeypatch):
    started = time.perf_counter()
    s = year_scenario.build()
    assert_scenario_covers_everything(s)
    clock = RequestClock(monkeypatch, date(2024, 6, 1))
    replay = Replay(s, catalog, request_api, stats, request_db, stats_db, clock)
    await replay.organs()
    await replay.documents()
    live = replay.consumers(batch_size=40)  # the statistics service, running all year
    for consumer in live:
        await consumer.drain()
    await replay.figures()  # staff enter section 二's figures for organs the statistics know

    # The year, day by day; the statistics consumers catch up at every month end.
    month = None
    for step in s.timeline():
        if month is not None and (step.day.year, step.day.month) != month:
            for consumer in live:
                await consumer.drain()
        month = (step.day.year, step.day.month)
        await replay.step(step)
    for consumer in live:
        await consumer.drain()
    replayed = time.perf_counter() - started

    expected = {key: year_scenario.expected_report(s, replay.codes, role, year, subordinates=sub)
                for key in REPORTS for role, year, sub in [key]}
    reports = await replay.reports()
    for key, report in reports.items():
        assert_report(dict(report), expected[key])
    # Across the boundary: what 2024 carries forward, 2025 carries over (and 2025 → 2026).
    for earlier, later in (((DEPT, 2024, False), (DEPT, 2025, False)), ((DEPT, 2025, False), (DEPT, 2026, False))):
        assert reports[earlier]["section3"]["rows"]["carried_forward"] == \
            reports[later]["section3"]["rows"]["carried_over"]

    # Every row drills down to exactly the scenario's applications.
    ids = {c.id: c.key for c in s.cases}
    dept = replay.codes[DEPT]
    for row, members in year_scenario.cell_members(s, DEPT, 2025).items():
        r = await stats.get(f"{STATS}/annual-reports/{dept}/2025/cells/{row}/total",
                            headers=auth("stats_officer", organ=dept), params={"limit": 100})
        assert r.status_code == 200, r.text
        assert {ids[i["application_id"]] for i in r.json()["items"]} == members, row

    # Rebuild from cursor 0: one consumer stopped part-way, a new one that crashes mid-batch after writing, then a
    # new instance that drains. Nothing is lost or counted twice: the same reports.
    await wipe(stats_db)
    catalog_consumer, request_consumer = replay.consumers(batch_size=25)
    assert (catalog_consumer.name, request_consumer.name) == ("catalog", "request")
    assert await catalog_consumer.poll_once() == 25  # the catalogue's feed stops part-way too
    for _ in range(3):
        assert await request_consumer.poll_once() == 25
    request_consumer = replay.consumers(batch_size=25)[1]  # a new process
    applied = 0
    real_apply = request_consumer.apply

    async def crashing(session, events):
        nonlocal applied
        applied += 1
        await real_apply(session, events)  # the batch's writes happen, then the process dies
        if applied == 4:
            raise Crash("killed mid-batch")

    request_consumer.apply = crashing
    before = await request_consumer.position()
    with pytest.raises(Crash):
        while True:
            await request_consumer.poll_once()
    assert await request_consumer.position() == before + 3 * 25  # the 4th batch left nothing behind
    for consumer in replay.consumers(batch_size=1000):
        await consumer.drain()
    assert await replay.reports() == reports

    # The XLSX export of the 2025 report: official layout, every number of table 三 and the other sections.
    r = await stats.get(f"{STATS}/annual-reports/{dept}/2025/export.xlsx", headers=auth("stats_officer", organ=dept))
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    e = expected[(DEPT, 2025, False)]
    ws = wb["三 依申请公开"]
    assert ws["A7"].value == "一、本年新收政府信息公开申请数量" and ws["B30"].value == "（七）总计"
    for i, row in enumerate(ROWS):  # rows 7 … 31, columns D (自然人) … J (总计)
        assert [ws.cell(7 + i, 4 + j).value for j in range(len(COLUMNS))] == \
            [e["section3"]["rows"][row][c] for c in COLUMNS], row
    ws = wb["四 复议诉讼"]
    assert [ws.cell(7, c).value for c in range(1, 16)] == [
        e["section4"][kind][o] for kind in year_scenario.APPEAL_KINDS for o in year_scenario.APPEAL_COLUMNS]
    ws = wb["二 主动公开"]
    s2 = e["section2"]
    assert [ws.cell(6, c).value for c in range(1, 5)] == ["规章", *(s2["regulations"][k] for k in
                                                                  ("issued", "repealed", "in_force"))]
    assert [ws.cell(7, c).value for c in range(1, 5)] == ["行政规范性文件", *(
        s2["normative_documents"][k] for k in ("issued", "repealed", "in_force"))]
    assert (ws["B10"].value, ws["B13"].value, ws["B14"].value) == (230, 41, 3)
    assert f"{ws['B17'].value:.2f}" == "1.25"
    ws = wb["六 其他事项"]
    lines = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(4, ws.max_row + 1)}
    assert lines["本年度发出信息处理费收费通知件数"] == e["fees"]["notices_issued"]
    assert f"{lines['收费通知金额（元）']:.2f}" == e["fees"]["amount_noticed_yuan"]
    assert f"{lines['实际收取信息处理费金额（元）']:.2f}" == e["fees"]["amount_collected_yuan"]
    assert lines["本年度政府信息公开咨询总数（件）"] == e["consultations"]["total"]

    print(f"\nyear replay: {len(s.cases)} applications, {replay.calls} dated steps through the request API, "
          f"replayed and ingested in {replayed:.1f} s, whole test {time.perf_counter() - started:.1f} s")
