"""Every response that carries an ETag is one the OpenAPI document says carries it (issue 14 item 6): a typed client
generated from the document can read the version it must send back in If-Match.

Each service is driven through a short, ordinary scenario — create, read, edit, the workflow, the public read, the
sign-off — with a hook recording every response; each one with an `ETag` is matched to its operation, whose
response for that status must declare the header.
"""

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx

from request_service.models import Application
from tests.catalog_service.helpers import Staff, make_organ, publish, with_etag
from tests.catalog_service.helpers import draft as draft_document
from tests.request_service.helpers import Desk, act, insert_application, organ_code
from tests.stats_service.helpers import Apps, Feed, drain, organ
from tests.support import auth


class Recorder:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.seen: list[tuple[str, str, int]] = []
        client.event_hooks["response"].append(self.record)

    async def record(self, response: httpx.Response) -> None:
        if "etag" in response.headers and response.status_code < 300:
            self.seen.append((response.request.method.lower(), response.request.url.path, response.status_code))


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The operation serving `path`: a literal path first, else the template with the fewest parameters."""
    candidates = []
    for template, item in spec["paths"].items():
        regex = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if method in item and re.match(regex, path):
            candidates.append((template.count("{"), template))
    assert candidates, (method, path)
    return spec["paths"][min(candidates)[1]][method]


async def check(client: httpx.AsyncClient, recorder: Recorder, at_least: int) -> None:
    spec = (await client.get("/openapi.json")).json()
    missing = sorted({(m, p, s) for m, p, s in recorder.seen
                      if "ETag" not in operation(spec, m, p)["responses"].get(str(s), {}).get("headers", {})})
    assert not missing, f"ETag sent but not declared: {missing}"
    assert len({(m, p) for m, p, _ in recorder.seen}) >= at_least, recorder.seen  # the scenario reached them


async def test_catalogue_etags_are_declared(catalog):
    recorder = Recorder(catalog)
    code = await make_organ(catalog, "测试局")
    await catalog.get(f"/api/v1/catalog/organs/{code}")
    staff = Staff(code)
    doc_id = await publish(catalog, staff)
    await catalog.get(f"/api/v1/catalog/documents/{doc_id}")
    await catalog.get(f"/api/v1/catalog/documents/{doc_id}/record", headers=staff.drafter)
    await catalog.get("/api/v1/catalog/feeds/atom.xml")
    draft_id, etag = await draft_document(catalog, staff, body="联系电话：13812345678。")
    r = await catalog.patch(f"/api/v1/catalog/documents/{draft_id}", headers=with_etag(staff.drafter, etag),
                            json={"summary": "摘要"})
    assert r.status_code == 200, r.text
    r = await catalog.post(f"/api/v1/catalog/documents/{draft_id}/redactions",
                           headers=with_etag(staff.drafter, r.headers["etag"]),
                           json={"field": "body", "start": 5, "end": 16, "ground": "third_party_rights"})
    assert r.status_code == 201, r.text
    r = await catalog.delete(f"/api/v1/catalog/documents/{draft_id}/redactions/{r.json()['id']}",
                             headers=with_etag(staff.drafter, r.headers["etag"]))
    assert r.status_code == 204, r.text
    admin = auth("admin")
    r = await catalog.post("/api/v1/catalog/search/synonyms", headers=admin, json={"words": ["公租房", "公共租赁住房"]})
    await catalog.get(f"/api/v1/catalog/search/synonyms/{r.json()['id']}", headers=admin)
    await check(catalog, recorder, at_least=10)


async def test_request_etags_are_declared(requests_client, request_db):
    recorder = Recorder(requests_client)
    desk = Desk(organ_code())
    app_id = await insert_application(request_db, desk.organ, submitted=date(2026, 3, 2))
    await act(requests_client, desk.clerk, app_id, "confirm", {"on": "2026-03-02", "method": "电话确认"})
    replied = str(uuid.uuid4())
    async with request_db.transaction() as session:
        session.add(Application(
            id=replied, tracking_no=f"T{uuid.uuid4().hex[:12]}", query_code_hash="x", organ_code=desk.organ,
            channel="online", submitted_at=datetime(2026, 2, 9, 2, tzinfo=UTC), receipt_date=date(2026, 2, 10),
            applicant_type="natural_person", applicant_name="张三", applicant_key=uuid.uuid4().hex,
            info_title="申请公开某项目的环评报告", status="replied", outcome="withheld.process_information",
            closed_on=date(2026, 3, 16)))
    r = await requests_client.post(f"/api/v1/requests/applications/{replied}/appeals", headers=desk.handler,
                                   json={"kind": "reconsideration", "filed_on": "2026-04-01"})
    assert r.status_code == 201, r.text
    await requests_client.get(f"/api/v1/requests/appeals/{r.json()['id']}", headers=desk.handler)
    await requests_client.get("/api/v1/requests/calendar/years/2026")
    await check(requests_client, recorder, at_least=5)


async def test_statistics_etags_are_declared(stats, stats_db):
    recorder = Recorder(stats)
    catalog_feed, request_feed = Feed(), Feed()
    dept = "11440100MQ0000002B"
    organ(catalog_feed, dept, "测试市财政局")
    Apps(request_feed).put(organ_code=dept, receipt_date="2026-03-02")
    await drain(stats_db, catalog_feed, request_feed)
    report, officer = f"/api/v1/stats/annual-reports/{dept}/2026", auth("stats_officer", organ=dept)
    etag = (await stats.get(f"{report}/status", headers=officer)).headers["etag"]
    etag = (await stats.post(f"{report}/submit", headers={**officer, "If-Match": etag})).headers["etag"]
    r = await stats.post(f"{report}/publish", headers={**auth("unit_head", organ=dept), "If-Match": etag})
    assert r.status_code == 200, r.text
    await check(stats, recorder, at_least=3)
