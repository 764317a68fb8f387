"""The annual report's tables are labelled (issue 14 item 7) without touching the report's keys, which are a public
contract (annual-report-contract.md: "exactly these, in every output"): `GET /annual-reports/layout` gives the zh/en
label of every row and column of tables 三 and 四 and every consultation channel, in the official order; zh is the
official wording (legal-rules §3, 2021 format)."""

from stats_service.domain.labels import (
    APPEAL_KIND_LABELS,
    APPLICANT_LABELS,
    CONSULTATION_CHANNEL_LABELS,
    TABLE3_ROW_LABELS,
)
from tests.stats_service.helpers import Feed, drain, organ
from tests.support import auth

API = "/api/v1/stats/annual-reports"
DEPT = "11440100MS0000002B"


async def test_the_report_keeps_exactly_the_contract_keys_and_the_layout_labels_them(stats, stats_db):
    catalog, requests = Feed(), Feed()
    organ(catalog, DEPT, "示例市财政局")
    await drain(stats_db, catalog, requests)
    report = (await stats.get(f"{API}/{DEPT}/2026", headers=auth("stats_officer", organ=DEPT))).json()
    section = report["section3"]
    assert set(section) == {"columns", "rows"}  # the contract's keys, no more
    assert set(report["consultations"]) == {"total", "by_channel"}

    layout = (await stats.get(f"{API}/layout")).json()  # public: labels only, no figures
    assert layout["format"] == report["format"] == "2021"
    assert [t["code"] for t in layout["section3_columns"]] == section["columns"]
    assert [t["code"] for t in layout["section3_rows"]] == list(section["rows"])  # the official order
    for term in layout["section3_rows"]:
        assert term["zh"] == TABLE3_ROW_LABELS[term["code"]] and term["en"], term
    for term in layout["section3_columns"]:
        assert term["zh"] == APPLICANT_LABELS[term["code"]] and term["en"], term
    assert {t["code"]: t["en"] for t in layout["section3_rows"]}["withheld.state_secret"] == "Withheld: state secret"
    assert [t["code"] for t in layout["section4_rows"]] == list(report["section4"])
    assert {t["code"]: t["zh"] for t in layout["section4_rows"]} == APPEAL_KIND_LABELS
    assert [t["code"] for t in layout["section4_columns"]] == list(report["section4"]["reconsideration"])
    assert {t["code"]: t["zh"] for t in layout["consultation_channels"]} == CONSULTATION_CHANNEL_LABELS
    vocabularies = (await stats.get("/api/v1/stats/vocabularies")).json()["vocabularies"]
    assert vocabularies["table3_row"] == layout["section3_rows"]
