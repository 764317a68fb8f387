"""The annual report's table 三 carries the zh/en label of every row and column it uses (issue 14 item 7): a portal
prints the official table without a copy of its labels; zh is the official wording (legal-rules §3, 2021 format)."""

from stats_service.domain.labels import APPLICANT_LABELS, TABLE3_ROW_LABELS
from tests.stats_service.helpers import Feed, drain, organ
from tests.support import auth

API = "/api/v1/stats/annual-reports"
DEPT = "11440100MS0000002B"


async def test_table_three_rows_and_columns_are_labelled(stats, stats_db):
    catalog, requests = Feed(), Feed()
    organ(catalog, DEPT, "示例市财政局")
    await drain(stats_db, catalog, requests)
    report = (await stats.get(f"{API}/{DEPT}/2026", headers=auth("stats_officer", organ=DEPT))).json()
    section = report["section3"]
    assert list(section["column_labels"]) == section["columns"]
    assert set(section["row_labels"]) == set(section["rows"])
    for code, term in section["row_labels"].items():
        assert term == {"code": code, "zh": TABLE3_ROW_LABELS[code], "en": term["en"]} and term["en"], term
    for code, term in section["column_labels"].items():
        assert term["code"] == code and term["zh"] == APPLICANT_LABELS[code] and term["en"], term
    assert section["row_labels"]["withheld.state_secret"]["en"] == "Withheld: state secret"
    vocabularies = (await stats.get("/api/v1/stats/vocabularies")).json()["vocabularies"]
    assert {t["code"] for t in vocabularies["table3_row"]} == set(section["rows"])
