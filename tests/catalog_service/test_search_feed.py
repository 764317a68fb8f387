"""Saved searches as Atom feeds (检索订阅, issue 12 item 5), through the API on the selected backend.

GET /api/v1/catalog/feeds/atom.xml takes the public filters of GET /api/v1/catalog/documents and answers with the
newest matching public records; a public search names that feed in `feed_url`. The search fixture (seed documents
and canaries, tests/catalog_service/helpers.py) gives the records; the truth is the search itself, sorted by date.
"""

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from catalog_service.app import create_app
from catalog_service.config import Settings
from services.db import Database
from tests.catalog_service.helpers import API, SearchFixture, Staff, act, make_organ, new_code, seed_search_fixture
from tests.support import assert_problem, auth, serve

ATOM = "{http://www.w3.org/2005/Atom}"
FEED = f"{API}/feeds/atom.xml"
BASE = "https://gongkai.example.gov.cn"
PORTAL = "https://portal.example.gov.cn/xxgk/{document_id}.html"
EVIL = "evil.example"
SPOOFED = {"Host": EVIL, "X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "https",
           "Forwarded": f"for=203.0.113.9;host={EVIL};proto=https"}
REVIEW = {"reviewer": "陈审查", "reviewed_on": "2026-03-02", "conclusion": "proactive", "basis": "不涉密，可主动公开"}


@pytest.fixture
async def client(catalog_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", public_base_url=BASE,
                        portal_document_url_template=PORTAL)
    async with serve(create_app(settings, database=catalog_db)) as c:
        yield c


@pytest.fixture
async def fx(catalog_db: Database) -> SearchFixture:
    return await seed_search_fixture(catalog_db)


async def search(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    r = await client.get(f"{API}/documents", params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


async def atom(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: Any) -> ET.Element:
    r = await client.get(FEED, params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    return root


def entry_ids(root: ET.Element) -> list[str]:
    return [e.findtext(f"{ATOM}id").removeprefix("urn:uuid:") for e in root.findall(f"{ATOM}entry")]


def self_link(root: ET.Element) -> str:
    return root.find(f"{ATOM}link[@rel='self']").get("href")


async def newest_first(client: httpx.AsyncClient, **params: Any) -> list[str]:
    """What the public search finds with these filters, newest first (at most 100: the fixture has fewer)."""
    body = await search(client, **params, sort="date", limit=100)
    assert body["total"] == len(body["items"]) and body["total"] <= 50
    return [i["id"] for i in body["items"]]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def test_a_saved_search_feed_has_exactly_the_matching_public_records_newest_first(client, fx):
    for params in ({"q": "预算"}, {"q": "政务公开"}, {"q": "预算 决算"}, {"organ": fx.child},
                   {"organ": fx.parent, "include_subordinates": "true", "q": "预算"}, {"genre": "notice"},
                   {"organ": fx.parent, "genre": "notice"}, {"key_area": "public_resources"},
                   {"subject_category": "finance"}, {"validity": "repealed"}, {"year": 2013}):
        expected = await newest_first(client, **params)
        assert expected, params  # the fixture has matches for each
        root = await atom(client, **params)
        assert entry_ids(root) == expected, params
    # The fixture's truth, not only the search's: every public record with 预算 in its text, nothing else.
    assert set(entry_ids(await atom(client, q="预算"))) == {d["id"] for d in fx.public if "预算" in d["search_text"]}
    only_parent = set(entry_ids(await atom(client, organ=fx.parent)))
    assert only_parent and only_parent == {d["id"] for d in fx.public if d["organ_code"] == fx.parent}
    # 繁体 and 简体 are one search, as in the search itself.
    assert entry_ids(await atom(client, q="政務公開")) == entry_ids(await atom(client, q="政务公开"))


async def test_the_feed_says_what_is_followed_and_when_it_last_changed(client, fx):
    root = await atom(client, q=" 預算 ", organ=fx.parent, include_subordinates="true", genre="notice")
    assert root.findtext(f"{ATOM}title") == "检索订阅: 预算 · 检索市人民政府办公厅（含下级机关） · 通知"
    entries = root.findall(f"{ATOM}entry")
    assert entries and root.findtext(f"{ATOM}updated") == max(e.findtext(f"{ATOM}updated") for e in entries)
    assert entries[0].find(f"{ATOM}link[@rel='alternate']").get("href") == PORTAL.format(
        document_id=entry_ids(root)[0])
    empty = await atom(client, q="量子纠缠")
    assert entry_ids(empty) == [] and empty.findtext(f"{ATOM}updated") == "1970-01-01T00:00:00Z"
    assert (await atom(client)).findtext(f"{ATOM}title") == "政府信息公开目录 · 最新公开"


async def test_unpublished_classified_withdrawn_and_redacted_never_appear(client, fx):
    for params in ({"organ": fx.parent}, {"organ": fx.parent, "include_subordinates": "true"}, {}):
        r = await client.get(FEED, params=params)
        assert r.status_code == 200, r.text
        assert "蓝鲸" not in r.text  # no canary title or text, and the redacted 蓝鲸丁 of the public record neither
        assert not set(entry_ids(ET.fromstring(r.content))) & (set(fx.canaries.values()) - {fx.canaries["redacted"]})
    assert entry_ids(await atom(client, q="蓝鲸")) == []  # only in canaries and in the withheld segment
    assert entry_ids(await atom(client, q="蓝鲸丁")) == []  # the redacted word does not find the record either
    assert entry_ids(await atom(client, q="区分处理测试")) == [fx.canaries["redacted"]]
    # Staff scope is never the feed's: a drafter of the organ with scope=organ still gets the public feed.
    drafter = auth("drafter", organ=fx.parent)
    assert entry_ids(await atom(client, drafter, q="蓝鲸", scope="organ")) == []


async def _imported(client: httpx.AsyncClient, organ: str, *titles: str, **fields: Any) -> list[str]:
    records = [{"external_id": f"OA-{uuid.uuid4().hex[:12]}", "title": title, "genre": "notice",
                "summary": "对订阅测试作出部署。", "body": "各区、各部门：订阅测试。", **fields} for title in titles]
    r = await client.post(f"{API}/documents/bulk", headers=auth("integration", organ=organ, sub="oa"),
                          json={"records": records})
    assert r.status_code == 200, r.text
    assert all(x["status"] == "created" for x in r.json()["results"]), r.text
    return [x["document_id"] for x in r.json()["results"]]


async def _etag(client: httpx.AsyncClient, headers: dict[str, str], doc_id: str) -> str:
    r = await client.get(f"{API}/documents/{doc_id}/record", headers=headers)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


async def test_a_record_classified_or_withdrawn_after_publication_leaves_the_feed_at_once(client):
    staff = Staff(await make_organ(client, "订阅测试局"))
    kept, classified, withdrawn = await _imported(client, staff.organ, "订阅甲通知", "订阅乙通知", "订阅丙通知",
                                                  review=REVIEW)
    [draft] = await _imported(client, staff.organ, "订阅丁草稿")  # never published
    params = {"q": "订阅", "organ": staff.organ}
    r = await client.get(FEED, params=params)
    assert entry_ids(ET.fromstring(r.content)) == await newest_first(client, **params)
    assert set(entry_ids(ET.fromstring(r.content))) == {kept, classified, withdrawn}
    assert r.headers["cache-control"] == "no-cache"
    again = await client.get(FEED, params=params, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == r.headers["etag"]

    await act(client, staff.secrecy_officer, classified, "classify",
              await _etag(client, staff.secrecy_officer, classified),
              {"classification_level": "secret", "secrecy_period_years": 10, "classification_responsible": "王主任"})
    await act(client, staff.unit_head, withdrawn, "withdraw", await _etag(client, staff.unit_head, withdrawn),
              {"comment": "发布有误，撤回"})
    after = await client.get(FEED, params=params, headers={"If-None-Match": r.headers["etag"]})
    assert after.status_code == 200  # the old ETag no longer matches: the feed changed
    assert entry_ids(ET.fromstring(after.content)) == [kept]
    assert "订阅乙" not in after.text and "订阅丙" not in after.text and "订阅丁" not in after.text
    assert draft not in after.text


async def test_bad_parameters_are_422_as_in_the_search_and_unknown_ones_are_ignored(client, fx):
    bad = [{"year": 1800}, {"year": "今年"}, {"genre": "nonsense"}, {"key_area": "nonsense"}, {"validity": "x"},
           {"q": "长" * 101}, {"organ": "11440100MC9999999X"}, {"include_subordinates": "maybe"}]
    for params in bad:
        assert_problem(await client.get(f"{API}/documents", params=params), 422)  # the search's own answer
        assert_problem(await client.get(FEED, params=params), 422)
    assert_problem(await client.get(FEED, params={"organ": new_code()}), 404, "organ_not_found")
    plain = await client.get(FEED, params={"q": "预算"})
    noisy = await client.get(FEED, params={"q": "预算", "utm_source": "weixin", "limit": 3, "sort": "relevance"})
    assert noisy.status_code == 200 and noisy.content == plain.content
    assert self_link(ET.fromstring(noisy.content)) == f"{BASE}{FEED}?q=%E9%A2%84%E7%AE%97"


async def test_feed_url_is_the_normalised_query_and_round_trips(client, fx):
    body = await search(client, q=" 預算　决算 預算 ", genre="notice", organ=fx.parent.lower(),
                        include_subordinates="true", limit=5)
    feed_url = body["feed_url"]
    assert feed_url.startswith(f"{BASE}{FEED}?")
    # Sorted names, folded query with its terms once, codes normalised: typed differently, the same feed.
    assert path_of(feed_url) == (f"{FEED}?genre=notice&include_subordinates=true&organ={fx.parent}"
                                 "&q=%E9%A2%84%E7%AE%97%20%E5%86%B3%E7%AE%97")
    same = await search(client, include_subordinates="1", organ=fx.parent, genre="notice", q="预算 决算", sort="date")
    assert same["feed_url"] == feed_url
    root = ET.fromstring((await client.get(path_of(feed_url))).content)
    assert entry_ids(root) == await newest_first(client, q="预算 决算", genre="notice", organ=fx.parent,
                                                 include_subordinates="true")
    assert entry_ids(root)  # not vacuous
    assert self_link(root) == root.findtext(f"{ATOM}id") == feed_url
    # include_subordinates means nothing without an organ; no filters at all is the whole catalogue.
    assert (await search(client, include_subordinates="true"))["feed_url"] == f"{BASE}{FEED}"
    # Staff scope: no feed (the feed is public and would not show what they searched).
    staff = await search(client, auth("drafter", organ=fx.parent), q="蓝鲸", scope="organ")
    assert staff["items"] and staff["feed_url"] is None
    # scope=organ by someone who is not catalogue staff is a public search, and gets its feed.
    assert (await search(client, auth("applicant", sub="someone"), q="预算", scope="organ"))["feed_url"] == (
        f"{BASE}{FEED}?q=%E9%A2%84%E7%AE%97")


async def test_the_host_header_is_ignored(client, fx):
    body = (await client.get(f"{API}/documents", params={"q": "预算"}, headers=SPOOFED)).json()
    assert body["feed_url"] == f"{BASE}{FEED}?q=%E9%A2%84%E7%AE%97"
    r = await client.get(FEED, params={"q": "预算", "organ": fx.child}, headers=SPOOFED)
    assert r.status_code == 200 and EVIL.encode() not in r.content
    assert all(EVIL not in value for value in r.headers.values())
    root = ET.fromstring(r.content)
    assert self_link(root) == root.findtext(f"{ATOM}id") == f"{BASE}{FEED}?organ={fx.child}&q=%E9%A2%84%E7%AE%97"
    plain = await client.get(FEED, params={"q": "预算", "organ": fx.child})
    assert plain.content == r.content and plain.headers["etag"] == r.headers["etag"]  # one cached copy for all
