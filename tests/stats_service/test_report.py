"""The annual report from the event feeds: every cell and identity, drill-down, roll-up, sign-off lock."""

import pytest

from stats_service.domain.ingest import apply_request_events
from tests.stats_service.helpers import Apps, Feed, drain, organ
from tests.support import assert_problem, auth

API = "/api/v1/stats/annual-reports"
CITY, DEPT, STREET = "11440100MS0000001A", "11440100MS0000002B", "11440100MS0000003C"


@pytest.fixture
def feeds():
    catalog, requests = Feed(), Feed()
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    organ(catalog, STREET, "示例街道", "township_street", parent=DEPT)
    return catalog, requests


async def test_table_three_counts_and_identities(stats, stats_db, feeds):
    catalog, requests = feeds
    apps = Apps(requests)
    # carried over from 2025: received 2025-12-20, closed 2026-01-10 granted (commercial enterprise)
    carried = apps.put(organ_code=DEPT, applicant_type="commercial_enterprise", receipt_date="2025-12-20")
    apps.put(carried, status="replied", closed_on="2026-01-10", outcome="granted")
    # 2026: three received; one withheld, one partially granted, one still open at year end
    a = apps.put(organ_code=DEPT, receipt_date="2026-03-02")
    apps.put(a, status="replied", closed_on="2026-03-20", outcome="withheld.third_party_rights")
    b = apps.put(organ_code=DEPT, applicant_type="legal_service_org", receipt_date="2026-05-06")
    apps.put(b, status="replied", closed_on="2026-05-30", outcome="partially_granted")
    apps.put(organ_code=DEPT, receipt_date="2026-12-28")  # carried forward
    # an abandoned one (no supplement) and an application of another organ (not counted here)
    c = apps.put(organ_code=DEPT, applicant_type="other_org", receipt_date="2026-06-01")
    apps.put(c, status="closed", closed_on="2026-07-01", outcome="other.no_supplement")
    apps.put(organ_code=STREET, receipt_date="2026-02-02")
    await drain(stats_db, catalog, requests)

    report = (await stats.get(f"{API}/{DEPT}/2026", headers=auth("stats_officer", organ=DEPT))).json()
    rows = report["section3"]["rows"]
    assert rows["new_received"]["total"] == 4 and rows["new_received"]["natural_person"] == 2
    assert rows["carried_over"] == {**dict.fromkeys(report["section3"]["columns"], 0),
                                    "commercial_enterprise": 1, "total": 1}
    assert rows["granted"]["commercial_enterprise"] == 1
    assert rows["withheld.third_party_rights"]["natural_person"] == 1
    assert rows["partially_granted"]["legal_service_org"] == 1
    assert rows["other.no_supplement"]["other_org"] == 1
    assert rows["results_total"]["total"] == 4 and rows["carried_forward"]["total"] == 1
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    assert set(report) == {"organ_code", "year", "format", "generated_at", "include_subordinates", "section2",
                           "section3", "section4", "fees", "consultations", "narrative", "checks"}
    # Every figure drills down to exactly that many applications.
    for row, column in (("new_received", "total"), ("carried_over", "commercial_enterprise"),
                        ("carried_forward", "total"), ("results_total", "total"), ("granted", "total")):
        cell = (await stats.get(f"{API}/{DEPT}/2026/cells/{row}/{column}",
                                headers=auth("stats_officer", organ=DEPT))).json()
        assert cell["total"] == rows[row][column] == len(cell["items"]), (row, column)
    # Roll-up over the city and its subordinates includes the street office.
    city = (await stats.get(f"{API}/{CITY}/2026", headers=auth("stats_officer", organ=CITY),
                            params={"include_subordinates": "true"})).json()
    assert city["section3"]["rows"]["new_received"]["total"] == 5
    # 2025: the carried-over application counts as received and carried forward.
    prior = (await stats.get(f"{API}/{DEPT}/2025", headers=auth("stats_officer", organ=DEPT))).json()
    assert prior["section3"]["rows"]["carried_forward"]["total"] == 1


async def test_replays_and_stale_versions_do_not_double_count(stats, stats_db, feeds):
    catalog, requests = feeds
    apps = Apps(requests)
    a = apps.put(organ_code=DEPT, receipt_date="2026-03-02")
    apps.put(a, status="replied", closed_on="2026-03-20", outcome="granted")
    await drain(stats_db, catalog, requests)
    async with stats_db.transaction() as session:  # a consumer that re-delivers everything (at-least-once)
        await apply_request_events(session, requests.events)
        await apply_request_events(session, list(reversed(requests.events)))
    report = (await stats.get(f"{API}/{DEPT}/2026", headers=auth("stats_officer", organ=DEPT))).json()
    assert report["section3"]["rows"]["new_received"]["total"] == 1
    assert report["section3"]["rows"]["granted"]["total"] == 1


async def test_sections_two_four_fees_and_consultations(stats, stats_db, feeds):
    catalog, requests = feeds
    catalog.add("document.published", "document", "d1", 1, {"public": True, "organ_code": DEPT,
                                                            "genre": "normative_document", "validity": "in_force",
                                                            "written_date": "2026-02-01", "repeal_date": None})
    catalog.add("document.published", "document", "d2", 1, {"public": True, "organ_code": DEPT,
                                                            "genre": "normative_document", "validity": "in_force",
                                                            "written_date": "2024-02-01", "repeal_date": None})
    catalog.add("document.repealed", "document", "d2", 2, {"public": True, "organ_code": DEPT,
                                                           "genre": "normative_document", "validity": "repealed",
                                                           "written_date": "2024-02-01",
                                                           "repeal_date": "2026-09-01"})
    catalog.add("document.published", "document", "d3", 1, {"public": True, "organ_code": DEPT,
                                                            "genre": "regulation", "validity": "in_force",
                                                            "written_date": "2026-04-01", "repeal_date": None})
    catalog.add("document.withdrawn", "document", "d3", 2, {"public": False, "organ_code": DEPT})
    apps = Apps(requests)
    a = apps.put(organ_code=DEPT, receipt_date="2026-03-02", fee_amount="4700.00", fee_noticed_on="2026-03-10")
    apps.put(a, fee_paid_amount="4700.00", fee_paid_on="2026-03-15",
             appeals=[{"id": "r1", "kind": "reconsideration", "outcome": "upheld", "filed_on": "2026-05-01",
                       "decided_on": "2026-06-20"},
                      {"id": "l1", "kind": "litigation_after_reconsideration", "outcome": "pending",
                       "filed_on": "2026-07-01", "decided_on": None}])
    requests.add("consultation.recorded", "consultation", "c1", 1,
                 {"organ_code": DEPT, "channel": "phone", "received_on": "2026-04-01"})
    requests.add("consultation.recorded", "consultation", "c2", 1,
                 {"organ_code": DEPT, "channel": "online", "received_on": "2026-04-02"})
    await drain(stats_db, catalog, requests)
    officer = auth("stats_officer", organ=DEPT)
    r = await stats.put(f"{API}/{DEPT}/2026/figures", headers=officer, json={
        "administrative_licensing": 120, "administrative_penalty": 7, "administrative_coercion": 1,
        "administrative_fees_10k_yuan": "12.50", "overview": "本年度，我局坚持以公开为常态……"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["section2"]["normative_documents"] == {"issued": 1, "repealed": 1, "in_force": 1}
    assert report["section2"]["regulations"] == {"issued": 0, "repealed": 0, "in_force": 0}  # withdrawn
    assert report["section2"]["administrative_licensing"] == {"decisions": 120}
    assert report["section2"]["administrative_fees"] == {"amount_10k_yuan": "12.50"}
    assert report["section4"]["reconsideration"] == {"upheld": 1, "corrected": 0, "other": 0, "pending": 0,
                                                     "total": 1}
    assert report["section4"]["litigation_after_reconsideration"]["pending"] == 1
    assert report["fees"] == {"notices_issued": 1, "amount_noticed_yuan": "4700.00",
                              "amount_collected_yuan": "4700.00"}
    assert report["consultations"] == {"total": 2, "by_channel": {"online": 1, "phone": 1}}
    assert report["narrative"]["overview"].startswith("本年度")


async def test_sign_off_freezes_the_published_report(stats, stats_db, feeds):
    catalog, requests = feeds
    apps = Apps(requests)
    apps.put(organ_code=DEPT, receipt_date="2026-03-02")
    await drain(stats_db, catalog, requests)
    officer, head = auth("stats_officer", organ=DEPT), auth("unit_head", organ=DEPT)
    assert_problem(await stats.get(f"{API}/{DEPT}/2026"), 404, "report_not_found")  # public: not published yet
    status = await stats.get(f"{API}/{DEPT}/2026/status", headers=officer)
    assert_problem(await stats.post(f"{API}/{DEPT}/2026/submit", headers=officer), 428)
    assert_problem(await stats.post(f"{API}/{DEPT}/2026/publish", headers={**head, "If-Match": status.headers["etag"]}),
                   409, "invalid_transition")
    r = await stats.post(f"{API}/{DEPT}/2026/submit", headers={**officer, "If-Match": status.headers["etag"]})
    assert r.json()["status"] == "submitted"
    assert_problem(await stats.post(f"{API}/{DEPT}/2026/publish", headers={**officer, "If-Match": r.headers["etag"]}),
                   403)
    r = await stats.post(f"{API}/{DEPT}/2026/publish", headers={**head, "If-Match": r.headers["etag"]})
    assert r.json()["status"] == "published"
    public = await stats.get(f"{API}/{DEPT}/2026")
    assert public.status_code == 200 and public.headers["x-report-status"] == "published"
    assert public.json()["section3"]["rows"]["new_received"]["total"] == 1
    # A late event dated inside the year does not change the published report; it is a discrepancy.
    apps.put(organ_code=DEPT, receipt_date="2026-11-02")
    await drain(stats_db, catalog, requests)
    assert (await stats.get(f"{API}/{DEPT}/2026")).json()["section3"]["rows"]["new_received"]["total"] == 1
    found = (await stats.get(f"{API}/{DEPT}/2026/discrepancies", headers=officer)).json()["items"]
    assert {"cell": "section3.rows.new_received.total", "published": 1, "live": 2} in found
    assert_problem(await stats.put(f"{API}/{DEPT}/2026/figures", headers=officer,
                                   json={"administrative_penalty": 3}), 409, "report_published")


async def test_scope_and_reminders(stats, stats_db, feeds):
    catalog, requests = feeds
    await drain(stats_db, catalog, requests)
    assert_problem(await stats.get(f"{API}/{DEPT}/2026/cells/new_received/total"), 401)
    assert_problem(await stats.get(f"{API}/{CITY}/2026/cells/new_received/total",
                                   headers=auth("stats_officer", organ=DEPT)), 403)
    assert (await stats.get(f"{API}/{STREET}/2026/cells/new_received/total",
                            headers=auth("stats_officer", organ=CITY))).status_code == 200
    assert_problem(await stats.get(f"{API}/{DEPT}/2026/cells/nonsense/total",
                                   headers=auth("stats_officer", organ=DEPT)), 404, "cell_not_found")
    reminders = (await stats.get(f"{API}/reminders", headers=auth("stats_officer", organ=CITY),
                                 params={"year": 2026})).json()["items"]
    due = {r["organ_code"]: r["due_on"] for r in reminders}
    assert due[CITY] == "2027-03-31" and due[DEPT] == "2027-01-31"
