"""Confidentiality canary sweep beyond the catalogue: the request service and the statistics service, after they
have consumed the catalogue's event feed (organs, publications, withdrawals, the reclassification).

The catalogue world of test_canary_catalog.py is built through the real catalogue app; the request service's
catalogue client and both services' feed consumers talk to it over ASGI. While the record that will be
reclassified (定密 after publication) is still public, applications are filed whose catalogue suggestions
(目录匹配) pick it up, and staff draft a reply citing it. Then every GET route of the request and statistics
services is crawled as every principal — work-lists, each application and its sub-resources (suggestions, fresh
and as stored when the catalogue is away, letters), the annual report with its drill-downs and exports
(CSV/XLSX/HTML, draft and published), dashboards (breaches and their drill-down included), reminders, the event
feeds and audit logs, errors.

Assertions: no canary of any catalogue record and no id or 索引号 of a non-public record reaches anyone through
these services (no principal of theirs is the owning organ's catalogue staff in a staff view of the catalogue),
and the report's document figures count public records only, equal to their drill-downs.
"""

from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_service.config import Settings as CatalogSettings
from request_service.clients import make_catalog_client
from request_service.config import Settings as RequestSettings
from request_service.domain.withdrawals import apply_catalog_events
from request_service.feeds import ORGAN_FEED
from request_service.models import outbox as request_outbox
from services.outbox import FeedConsumer
from services.policy import route_keys
from stats_service.config import Settings as StatsSettings
from stats_service.consumers import HttpFeed, make_consumers
from tests.request_service.helpers import act
from tests.request_service.intake_support import Desk
from tests.security.canary_world import Doc, Principal, World, build_world, today
from tests.security.support import hits
from tests.stats_service.helpers import Forward
from tests.support import auth, serve

REQ = "/api/v1/requests"
STATS = "/api/v1/stats"
YEAR = today().year


@pytest.fixture
async def catalog_api(catalog_db, tmp_path: Path):
    from catalog_service.app import create_app

    async with serve(create_app(CatalogSettings(attachment_dir=str(tmp_path)), database=catalog_db)) as c:
        yield c


def request_app(request_db, transport: httpx.AsyncBaseTransport):
    from request_service.app import create_app

    return serve(create_app(database=request_db, catalog_transport=transport))


class CatalogAway(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("catalogue down", request=request)


class Crawl:
    def __init__(self, w: World) -> None:
        self.w = w
        self.canaries = w.canaries
        # Ids and 索引号 of records never published (one that was public may be cited by a reply, as an id).
        self.hidden = {v: d for d in w.hidden if not d.once_public
                       for v in (d.id, d.index_no, *d.attachment_ids) if v}
        self.hidden.update({a: d for d in w.docs for a in d.withheld_attachment_ids})
        self.requests = 0
        self.routes: set[str] = set()

    async def get(self, client: httpx.AsyncClient, who: Principal, route: str, path: str,
                  params: dict[str, Any] | None = None) -> httpx.Response:
        r = await client.get(path, headers=who.headers, params=params)
        self.requests += 1
        self.routes.add(route)
        assert r.status_code < 500, (who.name, path, r.text)
        echo = (*(str(v) for v in (params or {}).values()), path, *path.split("/"))
        leaked = hits(r, self.canaries, echoed=echo)
        assert not leaked, [f"LEAK to {who.name} in {path}: {self.canaries[c].key}.{self.canaries[c].canaries[c]}"
                            for c in leaked] + [r.text[:3000]]
        ids = hits(r, self.hidden, echoed=echo)
        assert not ids, [f"LEAK to {who.name} in {path}: id/索引号 of hidden {self.hidden[v].key}" for v in ids]
        return r


async def sync(catalog: httpx.AsyncClient, requests: httpx.AsyncClient, request_db, stats_db) -> None:
    """The request service's consumer of the catalogue feed, and the statistics service's two consumers."""
    client = make_catalog_client(RequestSettings(), Forward(catalog))
    try:
        await FeedConsumer(ORGAN_FEED, request_db, request_outbox, client.fetch_events, apply_catalog_events,
                           batch_size=200).drain()
    finally:
        await client.aclose()
    settings = StatsSettings()
    for consumer in make_consumers(stats_db, settings, HttpFeed(catalog, settings), HttpFeed(requests, settings)):
        await consumer.drain()


async def test_no_canary_reaches_the_request_and_statistics_services(catalog_api, request_db, stats_db, stats):
    async with request_app(request_db, Forward(catalog_api)) as requests:
        apps: list[str] = []

        async def while_still_public(w: World, doc: Doc) -> None:
            """Applications about the record while it is published: their suggestions store its title."""
            await sync(catalog_api, requests, request_db, stats_db)
            desk = Desk(w.x)
            for n in range(2):
                # Words of its public title, not the canary: what the applicant typed is theirs to see.
                r = await requests.post(f"{REQ}/applications", json={
                    "organ_code": w.x, "info_title": "事项的通知", "info_description": "请公开",
                    "applicant": {"type": "natural_person", "name": f"申请人{n}", "address": "北京市某区1号"}})
                assert r.status_code == 201, r.text
                assert any(s["id"] == doc.id for s in r.json()["suggestions"]), r.json()  # it is public now
                apps.append(r.json()["id"])
            # A reply drafted and sent citing the record as already published (条例第三十六条第一项).
            await act(requests, desk.clerk, apps[0], "confirm", {"on": today().isoformat(), "method": "电话确认"})
            await act(requests, desk.handler, apps[0], "draft-reply",
                      {"outcome": "granted", "published_document_id": doc.id, "comment": "已主动公开"})
            await act(requests, desk.approver, apps[0], "approve-reply", {"comment": "同意"})

        w = await build_world(catalog_api, before_reclassification=while_still_public)
        assert len(apps) == 2
        await sync(catalog_api, requests, request_db, stats_db)
        # Statistics: figures entered, the report submitted and published, so that its public face exists too.
        x_stats = auth("stats_officer", organ=w.x)
        r = await stats.put(f"{STATS}/annual-reports/{w.x}/{YEAR}/figures", headers=x_stats,
                            json={"overview": "总体情况", "administrative_licensing": 3})
        assert r.status_code == 200, r.text

        crawl = Crawl(w)
        principals = w.principals()
        for who in principals:
            await crawl_requests(crawl, requests, who, w, apps)
            await crawl_stats(crawl, stats, who, w)
        # The stored suggestions, as served when the catalogue does not answer.
        async with request_app(request_db, CatalogAway()) as away:
            for who in principals:
                for app_id in apps:
                    r = await crawl.get(away, who, "stale suggestions",
                                        f"{REQ}/applications/{app_id}/suggestions")
                    if r.status_code == 200:
                        assert r.json()["fresh"] is False

        # The report's document figures count public records only, and equal their drill-downs.
        await check_document_figures(crawl, stats, w, x_stats)
        for publish in (("submit", x_stats), ("publish", auth("unit_head", organ=w.x))):
            etag = (await stats.get(f"{STATS}/annual-reports/{w.x}/{YEAR}/status", headers=x_stats)).headers["etag"]
            r = await stats.post(f"{STATS}/annual-reports/{w.x}/{YEAR}/{publish[0]}",
                                 headers={**publish[1], "If-Match": etag})
            assert r.status_code == 200, r.text
        for who in principals:  # the published report's public face
            for ext in ("", "/export.csv", "/export.xlsx", "/export.html"):
                r = await crawl.get(stats, who, "published report", f"{STATS}/annual-reports/{w.x}/{YEAR}{ext}")
                assert r.status_code == 200, (who.name, ext, r.text)

    # Every GET route of both services (their OpenAPI documents, plus /metrics, kept out of it) was crawled.
    from request_service.app import create_app as create_request_app
    from stats_service.app import create_app as create_stats_app

    for app in (create_request_app(), create_stats_app()):
        routes = {k for k in route_keys(app) if k.startswith("GET ")}
        assert routes <= crawl.routes, sorted(routes - crawl.routes)
    assert "GET /metrics" in crawl.routes
    print(f"request/statistics sweep: {crawl.requests} requests, {len(principals)} principals")


async def crawl_requests(crawl: Crawl, client: httpx.AsyncClient, who: Principal, w: World, apps: list[str]) -> None:
    async def get(route: str, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return await crawl.get(client, who, f"GET {REQ}{route}" if route.startswith("/") else route, path, params)

    for view in ("all", "due_soon", "awaiting_sign_off", "notices_not_delivered"):
        await get("/applications", f"{REQ}/applications", {"view": view, "limit": 100})
    await get("/applications/mine", f"{REQ}/applications/mine")
    await get("/applicants/monthly-counts", f"{REQ}/applicants/monthly-counts", {"month": today().strftime("%Y-%m")})
    await get("/consultations", f"{REQ}/consultations")
    await get("/consultations/summary", f"{REQ}/consultations/summary", {"year": YEAR})
    await get("/vocabularies", f"{REQ}/vocabularies")
    await get("/withholding-grounds", f"{REQ}/withholding-grounds")
    await get("/me", f"{REQ}/me")
    await get("/staff", f"{REQ}/staff")
    await get("/applications", f"{REQ}/applications", {"assigned_to": "me"})
    await get("/calendar/add-working-days", f"{REQ}/calendar/add-working-days",
              {"start": today().isoformat(), "days": 20})
    await get("/calendar/years/{year}", f"{REQ}/calendar/years/{YEAR}")
    await get("/fees/calculate", f"{REQ}/fees/calculate", {"method": "per_volume", "quantity": 50})
    # 依申请转主动 (条例第四十四条): the tasks, the de-identified log and its summary.
    await get("/worklists/proactive-disclosure", f"{REQ}/worklists/proactive-disclosure")
    await get("/disclosure-log", f"{REQ}/disclosure-log")
    await get("/proactive-disclosure/summary", f"{REQ}/proactive-disclosure/summary", {"year": YEAR})
    for app_id in apps:
        base = f"{REQ}/applications/{app_id}"
        r = await get("/applications/{application_id}", base)
        if r.status_code == 200:
            assert r.json()["suggestions"] == [] or all(s["id"] not in crawl.hidden for s in r.json()["suggestions"])
        for sub in ("deadline", "history", "third-party-consultations", "suggestions", "applicant", "appeals"):
            await get(f"/applications/{{application_id}}/{sub}", f"{base}/{sub}")
        await get("/applications/{application_id}/fee-preview", f"{base}/fee-preview",
                  {"method": "per_application"})
        letters = await get("/applications/{application_id}/letters", f"{base}/letters")
        letter_ids = [x["id"] for x in letters.json()["items"]] if letters.status_code == 200 else [
            "00000000-0000-4000-8000-000000000000"]
        for letter_id in letter_ids:
            await get("/applications/{application_id}/letters/{letter_id}", f"{base}/letters/{letter_id}")
            await get("/applications/{application_id}/letters/{letter_id}.pdf", f"{base}/letters/{letter_id}.pdf")
        # The applicant's doors to the same letters (issue 14 item 1).
        mine = f"{REQ}/applications/mine/{app_id}/letters"
        await get("/applications/mine/{application_id}/letters", mine)
        for letter_id in letter_ids:
            await get("/applications/mine/{application_id}/letters/{letter_id}", f"{mine}/{letter_id}")
            await get("/applications/mine/{application_id}/letters/{letter_id}.pdf", f"{mine}/{letter_id}.pdf")
    await get("/appeals/{appeal_id}", f"{REQ}/appeals/00000000-0000-4000-8000-000000000000")
    for path in ("/internal/v1/events", "/internal/v1/audit"):
        await crawl.get(client, who, f"GET {path}", path, {"limit": 500})
    await crawl.get(client, who, "GET /internal/v1/audit/verify", "/internal/v1/audit/verify")
    for path in ("/healthz", "/readyz"):
        await crawl.get(client, who, f"GET {path}", path)


async def crawl_stats(crawl: Crawl, client: httpx.AsyncClient, who: Principal, w: World) -> None:
    async def get(route: str, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return await crawl.get(client, who, f"GET {STATS}{route}" if route.startswith("/") else route, path, params)

    for organ in (w.x, w.y):
        report = f"{STATS}/annual-reports/{organ}/{YEAR}"
        route = "/annual-reports/{organ_code}/{year}"
        await get(route, report)
        for ext in ("csv", "xlsx", "html"):
            await get(f"{route}/export.{ext}", f"{report}/export.{ext}")
        for row in ("regulations", "normative_documents"):
            for column in ("issued", "repealed", "in_force"):
                await get(f"{route}/cells/{{row}}/{{column}}", f"{report}/cells/{row}/{column}", {"limit": 100})
        await get(f"{route}/cells/{{row}}/{{column}}", f"{report}/cells/granted/natural_person")
        for sub in ("status", "discrepancies"):
            await get(f"{route}/{sub}", f"{report}/{sub}")
        dash = f"{STATS}/dashboards/{organ}"
        for sub, params in (("timeseries", {}), ("breakdown", {"by": "organ"}), ("overdue", {}),
                            ("publication-timeliness", {"date_from": date(YEAR, 1, 1).isoformat()}),
                            ("breaches", {"year": YEAR}), ("breaches/applications", {"year": YEAR, "limit": 100})):
            await get(f"/dashboards/{{organ_code}}/{sub}", f"{dash}/{sub}", params)
        # 考评 (issue 16): the card, its exports, drill-downs, ranking, series and reminders.
        card = f"{STATS}/scorecards/{organ}"
        route = "/scorecards/{organ_code}"
        await get(route, card)
        for sub in ("export.xlsx", "export.html", "ranking", "reminders"):
            await get(f"{route}/{sub}", f"{card}/{sub}")
        await get(f"{route}/series", f"{card}/series", {"from": f"{YEAR}-01", "to": f"{YEAR}-03"})
        for metric in ("publication_on_time_rate", "overdue_interpretations", "empty_columns_without_note",
                       "validity_reviews_overdue", "proactive_publication_rate", "broken_attachments"):
            await get(f"{route}/metrics/{{metric}}/records", f"{card}/metrics/{metric}/records", {"limit": 100})
    await get("/scorecard-sheets", f"{STATS}/scorecard-sheets")
    await get("/scorecard-sheets/{sheet_id}", f"{STATS}/scorecard-sheets/gb-2019-19")
    await get("/annual-reports/reminders", f"{STATS}/annual-reports/reminders", {"year": YEAR})
    await get("/annual-reports/layout", f"{STATS}/annual-reports/layout")
    await get("/vocabularies", f"{STATS}/vocabularies")
    await get("/me", f"{STATS}/me")
    for path in ("/internal/v1/events", "/internal/v1/audit"):
        await crawl.get(client, who, f"GET {path}", path, {"limit": 500})
    for path in ("/internal/v1/audit/verify", "/healthz", "/readyz", "/metrics"):
        await crawl.get(client, who, f"GET {path}", path)


async def check_document_figures(crawl: Crawl, stats: httpx.AsyncClient, w: World, headers: dict[str, str]) -> None:
    officer = Principal("stats_officer_x", headers, frozenset({"stats_officer"}), w.x)
    report = (await crawl.get(stats, officer, "report", f"{STATS}/annual-reports/{w.x}/{YEAR}")).json()
    public = [d for d in w.docs if d.public and d.organ == w.x]
    genres = {"regulations": "regulation", "normative_documents": "normative_document"}
    for row, genre in genres.items():
        expected = {d.id for d in public if d.genre == genre}
        for column in ("issued", "in_force"):
            cell = (await crawl.get(stats, officer, "cell", f"{STATS}/annual-reports/{w.x}/{YEAR}/cells/{row}/{column}",
                                    {"limit": 100})).json()
            assert {i["document_id"] for i in cell["items"]} == expected, (row, column, cell)
            assert cell["total"] == len(cell["items"]) == report["section2"][row][column], (row, column, cell)
        assert report["section2"][row]["repealed"] == 0  # the repealed record was withdrawn: not counted
    timeliness = (await crawl.get(stats, officer, "timeliness", f"{STATS}/dashboards/{w.x}/publication-timeliness",
                                  {"date_from": date(YEAR, 1, 1).isoformat()})).json()
    assert timeliness["totals"]["published"] == len(public), timeliness["totals"]
