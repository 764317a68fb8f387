"""Historical import (历史数据迁移, issue 15 item 3): records brought over from an old system keep their 成文日期,
publication date, validity history and repeal date, are marked migrated, and are counted in their own year and days
by the annual report, the timeliness dashboard (条例第二十六条) and the Atom feed — through the APIs, the statistics
fed from the catalogue's real event feed. And the command-line importer: NDJSON and CSV, dry run, resumable."""

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_service.importer import ImportStopped, run
from services.outbox import FeedConsumer, FeedPage
from stats_service.domain.ingest import apply_catalog_events
from stats_service.models import outbox as stats_outbox
from tests.catalog_service.helpers import API, Staff, make_organ
from tests.catalog_service.test_sync import REVIEW, bulk, integration
from tests.stats_service.helpers import Forward
from tests.support import auth

ATOM = "{http://www.w3.org/2005/Atom}"


def migrated(n: int, published_at: str = "2025-03-14T09:00:00+08:00", **history: Any) -> dict[str, Any]:
    """A 2025 规范性文件 from the district's old CMS: written and formed on 3 March, published on the 14th."""
    return {"external_id": f"CMS-{n}", "title": f"关于印发第{n}号管理办法的通知", "genre": "normative_document",
            "body": "各街道、各部门：现将办法印发给你们。", "written_date": "2025-03-03", "formed_on": "2025-03-03",
            "review": {**REVIEW, "reviewed_on": "2025-03-10"},
            "history": {"published_at": published_at, **history}}


async def stats_from_catalog(catalog, stats_db) -> None:
    """The statistics service follows the catalogue's event feed (its real HTTP answer) to the end."""
    async def fetch(after: int, limit: int) -> FeedPage:
        r = await catalog.get("/internal/v1/events", params={"after": after, "limit": limit},
                              headers=auth("service"))
        assert r.status_code == 200, r.text
        return FeedPage.model_validate(r.json())

    await FeedConsumer("catalog", stats_db, stats_outbox, fetch, apply_catalog_events).drain()


async def test_migrated_records_count_in_their_own_year(catalog, catalog_db, stats, stats_db):
    organ = await make_organ(catalog, "示例区司法局")
    repealed = migrated(3, validity="repealed", repeal_date="2025-11-20",
                        validity_history=[{"validity": "in_force", "since": "2025-03-14"},
                                          {"validity": "repealed", "since": "2025-11-20"}])
    # Published at 23:30 on New Year's Eve in Beijing (15:30 UTC): still 2025, on the 7th working day.
    new_years_eve = migrated(2, "2025-12-31T23:30:00+08:00") | {"written_date": "2025-12-22",
                                                                 "formed_on": "2025-12-22"}
    body = (await bulk(catalog, integration(organ), [migrated(1), new_years_eve, repealed])).json()
    assert [r["status"] for r in body["results"]] == ["created"] * 3, body
    assert body["summary"]["published"] == 3
    ids = [r["document_id"] for r in body["results"]]

    # The record: published on its own day, numbered in its own year, marked migrated, with its validity history.
    staff = Staff(organ)
    records = [(await catalog.get(f"{API}/documents/{i}/record", headers=staff.unit_head)).json() for i in ids]
    assert [r["published_at"] for r in records] == ["2025-03-14T01:00:00Z", "2025-12-31T15:30:00Z",
                                                    "2025-03-14T01:00:00Z"]
    assert all(r["migrated"] and "/2025-" in r["index_no"] for r in records)
    assert records[0]["publication_due_on"] <= "2025-04-03"  # 20 working days from 3 March 2025
    assert (records[2]["validity"], records[2]["repeal_date"]) == ("repealed", "2025-11-20")
    assert records[2]["validity_history"] == [{"validity": "in_force", "since": "2025-03-14"},
                                              {"validity": "repealed", "since": "2025-11-20"}]

    # The Atom feed dates the entries on their real days.
    root = ET.fromstring((await catalog.get(f"{API}/feeds/atom.xml", params={"organ": organ})).text)
    entries = {e.findtext(f"{ATOM}id"): e for e in root.findall(f"{ATOM}entry")}
    first = entries[f"urn:uuid:{ids[0]}"]
    assert first.findtext(f"{ATOM}published") == first.findtext(f"{ATOM}updated") == "2025-03-14T01:00:00Z"

    # The statistics: the 2025 annual report counts them (not 2026), and none is late.
    await stats_from_catalog(catalog, stats_db)
    officer = auth("stats_officer", organ=organ)
    report_2025 = (await stats.get(f"/api/v1/stats/annual-reports/{organ}/2025", headers=officer)).json()
    report_2026 = (await stats.get(f"/api/v1/stats/annual-reports/{organ}/2026", headers=officer)).json()
    assert report_2025["section2"]["normative_documents"] == {"issued": 3, "repealed": 1, "in_force": 2}
    assert report_2026["section2"]["normative_documents"] == {"issued": 0, "repealed": 0, "in_force": 2}
    timeliness = f"/api/v1/stats/dashboards/{organ}/publication-timeliness"
    year_2025 = (await stats.get(timeliness, headers=officer, params={"from": "2025-01-01", "to": "2025-12-31",
                                                                      "granularity": "year"})).json()
    assert (year_2025["totals"]["published"], year_2025["totals"]["on_time"], year_2025["totals"]["late"]) == (3, 3, 0)
    year_2026 = (await stats.get(timeliness, headers=officer, params={"from": "2026-01-01", "to": "2026-12-31",
                                                                      "granularity": "year"})).json()
    assert year_2026["totals"]["published"] == 0


async def test_history_must_be_a_past_publication(catalog):
    organ = await make_organ(catalog, "校验测试局")
    no_review = {k: v for k, v in migrated(1).items() if k != "review"}
    future = migrated(2, "2099-01-01T00:00:00+08:00")
    naive = migrated(3, "2025-03-14T09:00:00")
    repealed_without_date = migrated(4, validity="repealed")
    before_written = migrated(5, "2025-03-01T09:00:00+08:00")
    body = (await bulk(catalog, integration(organ), [no_review, future, naive, repealed_without_date,
                                                      before_written, migrated(6)])).json()
    assert [(r["status"], r["reason"]) for r in body["results"]] == [("rejected", "invalid")] * 5 + [("created", None)]


# ---- the command-line importer -------------------------------------------------------------------------------------

class Flaky(httpx.AsyncBaseTransport):
    """Forwards to the catalogue, counting batches; fails every call after `fail_after` (a network gone)."""

    def __init__(self, client, fail_after: int | None = None) -> None:
        self.forward, self.fail_after, self.calls = Forward(client), fail_after, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise httpx.ConnectError("network unreachable")
        return await self.forward.handle_async_request(request)


def write_ndjson(path: Path, records: list[dict[str, Any]], *, broken_line: bool = False) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    if broken_line:
        lines.insert(2, "{not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    rows = []
    for r in records:
        row = {k: v for k, v in r.items() if not isinstance(v, dict)}
        row |= {f"review.{k}": v for k, v in r["review"].items()}
        history = r["history"]
        row |= {f"history.{k}": v for k, v in history.items() if k != "validity_history"}
        if history.get("validity_history"):
            row["history.validity_history"] = "|".join(f"{s['validity']}@{s['since']}"
                                                       for s in history["validity_history"])
        rows.append(row)
    columns = sorted({k for row in rows for k in row})
    out = io.StringIO()
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


async def test_importer_dry_run_resume_and_csv(catalog, tmp_path):
    organ = await make_organ(catalog, "迁移工具测试局")
    token = integration(organ, "old-cms")["Authorization"].removeprefix("Bearer ")
    records = [migrated(n) for n in range(1, 8)]
    records[6] = migrated(7, validity="repealed", repeal_date="2025-11-20",
                          validity_history=[{"validity": "in_force", "since": "2025-03-14"},
                                            {"validity": "repealed", "since": "2025-11-20"}])
    source = write_ndjson(tmp_path / "district.ndjson", records)

    # Dry run: the API's own model checks each record; nothing is sent (no transport call), a line per batch.
    bad = write_ndjson(tmp_path / "bad.ndjson", records, broken_line=True)
    out, err, transport = io.StringIO(), io.StringIO(), Flaky(catalog)
    status = await run(bad, url="http://catalog", token=token, batch_size=3, dry_run=True, transport=transport,
                       out=out, err=err)
    assert status == 1 and transport.calls == 0
    assert len(out.getvalue().splitlines()) == 3 and out.getvalue().splitlines()[-1].startswith(
        "dry run: batch 3: 8/8 (100%)")
    assert "rejected record 3" in err.getvalue()

    # The network goes after the first batch: stopped, 3 records recorded as done.
    out = io.StringIO()
    with pytest.raises(ImportStopped):
        await run(source, url="http://catalog", token=token, batch_size=3, transport=Flaky(catalog, fail_after=1),
                  out=out, err=io.StringIO(), retries=1)
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0]]
    assert out.getvalue().startswith("batch 1: 3/7 (42%) · created 3 · updated 0 · unchanged 0 · rejected 0 · "
                                     "published 3")
    assert json.loads((tmp_path / "district.ndjson.progress").read_text())["done"] == 3

    # Run again: it resumes after record 3 — two batches, not three.
    out, transport = io.StringIO(), Flaky(catalog)
    assert await run(source, url="http://catalog", token=token, batch_size=3, transport=transport, out=out,
                     err=io.StringIO()) == 0
    assert transport.calls == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == "resuming after record 3 of 7 (district.ndjson.progress)"
    assert lines[-1].startswith("batch 2: 7/7 (100%) · created 4 · updated 0 · unchanged 0 · rejected 0 · published 4")

    # The same records as CSV (lists with |, nested fields as dotted columns) are the same records: unchanged.
    table = write_csv(tmp_path / "district.csv", records)
    out = io.StringIO()
    assert await run(table, url="http://catalog", token=token, batch_size=500, transport=Flaky(catalog), out=out,
                     err=io.StringIO()) == 0
    assert "· created 0 · updated 0 · unchanged 7 · rejected 0" in out.getvalue()
    r = await catalog.get(f"{API}/documents", params={"organ": organ, "year": 2025, "limit": 100})
    assert r.status_code == 200 and len(r.json()["items"]) == 7
