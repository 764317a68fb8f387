"""Attachments (附件) through export → import (issue 15 item 4, "export → import loses no field"): the command-line
importer downloads every file an exported record lists, checks its SHA-256 against the export and uploads it to the
new record before that record is published (files are attached during drafting and review, never to a published
record); and the integration role's attachment rights (its own imported drafts, nothing of another organ's)."""

import hashlib
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_service.app import create_app
from catalog_service.config import Settings
from catalog_service.importer import run
from services.db import Database, make_engine
from tests.catalog_service.helpers import API, Staff, act, draft, make_organ, with_etag
from tests.catalog_service.test_exchange_formats import export_all
from tests.catalog_service.test_sync import bulk, integration
from tests.harness import drop_database, new_database
from tests.support import auth, expect_status, serve

SOURCE_BASE = "http://a.gongkai.test"  # service A's public address: the export's download URLs
TARGET_BASE = "http://b.gongkai.test"  # service B, where the importer sends the records
PROFILES = ("dcat-jsonld", "jiyuehua")

PDF = b"%PDF-1.7\n" + "部门预算公开说明".encode() * 300 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
TXT = "各单位：附件所列事项请遵照执行。\n".encode() * 20
DOCX = b"PK\x03\x04" + b"withheld-docx" * 50
# Exported files: (filename, declared type, bytes) — a Chinese name with full-width brackets, a space, a text file.
FILES = {
    "budget": [("关于2026年部门预算公开的说明（附表）.pdf", "application/pdf", PDF),
               ("图1 组织机构.png", "image/png", PNG)],
    "notice": [("通知 附件.txt", "text/plain", TXT)],
}


class Hosts(httpx.AsyncBaseTransport):
    """The importer's network in the test: each host answered by its app over ASGI. Records every request (method,
    path); `tampered` answers a path with other bytes (a file changed at the source after the export)."""

    def __init__(self, apps: dict[str, httpx.AsyncClient]) -> None:
        self.apps = apps
        self.log: list[tuple[str, str]] = []
        self.tampered: dict[str, bytes] = {}
        self.crash_on_upload: int | None = None  # the n-th attachment upload kills the "process"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        self.log.append((request.method, path))
        if request.method == "POST" and path.endswith("/attachments") and self.crash_on_upload is not None:
            self.crash_on_upload -= 1
            if self.crash_on_upload == 0:
                self.crash_on_upload = None
                raise Crash("the importer's process died here")
        if path in self.tampered:
            return httpx.Response(200, content=self.tampered[path], headers={"content-type": "application/pdf"})
        client = self.apps[request.url.host]
        forwarded = client.build_request(request.method, path, headers=request.headers,
                                         content=await request.aread())
        response = await client.send(forwarded)
        return httpx.Response(response.status_code, headers=response.headers, content=response.content)

    def uploads(self) -> list[str]:
        return [p for m, p in self.log if m == "POST" and p.endswith("/attachments")]

    def downloads(self) -> list[str]:
        return [p for m, p in self.log if m == "GET" and "/attachments/" in p]


class Crash(Exception):
    pass


@pytest.fixture
async def source(catalog_db: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(attachment_dir=str(tmp_path / "a"), public_base_url=SOURCE_BASE)
    async with serve(create_app(settings, database=catalog_db)) as client:
        yield client


@pytest.fixture
def target_url(tmp_path: Path) -> Iterator[str]:
    url = new_database("catalog", tmp_path, label="attachments")
    yield url
    drop_database(url)


@pytest.fixture
async def target(target_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Service B: a fresh database, files in a directory of its own (nothing shared with A)."""
    database = Database(make_engine(target_url, null_pool=True))
    try:
        async with serve(create_app(Settings(attachment_dir=str(tmp_path / "b")), database=database)) as client:
            yield client
    finally:
        await database.dispose()


async def upload(client, headers, doc_id: str, etag: str, name: str, media_type: str, content: bytes,
                 withheld: bool = False, expect: int = 201, expect_code: str | None = None) -> httpx.Response:
    r = await client.post(f"{API}/documents/{doc_id}/attachments", headers=with_etag(headers, etag),
                          files={"file": (name, content, media_type)},
                          data={"withheld": "true" if withheld else "false"})
    expect_status(r, expect, expect_code)
    return r


async def source_world(source) -> tuple[str, dict[str, str]]:
    """An organ's published records on A: two with attachments (one also with a withheld file, never exported),
    one without; and a draft with a file (never exported)."""
    organ = await make_organ(source, "附件迁移测试局")
    staff = Staff(organ)
    ids = {}
    for key, title in (("budget", "关于2026年部门预算公开的通知"), ("notice", "关于做好政务公开工作的通知"),
                       ("plain", "无附件的通知"), ("draft", "尚未发布的草稿")):
        doc_id, etag = await draft(source, staff, title=title)
        for name, media_type, content in FILES.get(key, []):
            etag = (await upload(source, staff.drafter, doc_id, etag, name, media_type, content)).headers["etag"]
        if key in ("budget", "draft"):
            etag = (await upload(source, staff.drafter, doc_id, etag, "内部审签单.docx",
                                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document", DOCX,
                                 withheld=True)).headers["etag"]
        if key != "draft":
            etag = (await act(source, staff.drafter, doc_id, "submit", etag)).headers["etag"]
            etag = (await act(source, staff.division_head, doc_id, "approve", etag)).headers["etag"]
            await act(source, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})
        ids[key] = doc_id
    return organ, ids


def write_export(tmp_path: Path, profile: str, records: list[dict[str, Any]]) -> Path:
    if profile == "dcat-jsonld":  # a saved page
        path = tmp_path / "export.jsonld"
        path.write_text(json.dumps({"items": records}, ensure_ascii=False), encoding="utf-8")
    else:
        path = tmp_path / "export.ndjson"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


async def prepare_target(target, organ: str) -> str:
    r = await target.post(f"{API}/organs", headers=auth("admin"),
                          json={"code": organ, "name": "附件迁移测试局", "kind": "department"})
    assert r.status_code == 201, r.text
    return integration(organ, "province-library")["Authorization"].removeprefix("Bearer ")


async def published_on(target) -> dict[str, dict[str, Any]]:
    """Every public record of B by title, from its change feed."""
    records, after = [], 0
    while True:
        page = (await target.get(f"{API}/changes", params={"after": after, "limit": 100})).json()
        records += [i["record"] for i in page["items"] if i["record"]]
        if not page["has_more"]:
            return {r["title"]: (await target.get(f"{API}/documents/{r['id']}")).json() for r in records}
        after = page["next_cursor"]


def file_facts(record: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return sorted((a["filename"], a["content_type"], a["sha256"], a["size"]) for a in record["attachments"])


async def versions(target, records: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {t: (await target.get(f"{API}/documents/{r['id']}")).headers["etag"] for t, r in records.items()}


@pytest.mark.parametrize("profile", PROFILES)
async def test_exported_attachments_arrive_byte_equal(source, target, tmp_path, profile):
    organ, ids = await source_world(source)
    exported = await export_all(source, profile, organ)  # page by page (limit 2)
    assert len(exported) == 3
    originals = {t: (await source.get(f"{API}/documents/{i}")).json()
                 for t, i in ids.items() if t != "draft"}
    path = write_export(tmp_path, profile, exported)
    token = await prepare_target(target, organ)
    net = Hosts({"a.gongkai.test": source, "b.gongkai.test": target})

    out, err = io.StringIO(), io.StringIO()
    status = await run(path, url=TARGET_BASE, token=token, batch_size=2, out=out, err=err, transport=net)
    assert status == 0, (out.getvalue(), err.getvalue())

    imported = await published_on(target)
    assert set(imported) == {o["title"] for o in originals.values()}
    for original in originals.values():
        record = imported[original["title"]]
        # The same file name, media type, size and SHA-256 as the public record on A (the withheld file was never
        # exported, so it is not there either) ...
        assert file_facts(record) == file_facts(original), (profile, original["title"])
        assert len(record["attachments"]) == len(FILES.get(next(k for k, i in ids.items() if i == original["id"]),
                                                           []))
        # ... and B serves the bytes A serves, to the public.
        for new, old in zip(sorted(record["attachments"], key=lambda a: a["sha256"]),
                            sorted(original["attachments"], key=lambda a: a["sha256"]), strict=True):
            r = await target.get(f"{API}/documents/{record['id']}/attachments/{new['id']}")
            assert r.status_code == 200, r.text
            expected = (await source.get(f"{API}/documents/{original['id']}/attachments/{old['id']}")).content
            assert r.content == expected and hashlib.sha256(r.content).hexdigest() == new["sha256"]
            assert r.headers["content-type"].startswith(new["content_type"].split(";")[0])
    # One progress line per batch, with its attachments.
    assert all("attachments" in line for line in out.getvalue().splitlines() if line.startswith("batch")), \
        out.getvalue()
    assert "attachments uploaded 3" in out.getvalue().splitlines()[-1], out.getvalue()
    # Each record's files were attached while it was a draft, then it was published: the review log says so.
    budget = imported["关于2026年部门预算公开的通知"]
    log = (await target.get(f"{API}/documents/{budget['id']}/review-log",
                            headers=Staff(organ).unit_head)).json()
    actions = [s["action"] for s in log["items"]] if isinstance(log, dict) else [s["action"] for s in log]
    assert actions.index("attachment_added") < actions.index("import_review"), actions

    # Re-running the whole import (not resumed: from the first record) downloads and uploads nothing.
    before = await versions(target, imported)
    net.log.clear()
    out = io.StringIO()
    assert await run(path, url=TARGET_BASE, token=token, batch_size=2, restart=True, out=out, err=io.StringIO(),
                     transport=net) == 0
    assert net.uploads() == [] and net.downloads() == [], net.log
    assert await versions(target, imported) == before
    assert "attachments uploaded 0" in out.getvalue().splitlines()[-1], out.getvalue()

    # A dry run downloads nothing either.
    net.log.clear()
    assert await run(path, url=TARGET_BASE, token=token, dry_run=True, out=io.StringIO(), err=io.StringIO(),
                     transport=net) == 0
    assert net.log == []


async def test_a_tampered_file_is_reported_and_the_record_kept(source, target, tmp_path):
    organ, ids = await source_world(source)
    exported = await export_all(source, "jiyuehua", organ)
    path = write_export(tmp_path, "jiyuehua", exported)
    token = await prepare_target(target, organ)
    net = Hosts({"a.gongkai.test": source, "b.gongkai.test": target})
    budget = (await source.get(f"{API}/documents/{ids['budget']}")).json()
    pdf = next(a for a in budget["attachments"] if a["filename"].endswith(".pdf"))
    net.tampered[f"{API}/documents/{ids['budget']}/attachments/{pdf['id']}"] = PDF.replace(b"1.7", b"1.4")

    err = io.StringIO()
    status = await run(path, url=TARGET_BASE, token=token, out=io.StringIO(), err=err, transport=net)
    assert status == 1, err.getvalue()
    assert f"({ids['budget']}) kept as draft" in err.getvalue(), err.getvalue()
    assert "SHA-256 mismatch" in err.getvalue() and hashlib.sha256(PDF).hexdigest() in err.getvalue()
    assert pdf["filename"] in err.getvalue()
    imported = await published_on(target)
    # The other records are published with their files; the budget record is kept, as a draft (a record is
    # published with every file it had, never without one), with its good file attached already.
    assert set(imported) == {"关于做好政务公开工作的通知", "无附件的通知"}
    kept = re.search(r"kept as draft (\S+):", err.getvalue())
    assert kept, err.getvalue()
    record = (await target.get(f"{API}/documents/{kept[1]}/record", headers=Staff(organ).unit_head)).json()
    assert record["title"] == budget["title"]
    assert record["status"] == "draft" and [a["filename"] for a in record["attachments"]] == ["图1 组织机构.png"]

    # The source is fixed; running the importer again finishes the job (the kept record is retried, its PNG not
    # uploaded again).
    net.tampered.clear()
    net.log.clear()
    err = io.StringIO()
    assert await run(path, url=TARGET_BASE, token=token, out=io.StringIO(), err=err, transport=net) == 0, \
        err.getvalue()
    assert len(net.uploads()) == 1 and len(net.downloads()) == 1, net.log
    imported = await published_on(target)
    assert file_facts(imported[budget["title"]]) == file_facts(budget)


async def test_a_crashed_import_is_finished_by_running_it_again(source, target, tmp_path):
    organ, ids = await source_world(source)
    exported = await export_all(source, "dcat-jsonld", organ)
    path = write_export(tmp_path, "dcat-jsonld", exported)
    token = await prepare_target(target, organ)
    net = Hosts({"a.gongkai.test": source, "b.gongkai.test": target})
    net.crash_on_upload = 2  # the process dies during the second upload
    with pytest.raises(Crash):
        await run(path, url=TARGET_BASE, token=token, out=io.StringIO(), err=io.StringIO(), transport=net)
    assert len(net.uploads()) == 2
    net.log.clear()
    err = io.StringIO()
    assert await run(path, url=TARGET_BASE, token=token, out=io.StringIO(), err=err, transport=net) == 0, \
        err.getvalue()
    assert len(net.uploads()) == 2, net.log  # the one stored before the crash is not sent again
    imported = await published_on(target)
    for key in ("budget", "notice", "plain"):
        original = (await source.get(f"{API}/documents/{ids[key]}")).json()
        assert file_facts(imported[original["title"]]) == file_facts(original)


# ---- the integration role's attachment rights -------------------------------------------------------------------

async def test_integration_attaches_only_to_its_own_imported_drafts(catalog):
    x, y = await make_organ(catalog, "附件权限甲局"), await make_organ(catalog, "附件权限乙局")
    mine = integration(x, "oa-system")
    record = {"external_id": "doc-1", "title": "导入的草稿", "body": "正文。", "genre": "notice"}
    doc_id = (await bulk(catalog, mine, [record])).json()["results"][0]["document_id"]

    listing = await catalog.get(f"{API}/documents/{doc_id}/attachments", headers=mine)
    assert listing.status_code == 200, listing.text
    assert listing.json()["attachments"] == [] and listing.json()["status"] == "draft"
    r = await upload(catalog, mine, doc_id, listing.headers["etag"], "说明.pdf", "application/pdf", PDF)
    assert r.json()["created_by"] == "oa-system" and r.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    listing = await catalog.get(f"{API}/documents/{doc_id}/attachments", headers=mine)
    assert [a["filename"] for a in listing.json()["attachments"]] == ["说明.pdf"]
    assert listing.headers["etag"] == r.headers["etag"]

    # Another organ's integration client, and the organ's other document system: as if the record did not exist.
    for other in (integration(y, "oa-system"), integration(x, "another-system")):
        expect_status(await catalog.get(f"{API}/documents/{doc_id}/attachments", headers=other), 404,
                      "document_not_found")
        await upload(catalog, other, doc_id, r.headers["etag"], "x.pdf", "application/pdf", PDF, expect=404,
                     expect_code="document_not_found")
    # A drafter's draft of the same organ is not the document system's to change.
    staff = Staff(x)
    drafted, etag = await draft(catalog, staff)
    await upload(catalog, mine, drafted, etag, "x.pdf", "application/pdf", PDF, expect=404,
                 expect_code="document_not_found")
    # Another organ's published record: refused.
    other_doc, etag = await draft(catalog, Staff(y))
    etag = (await act(catalog, Staff(y).drafter, other_doc, "submit", etag)).headers["etag"]
    etag = (await act(catalog, Staff(y).division_head, other_doc, "approve", etag)).headers["etag"]
    etag = (await act(catalog, Staff(y).unit_head, other_doc, "decide", etag, {"attribute": "proactive"})
            ).headers["etag"]
    await upload(catalog, mine, other_doc, etag, "x.pdf", "application/pdf", PDF, expect=403,
                 expect_code="outside_organ")
    # Its own record once published: files are attached before publication, not after (409, as for staff).
    published = (await bulk(catalog, mine, [record | {"review": {
        "reviewer": "王审查", "reviewed_on": "2026-01-05", "conclusion": "proactive"}}])).json()["results"][0]
    assert published["published"] is True
    etag = (await catalog.get(f"{API}/documents/{doc_id}/attachments", headers=mine)).headers["etag"]
    await upload(catalog, mine, doc_id, etag, "y.pdf", "application/pdf", PDF, expect=409, expect_code="not_editable")


async def test_only_http_files_within_the_limit_are_fetched(source, target, tmp_path):
    organ, ids = await source_world(source)
    exported = await export_all(source, "jiyuehua", organ)
    notice = next(r for r in exported if r["信息标识"] == ids["notice"])
    notice["附件"][0]["下载地址"] = "file:///etc/passwd"
    path = write_export(tmp_path, "jiyuehua", exported)
    token = await prepare_target(target, organ)
    net = Hosts({"a.gongkai.test": source, "b.gongkai.test": target})

    # A dry run names the link it could never follow, and downloads nothing.
    out, err = io.StringIO(), io.StringIO()
    assert await run(path, url=TARGET_BASE, token=token, dry_run=True, out=out, err=err, transport=net) == 1
    assert "attachment 通知 附件.txt: not an http(s) URL" in err.getvalue() and net.log == []
    assert "attachments listed 3 (none downloaded)" in out.getvalue(), out.getvalue()

    # The import: the file:// link is refused, the PDF is larger than the limit; both records kept as drafts.
    err = io.StringIO()
    assert await run(path, url=TARGET_BASE, token=token, max_file_bytes=len(PNG) + 1, out=io.StringIO(), err=err,
                     transport=net) == 1
    assert "通知 附件.txt: not an http(s) URL: file:///etc/passwd" in err.getvalue(), err.getvalue()
    assert f"{len(PDF)} bytes listed, more than --max-file-bytes" in err.getvalue(), err.getvalue()
    assert not [p for p in net.downloads() if ids["notice"] in p]  # nothing fetched for it
    assert set(await published_on(target)) == {"无附件的通知"}
