"""Absolute URLs come from configuration, never from the request (security review, issue 11 item 5).

A caller who sends `Host: evil.example` (or X-Forwarded-Host, Forwarded) must not get `http://evil.example/...`
into anything another party may later be served: the Atom feed's self and entry links above all (a cache keeps
the poisoned feed; subscribers follow its links), but also Location and Link headers, next links, OpenAPI and
letters. Absolute URLs are built from GONGKAI_PUBLIC_BASE_URL (公开平台地址) and, for Atom entries, the portal's
page template GONGKAI_PORTAL_DOCUMENT_URL_TEMPLATE (门户网站信息页), falling back to the JSON API on the base.
"""

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest

from catalog_service.app import create_app as create_catalog
from catalog_service.config import Settings as CatalogSettings
from request_service.domain.letters import issue_letter
from request_service.models import Application, KnownOrgan
from services.db import Database
from services.settings import AuthSettings
from tests.catalog_service.helpers import API, Staff, make_organ
from tests.request_service.helpers import organ_code
from tests.support import auth, serve

ATOM = "{http://www.w3.org/2005/Atom}"
EVIL = "evil.example"
# Every way a request can claim a host or scheme of its own.
SPOOFED = {"Host": EVIL, "X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "https", "X-Forwarded-Port": "666",
           "Forwarded": f"for=203.0.113.9;host={EVIL};proto=https"}
BASE = "https://gongkai.example.gov.cn"
PORTAL = "https://portal.example.gov.cn/xxgk/{document_id}.html"
REVIEW = {"reviewer": "陈审查", "reviewed_on": "2026-03-02", "conclusion": "proactive", "basis": "不涉密，可主动公开"}


def spoofed(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or {}), **SPOOFED}


def assert_clean(response: httpx.Response) -> None:
    """Nothing of the spoofed host anywhere in the answer, headers or body."""
    for name, value in response.headers.items():
        assert EVIL not in value, (name, value)
    assert EVIL.encode() not in response.content, response.text[:2000]


async def _catalog(db: Database, **settings: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_catalog(CatalogSettings(database_url="sqlite+aiosqlite:///:memory:", **settings), database=db)
    async with serve(app) as client:
        yield client


@pytest.fixture
async def catalog_with_portal(catalog_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _catalog(catalog_db, public_base_url=BASE, portal_document_url_template=PORTAL):
        yield client


@pytest.fixture
async def catalog_api_only(catalog_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _catalog(catalog_db, public_base_url=BASE + "/"):  # a trailing slash is tolerated
        yield client


async def _published(client: httpx.AsyncClient, organ: str, n: int) -> str:
    record = {"external_id": f"OA-{n}", "title": f"关于第{n}批政务公开工作的通知", "genre": "notice",
              "summary": "对政务公开工作作出部署。", "body": "各区、各部门：现将有关事项通知如下。", "review": REVIEW}
    r = await client.post(f"{API}/documents/bulk", headers=auth("integration", organ=organ, sub="oa"),
                          json={"records": [record]})
    assert r.status_code == 200, r.text
    return r.json()["results"][0]["document_id"]


async def test_atom_feed_links_use_the_configured_base_and_portal_never_the_host(catalog_with_portal):
    client = catalog_with_portal
    organ = await make_organ(client, "示范市教育局")
    doc = await _published(client, organ, 1)

    for params in ({}, {"organ": organ}):
        r = await client.get(f"{API}/feeds/atom.xml", params=params, headers=spoofed())
        assert r.status_code == 200, r.text
        assert_clean(r)
        root = ET.fromstring(r.content)
        self_link = root.find(f"{ATOM}link[@rel='self']").get("href")
        query = f"?organ={organ}" if params else ""
        assert self_link == f"{BASE}{API}/feeds/atom.xml{query}"
        [entry] = [e for e in root.findall(f"{ATOM}entry") if e.findtext(f"{ATOM}id") == f"urn:uuid:{doc}"]
        link = entry.find(f"{ATOM}link[@rel='alternate']")
        assert link.get("href") == PORTAL.format(document_id=doc)
        assert link.get("type") == "text/html"  # the portal's page, not the JSON record


async def test_atom_entries_fall_back_to_the_api_on_the_base_without_a_portal_template(catalog_api_only):
    client = catalog_api_only
    organ = await make_organ(client, "示范市卫健委")
    doc = await _published(client, organ, 2)
    r = await client.get(f"{API}/feeds/atom.xml", headers=spoofed())
    assert_clean(r)
    root = ET.fromstring(r.content)
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == f"{BASE}{API}/feeds/atom.xml"
    [entry] = [e for e in root.findall(f"{ATOM}entry") if e.findtext(f"{ATOM}id") == f"urn:uuid:{doc}"]
    link = entry.find(f"{ATOM}link[@rel='alternate']")
    assert (link.get("href"), link.get("type")) == (f"{BASE}{API}/documents/{doc}", "application/json")


async def test_no_catalogue_response_that_carries_a_url_takes_the_host(catalog_with_portal):
    client = catalog_with_portal
    organ = await make_organ(client, "示范市住建局")
    staff = Staff(organ)
    await _published(client, organ, 3)
    await _published(client, organ, 4)

    created = await client.post(f"{API}/documents", headers=spoofed(staff.drafter), json={
        "title": "关于开展2026年政务公开工作的通知", "body": "各单位：现将有关事项通知如下。", "genre": "notice",
        "proposed_attribute": "proactive"})
    assert created.status_code == 201, created.text
    assert created.headers["location"].startswith(f"{API}/documents/")
    assert_clean(created)
    doc_id = created.json()["id"]
    attached = await client.post(f"{API}/documents/{doc_id}/attachments",
                                 headers=spoofed({**staff.drafter, "If-Match": created.headers["etag"]}),
                                 files={"file": ("通知.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})
    assert attached.status_code == 201, attached.text
    assert_clean(attached)

    changes = await client.get(f"{API}/changes", params={"limit": 1}, headers=spoofed())
    assert changes.status_code == 200 and 'rel="next"' in changes.headers["link"]
    assert_clean(changes)
    listed = await client.get(f"{API}/documents", params={"limit": 1}, headers=spoofed())
    assert listed.status_code == 200
    assert_clean(listed)
    events = await client.get("/internal/v1/events", params={"limit": 1},
                              headers=spoofed(auth("service", sub="stats-service")))
    assert events.status_code == 200, events.text
    assert_clean(events)
    spec = await client.get("/openapi.json", headers=spoofed())
    assert spec.status_code == 200
    assert_clean(spec)


async def test_letters_and_request_service_openapi_never_take_the_host(requests_client, request_db):
    organ = organ_code()
    app_id = str(uuid.uuid4())
    async with request_db.transaction() as session:
        session.add(KnownOrgan(code=organ, id=str(uuid.uuid4()), name="测试市财政局", path=f"/{organ}/"))
        session.add(Application(
            id=app_id, tracking_no=f"GK{uuid.uuid4().hex[:10].upper()}", query_code_hash="x", organ_code=organ,
            channel="online", submitted_at=datetime(2026, 2, 9, 20, tzinfo=UTC), receipt_date=date(2026, 2, 10),
            applicant_type="natural_person", applicant_name="王五", applicant_key=uuid.uuid4().hex,
            id_type="resident_id", id_number="11010519491231002X", phone="13812345678",
            info_title="2025年城市更新项目的立项批复", status="accepted", due_on=date(2026, 3, 16), delivery="email"))
    async with request_db.transaction() as session:
        app = await session.get(Application, app_id)
        letter = await issue_letter(session, app, "receipt", "handler-1", None)
    handler = auth("handler", organ=organ, sub="handler-1")
    base = f"/api/v1/requests/applications/{app_id}/letters/{letter.id}"
    for path in (base, f"{base}.pdf", f"/api/v1/requests/applications/{app_id}/letters", "/openapi.json"):
        r = await requests_client.get(path, headers=spoofed(handler))
        assert r.status_code == 200, (path, r.text)
        assert_clean(r)


def test_the_public_base_is_required_in_production_and_both_urls_are_checked():
    secret = AuthSettings(environment="production", jwt_secret="a-real-secret-from-the-vault-0123456789")
    with pytest.raises(ValueError, match="GONGKAI_PUBLIC_BASE_URL must be set in production"):
        CatalogSettings(environment="production", auth=secret)
    assert CatalogSettings(environment="production", auth=secret, feed_cursor_key="a-real-feed-cursor-key-0123",
                           public_base_url="https://gongkai.example.gov.cn/").public_base_url == BASE
    for bad in ("gongkai.example.gov.cn", "javascript:alert(1)", "https://user:pw@gongkai.example.gov.cn",
                "https://gongkai.example.gov.cn/?next=x", "https:///path"):
        with pytest.raises(ValueError, match="GONGKAI_PUBLIC_BASE_URL"):
            CatalogSettings(public_base_url=bad)
    for bad in ("https://portal.example.gov.cn/xxgk/", "https://portal.example.gov.cn/{id}",
                "https://portal.example.gov.cn/{document_id}/{0}", "//portal.example.gov.cn/{document_id}"):
        with pytest.raises(ValueError, match="GONGKAI_PORTAL_DOCUMENT_URL_TEMPLATE"):
            CatalogSettings(portal_document_url_template=bad)
    portal = CatalogSettings(portal_document_url_template="https://portal.example.gov.cn/detail?id={document_id}")
    assert portal.document_link("abc") == ("https://portal.example.gov.cn/detail?id=abc", "text/html")


async def test_the_statistics_service_never_takes_the_host(stats):
    for path, headers in (("/openapi.json", {}), ("/internal/v1/events", auth("service", sub="catalog-service")),
                          ("/api/v1/stats/vocabularies", {})):
        r = await stats.get(path, headers=spoofed(headers))
        assert r.status_code == 200, (path, r.text)
        assert_clean(r)
