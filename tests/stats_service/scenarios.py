"""A realistic, seeded event history for rebuild / crash / replay tests: applications going through the request
service's states over 2024–2026 (submission → receipt → supplement → fee → reply or abandonment → appeals), with
receipt dates that cross a year end, corrected applicant types, consultations and catalogue documents; events of
different applications interleaved in time order, as the producers' feeds would carry them."""

import random
from datetime import date, timedelta
from typing import Any

from stats_service.domain.report import APPLICANT_COLUMNS, RESULT_ROWS
from tests.stats_service.helpers import Feed, organ

CITY, DEPT, STREET, OTHER = "11440100MS0000001A", "11440100MS0000002B", "11440100MS0000003C", "11440100MS0000009Z"
ORGANS = (CITY, DEPT, STREET, OTHER)
YEARS = (2024, 2025, 2026)
CHANNELS = ("in_person", "mail_signed", "mail_ordinary", "online", "email", "fax", "other")
END = date(2026, 12, 31)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def build(seed: int = 7, applications: int = 160) -> tuple[Feed, Feed]:
    rng = random.Random(seed)
    catalog, requests = Feed(), Feed()
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    organ(catalog, STREET, "示例街道", "township_street", parent=DEPT)
    organ(catalog, OTHER, "示例市教育局", parent=CITY)
    for i in range(12):
        doc = {"public": True, "organ_code": rng.choice(ORGANS), "genre": rng.choice(["regulation",
                                                                                    "normative_document"]),
               "validity": "in_force", "written_date": _iso(date(rng.choice(YEARS), rng.randint(1, 12), 10)),
               "repeal_date": None}
        catalog.add("document.published", "document", f"doc-{i}", 1, doc)
        if i % 3 == 0:
            catalog.add("document.repealed", "document", f"doc-{i}", 2,
                        {**doc, "validity": "repealed", "repeal_date": "2026-06-30"})
        if i % 5 == 0:
            catalog.add("document.withdrawn", "document", f"doc-{i}", 3, {"public": False})

    timeline: list[tuple[date, int, int, str, dict[str, Any]]] = []  # (day, app, version, id, payload)
    for n in range(applications):
        app_id = f"app-{n:04d}"
        submitted = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 1096))
        state: dict[str, Any] = {
            "organ_code": rng.choice(ORGANS), "applicant_type": rng.choice(APPLICANT_COLUMNS),
            "channel": rng.choice(CHANNELS), "status": "received", "receipt_date": None,
            "submitted_on": _iso(submitted), "closed_on": None, "outcome": None, "due_on": None, "fee_method": None,
            "fee_amount": None, "fee_noticed_on": None, "fee_paid_amount": None, "fee_paid_on": None,
            "fee_waived": False, "breaches": [], "appeals": []}
        steps: list[tuple[date, dict[str, Any]]] = [(submitted, {})]
        receipt = submitted + timedelta(days=rng.choice([0, 0, 1, 3, 5]))  # may move into the next year
        change: dict[str, Any] = {"status": "accepted", "receipt_date": _iso(receipt),
                                  "due_on": _iso(receipt + timedelta(days=28))}
        if rng.random() < 0.1:  # the applicant type is corrected when the application is confirmed
            change["applicant_type"] = rng.choice(APPLICANT_COLUMNS)
        steps.append((receipt, change))
        day = receipt
        if rng.random() < 0.2:
            day += timedelta(days=rng.randint(2, 10))
            change = {"status": "supplement_requested"}
            if (day - receipt).days > 9:  # later than 7 working days after receipt: a breach (条例第三十条)
                notice_due = receipt + timedelta(days=9)
                change["breaches"] = [{"code": "late_supplement_notice", "article": "条例第三十条", "on": _iso(day),
                                       "due_on": _iso(notice_due)}]
            steps.append((day, change))
            day += timedelta(days=rng.randint(2, 15))
            steps.append((day, {"status": "accepted", "due_on": _iso(day + timedelta(days=28))}))
        if rng.random() < 0.1:
            day += timedelta(days=rng.randint(1, 5))
            steps.append((day, {"status": "awaiting_fee", "fee_method": "per_application",
                                "fee_amount": f"{rng.choice([100, 200, 350])}.00", "fee_noticed_on": _iso(day)}))
            if rng.random() < 0.7:
                day += timedelta(days=rng.randint(1, 10))
                steps.append((day, {"status": "accepted", "fee_paid_amount": "100.00", "fee_paid_on": _iso(day)}))
        closed = day + timedelta(days=rng.randint(1, 70))
        if closed <= END and rng.random() < 0.9:
            outcome = rng.choice(RESULT_ROWS)
            steps.append((closed, {"status": "closed" if outcome.startswith("other.") else "replied",
                                   "closed_on": _iso(closed), "outcome": outcome}))
            if rng.random() < 0.15:
                filed = closed + timedelta(days=rng.randint(5, 60))
                kind = rng.choice(["reconsideration", "litigation_direct", "litigation_after_reconsideration"])
                appeal = {"id": f"{app_id}-a", "kind": kind, "outcome": "pending", "filed_on": _iso(filed),
                          "decided_on": None}
                steps.append((filed, {"appeals": [appeal]}))
                decided = filed + timedelta(days=rng.randint(30, 200))
                if decided <= END:
                    steps.append((decided, {"appeals": [{**appeal, "decided_on": _iso(decided),
                                                         "outcome": rng.choice(["upheld", "corrected", "other"])}]}))
        for version, (when, delta) in enumerate(steps, start=1):
            state = {**state, **delta}
            timeline.append((when, n, version, app_id, dict(state)))
        if rng.random() < 0.3:
            requests_day = submitted + timedelta(days=rng.randint(0, 30))
            timeline.append((requests_day, n, 0, f"consult-{n:04d}", {
                "organ_code": rng.choice(ORGANS), "channel": rng.choice(["phone", "online", "in_person"]),
                "received_on": _iso(requests_day)}))
    timeline.sort(key=lambda t: (t[0], t[1], t[2]))
    for _, _, version, entity_id, payload in timeline:
        if entity_id.startswith("consult-"):
            requests.add("consultation.recorded", "consultation", entity_id, 1, payload)
        else:
            requests.add("application.changed", "application", entity_id, version, payload)
    return catalog, requests
