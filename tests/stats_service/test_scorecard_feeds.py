"""考评 indicators of sheet gb-2019-19 version 3 (issue 16 item 6), on hand-scored fixtures fed as the producers
publish: 依申请转主动率 (the share of granted replies whose information was later published proactively,
条例第四十四条) from the request service's application snapshots (`info_key`) and `proactive_task.*` events, and
附件无法打开 (attachments whose stored bytes are missing, changed or not of their type) from the catalogue's
`attachment.checked` events.

Hand count, organ DEPT, period 2026-01-01 … D = 2026-06-30:
- grants closed in the period: g1 (K1), g2 (K1, partially granted), g3 (K2), g4 (K3), g5 (no info key: an event from
  before the key was announced); K1's task was closed as published on 03-01, K2's on 07-05 (after D), K3's declined →
  counted g1, g2 → 2 / 5 = 0.4. Not in the denominator: x1 (not granted), g6 (closed 2025), g7 (closed after D),
  o1 (another organ, whose own K1 has no task; DEPT's task does not publish OTHER's information).
- attachments failing on D: at1 (missing since 05-01), at7 (changed since 02-01, repaired 07-03: after D) → 2.
  Not: at2 (fails from 07-02), at3 (repaired 06-01), at4 (its record withdrawn 06-20), at5 (fine), at6 (OTHER's).
Points: 5 × 0.4 = 2.0 (fails 0.5); 5 − 1 × 2 = 3.0 (fails 0).
"""

from datetime import UTC, datetime

import pytest

from tests.stats_service.helpers import Apps, Feed, drain, organ
from tests.stats_service.test_scorecards import CITY, CITY_STAFF, DEPT, OTHER, STAFF, D, card, doc, drill, withdraw

API = "/api/v1/stats"


def task(requests: Feed, task_id: str, organ_code: str, info_key: str, status: str, closed_on: str | None,
         document_id: str | None = None, version: int = 2) -> None:
    requests.add(f"proactive_task.{'opened' if status == 'open' else 'closed'}", "proactive_task", task_id, version,
                 {"organ_code": organ_code, "info_key": info_key, "status": status, "document_id": document_id,
                  "opened_on": "2026-01-10", "due_on": "2026-02-10", "closed_on": closed_on})


def checked(catalog: Feed, attachment_id: str, document_id: str, version: int, problem: str | None, on: str,
            organ_code: str = DEPT) -> None:
    catalog.add("attachment.checked", "attachment", attachment_id, version, {
        "document_id": document_id, "organ_code": organ_code, "filename": f"{attachment_id}.pdf",
        "ok": problem is None, "problem": problem, "checked_on": on},
        occurred_at=datetime.fromisoformat(f"{on}T03:00:00+00:00").astimezone(UTC))


def events() -> tuple[Feed, Feed]:
    catalog, requests = Feed(), Feed()
    apps = Apps(requests)
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    organ(catalog, OTHER, "示例市教育局", parent=CITY)
    granted = {"status": "replied", "outcome": "granted", "receipt_date": "2026-01-05", "due_on": "2026-12-31"}
    apps.put("g1", organ_code=DEPT, closed_on="2026-02-01", info_key="K1", **granted)
    apps.put("g2", organ_code=DEPT, closed_on="2026-03-01", info_key="K1",
             **{**granted, "outcome": "partially_granted"})
    apps.put("g3", organ_code=DEPT, closed_on="2026-04-01", info_key="K2", **granted)
    apps.put("g4", organ_code=DEPT, closed_on="2026-05-01", info_key="K3", **granted)
    apps.put("g5", organ_code=DEPT, closed_on="2026-05-02", **granted)
    apps.put("x1", organ_code=DEPT, closed_on="2026-05-03", info_key="K1", **{**granted, "outcome": "not_exist"})
    apps.put("g6", organ_code=DEPT, closed_on="2025-12-01", info_key="K1", **{**granted, "receipt_date": "2025-11-01"})
    apps.put("g7", organ_code=DEPT, closed_on="2026-07-02", info_key="K1", **granted)
    apps.put("o1", organ_code=OTHER, closed_on="2026-02-01", info_key="K1", **granted)
    task(requests, "t1", DEPT, "K1", "open", None, version=1)
    task(requests, "t1", DEPT, "K1", "published", "2026-03-01", "doc-k1")
    task(requests, "t2", DEPT, "K2", "published", "2026-07-05", "doc-k2")
    task(requests, "t3", DEPT, "K3", "declined", "2026-04-01")

    doc(catalog, "d1", "2026-01-10", None)
    doc(catalog, "d2", "2026-01-10", None)
    doc(catalog, "d3", "2026-01-10", None)
    withdraw(catalog, "d3", "2026-06-20")
    doc(catalog, "d9", "2026-01-10", None, organ_code=OTHER)
    checked(catalog, "at1", "d1", 1, "missing", "2026-05-01")
    checked(catalog, "at2", "d1", 1, None, "2026-05-01")
    checked(catalog, "at2", "d1", 2, "sha256_mismatch", "2026-07-02")
    checked(catalog, "at3", "d2", 1, "type_mismatch", "2026-04-01")
    checked(catalog, "at3", "d2", 2, None, "2026-06-01")
    checked(catalog, "at4", "d3", 1, "missing", "2026-03-01")
    checked(catalog, "at5", "d1", 1, None, "2026-03-01")
    checked(catalog, "at6", "d9", 1, "missing", "2026-03-01", organ_code=OTHER)
    checked(catalog, "at7", "d2", 1, "sha256_mismatch", "2026-02-01")
    checked(catalog, "at7", "d2", 2, "sha256_mismatch", "2026-03-01")  # still failing: since the first failure
    checked(catalog, "at7", "d2", 3, None, "2026-07-03")
    return catalog, requests


@pytest.fixture
async def fed(stats_db):
    catalog, requests = events()
    await drain(stats_db, catalog, requests)
    return catalog, requests


def scored(body: dict, *keys: str) -> dict:
    return {i["key"]: (i["value"], i["numerator"], i["denominator"], i["status"], i["points"])
            for i in body["indicators"] if i["key"] in keys}


NEW = ("proactive_publication", "broken_attachments")


async def test_the_two_indicators_on_the_hand_scored_fixture(stats, fed):
    body = await card(stats)
    assert body["sheet"]["version"] == 3
    assert scored(body, *NEW) == {"proactive_publication": (0.4, 2, 5, "fail", 2.0),
                                  "broken_attachments": (2, 2, None, "fail", 3.0)}
    assert all(i["source"] for i in body["indicators"] if i["key"] in NEW)
    # Version 2 of the sheet is still loadable and has neither.
    old = await card(stats, sheet_version="2")
    assert old["sheet"]["version"] == 2 and scored(old, *NEW) == {}
    # Reproducible: K2's publication (07-05) and at7's repair (07-03) move the figures only after them.
    later = await card(stats, as_of="2026-07-10")
    assert scored(later, *NEW) == {"proactive_publication": (0.6667, 4, 6, "pass", 3.33),  # + g7; g3 counted
                                   "broken_attachments": (2, 2, None, "fail", 3.0)}  # at1, at2


async def test_the_drill_down_equals_each_figure(stats, fed):
    body = await card(stats)
    by_key = {i["key"]: i for i in body["indicators"]}
    share = await drill(stats, by_key["proactive_publication"]["records_url"])
    assert (share["value"], share["numerator"], share["denominator"], share["total"]) == (0.4, 2, 5, 5)
    assert sorted((r["id"], r["counted"]) for r in share["items"]) == [
        ("g1", True), ("g2", True), ("g3", False), ("g4", False), ("g5", False)]
    g1 = next(r for r in share["items"] if r["id"] == "g1")
    assert (g1["record_type"], g1["organ_code"], g1["day"], g1["detail"]["document_id"]) == (
        "application", DEPT, "2026-02-01", "doc-k1")
    broken = await drill(stats, by_key["broken_attachments"]["records_url"])
    assert (broken["value"], broken["total"]) == (2, 2)
    assert [(r["id"], r["record_type"], r["day"], r["detail"]["document_id"], r["detail"]["problem"])
            for r in broken["items"]] == [("at7", "attachment", "2026-02-01", "d2", "sha256_mismatch"),
                                          ("at1", "attachment", "2026-05-01", "d1", "missing")]
    # Roll-up: the city sees OTHER's grant (its K1 has no task of OTHER's) and OTHER's broken attachment.
    city = await card(stats, CITY, CITY_STAFF, include_subordinates="true")
    assert scored(city, *NEW) == {"proactive_publication": (0.3333, 2, 6, "fail", 1.67),
                                  "broken_attachments": (3, 3, None, "fail", 2.0)}
    r = await stats.get(f"{API}/scorecards/{DEPT}/reminders", headers=STAFF, params={"as_of": D})
    reminders = {i["key"]: [rec["id"] for rec in i["records"]] for i in r.json()["reminders"]}
    assert reminders["broken_attachments"] == ["at7", "at1"]
    assert reminders["proactive_publication"] == ["g3", "g4", "g5"]


async def test_a_check_counts_by_its_record_public_life_whatever_arrives_first(stats, stats_db):
    """The figure reads the checks alone (their record's publication and withdrawal days are copied onto them,
    stats_0010): a check that arrives before its record, and a withdrawal that arrives after the check, still move
    it as the record's own life does — and the drill-down (which joins the records) agrees at every step."""
    catalog, requests = Feed(), Feed()
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    checked(catalog, "at1", "d1", 1, "missing", "2026-05-01")  # d1 not yet known here
    checked(catalog, "at2", "d2", 1, "type_mismatch", "2026-05-01")
    await drain(stats_db, catalog, requests)

    async def broken(as_of: str) -> tuple[int, list[str]]:
        body = await card(stats, as_of=as_of)
        figure = next(i for i in body["indicators"] if i["key"] == "broken_attachments")
        items = (await drill(stats, figure["records_url"]))["items"]
        assert figure["value"] == len(items), (as_of, figure, items)
        return figure["value"], [r["id"] for r in items]

    assert await broken(D) == (0, [])  # their records are not (yet) public here
    doc(catalog, "d1", "2026-01-10", None)
    doc(catalog, "d2", "2026-01-10", None)
    await drain(stats_db, catalog, requests)
    assert await broken(D) == (2, ["at1", "at2"])
    withdraw(catalog, "d2", "2026-06-10")
    await drain(stats_db, catalog, requests)
    assert await broken(D) == (1, ["at1"])  # d2 withdrawn before D
    assert await broken("2026-06-01") == (2, ["at1", "at2"])  # … but public on 06-01
    doc(catalog, "d2", "2026-06-20", None, version=3)  # published again
    await drain(stats_db, catalog, requests)
    assert await broken(D) == (2, ["at1", "at2"])
