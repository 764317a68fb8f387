"""The public document detail is complete (issue 14 item 7): co-issuing organs (联合发文) by code with their names,
修订 and 废止 links both ways (amends / amended_by, repeals / repealed_by), 解读 both ways (interpretation_of /
interpreted_by) and absolute attachment URLs (architecture.md: from the configured public base URL, never the
request's Host). A link names only a record the public may see, and when one appears or disappears the linked
record's public view changes with a new ETag (a cached copy is not revalidated as current)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from catalog_service.app import create_app
from catalog_service.config import Settings
from services.db import Database
from tests.catalog_service.helpers import API, Staff, act, draft, make_organ, publish, with_etag
from tests.support import serve

BASE = "https://gk.example.gov.cn"
PDF = b"%PDF-1.7\n" + "附件".encode() * 50 + b"\n%%EOF\n"


@pytest.fixture
async def client(catalog_db: Database, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(attachment_dir=str(tmp_path / "attachments"), public_base_url=BASE)
    async with serve(create_app(settings, database=catalog_db)) as c:
        yield c


async def detail(client, doc_id: str) -> dict:
    r = await client.get(f"{API}/documents/{doc_id}")
    assert r.status_code == 200, r.text
    return r.json()


def ids(links: list[dict]) -> list[str]:
    return [link["id"] for link in links]


async def test_links_both_ways_co_issuers_and_attachment_urls(client):
    lead = await make_organ(client, "牵头局")
    partner = await make_organ(client, "会签局")
    staff = Staff(lead)
    policy = await publish(client, staff, genre="normative_document", title="被修订的政策",
                           co_issuer_codes=[partner])
    view = await detail(client, policy)
    assert view["organ_code"] == lead
    assert view["co_issuers"] == [{"code": partner, "name": "会签局"}]
    assert view["amended_by"] == view["repealed_by"] == view["interpreted_by"] == []
    before = (await client.get(f"{API}/documents/{policy}")).headers["etag"]

    amending = await publish(client, staff, genre="normative_document", title="修订决定", amends=[policy])
    interpretation = await publish(client, staff, genre="interpretation", title="政策解读", interpretation_of=policy)
    view = await detail(client, policy)
    assert ids(view["amended_by"]) == [amending]
    assert ids(view["interpreted_by"]) == [interpretation]
    link = view["interpreted_by"][0]
    assert link["title"] == "政策解读" and link["url"] == f"{BASE}{API}/documents/{interpretation}"
    assert ids((await detail(client, amending))["amends"]) == [policy]
    assert (await detail(client, interpretation))["interpretation_of"] == policy
    again = await client.get(f"{API}/documents/{policy}", headers={"If-None-Match": before})
    assert again.status_code == 200  # its public view changed: not a 304

    repealing = await publish(client, staff, genre="normative_document", title="废止决定", repeals=[policy])
    view = await detail(client, policy)
    assert ids(view["repealed_by"]) == [repealing] and view["validity"] == "repealed"
    assert view["validity_label"]["zh"]
    assert ids((await detail(client, repealing))["repeals"]) == [policy]

    # The 解读 withdrawn: the policy stops naming it, with a new ETag.
    etag = (await client.get(f"{API}/documents/{policy}")).headers["etag"]
    record = await client.get(f"{API}/documents/{interpretation}/record", headers=staff.unit_head)
    await act(client, staff.unit_head, interpretation, "withdraw", record.headers["etag"],
              {"comment": "内容有误，撤回"})
    assert (await detail(client, policy))["interpreted_by"] == []
    again = await client.get(f"{API}/documents/{policy}", headers={"If-None-Match": etag})
    assert again.status_code == 200

    # Attachments: absolute URLs on the public base URL, and the path serves the file.
    doc_id, etag = await draft(client, staff, title="带附件的通知")
    r = await client.post(f"{API}/documents/{doc_id}/attachments", headers=with_etag(staff.drafter, etag),
                          files={"file": ("说明.pdf", PDF, "application/pdf")}, data={"withheld": "false"})
    assert r.status_code == 201, r.text
    attachment = r.json()["id"]
    etag = r.headers["etag"]
    etag = (await act(client, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(client, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    await act(client, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})
    [listed] = (await detail(client, doc_id))["attachments"]
    path = f"{API}/documents/{doc_id}/attachments/{attachment}"
    assert listed["url"] == f"{BASE}{path}"
    download = await client.get(path)
    assert download.status_code == 200 and download.content == PDF


async def test_links_to_records_the_public_may_not_see_are_not_named(client):
    staff = Staff(await make_organ(client, "测试局"))
    policy = await publish(client, staff, genre="normative_document", title="政策")
    hidden, _ = await draft(client, staff, genre="interpretation", title="未公开的解读", interpretation_of=policy)
    view = await detail(client, policy)
    assert view["interpreted_by"] == [] and hidden not in str(view)
