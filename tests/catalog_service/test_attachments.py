"""Attachments (附件) through the API: real upload and download, limits, type checks, and visibility at request time."""

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from catalog_service.app import create_app
from catalog_service.config import Settings
from services.db import Database
from tests.catalog_service.helpers import API, Staff, act, draft, make_organ, with_etag
from tests.support import assert_problem, auth, expect_status, serve

LIMIT = 64 * 1024
PDF = b"%PDF-1.7\n" + "政务公开附件".encode() * 200 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "attachments"


@pytest.fixture
async def client(catalog_db: Database, storage: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(attachment_dir=str(storage), max_attachment_bytes=LIMIT)
    async with serve(create_app(settings, database=catalog_db)) as c:
        yield c


async def upload(client, staff_headers, doc_id: str, etag: str, content: bytes = PDF,
                 filename: str = "关于2026年预算公开的说明.pdf", content_type: str = "application/pdf",
                 withheld: bool = False, expect: int = 201, expect_code: str | None = None) -> httpx.Response:
    r = await client.post(f"{API}/documents/{doc_id}/attachments", headers=with_etag(staff_headers, etag),
                          files={"file": (filename, content, content_type)},
                          data={"withheld": "true" if withheld else "false"})
    expect_status(r, expect, expect_code)
    return r


def download_url(doc_id: str, attachment_id: str) -> str:
    return f"{API}/documents/{doc_id}/attachments/{attachment_id}"


async def publish_draft(client, staff: Staff, doc_id: str, etag: str) -> str:
    etag = (await act(client, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(client, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    return (await act(client, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})).headers["etag"]


def assert_not_found(response: httpx.Response, attachment_id: str) -> dict:
    """Exactly the 404 of an attachment that does not exist (no oracle): same code, same words."""
    body = assert_problem(response, 404, "attachment_not_found")
    assert body["detail"] == f"Attachment {attachment_id} does not exist."
    return body


async def test_upload_and_download_round_trip(client, storage):
    staff = Staff(await make_organ(client))
    doc_id, etag = await draft(client, staff)
    r = await upload(client, staff.drafter, doc_id, etag)
    meta = r.json()
    assert meta["sha256"] == hashlib.sha256(PDF).hexdigest() and meta["size"] == len(PDF)
    assert meta["filename"] == "关于2026年预算公开的说明.pdf" and meta["content_type"] == "application/pdf"
    assert meta["withheld"] is False and meta["created_by"] == f"drafter@{staff.organ}"
    assert r.headers["etag"] != etag  # the record's version moved: a stale ETag now gets 412
    assert r.headers["location"] == download_url(doc_id, meta["id"])
    assert (storage / meta["sha256"][:2] / meta["sha256"]).read_bytes() == PDF
    assert list((storage / "tmp").iterdir()) == []  # no half-written files left behind

    got = await client.get(download_url(doc_id, meta["id"]), headers=staff.drafter)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["etag"] == f'"{meta["sha256"]}"' and got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-type"] == "application/pdf"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment; ") and f"filename*=UTF-8''{quote(meta['filename'])}" in disposition
    assert got.headers["cache-control"] == "private, no-store"
    again = await client.get(download_url(doc_id, meta["id"]), headers={**staff.drafter,
                                                                         "If-None-Match": got.headers["etag"]})
    assert again.status_code == 304

    record = (await client.get(f"{API}/documents/{doc_id}/record", headers=staff.drafter)).json()
    assert [a["id"] for a in record["attachments"]] == [meta["id"]]
    await upload(client, staff.drafter, doc_id, etag, expect=412, expect_code="precondition_failed")
    assert_problem(await client.post(f"{API}/documents/{doc_id}/attachments", headers=staff.drafter,
                                     files={"file": ("a.pdf", PDF, "application/pdf")}), 428, "precondition_required")


async def test_public_gets_files_of_public_records_only_and_never_withheld_ones(client):
    staff = Staff(await make_organ(client))
    doc_id, etag = await draft(client, staff)
    r = await upload(client, staff.drafter, doc_id, etag)
    shown = r.json()["id"]
    r = await upload(client, staff.drafter, doc_id, r.headers["etag"], content=PNG, filename="身份证照片.png",
                     content_type="image/png", withheld=True)
    withheld = r.json()["id"]
    assert r.json()["withheld"] is True
    random_id = str(uuid.uuid4())

    # A draft's attachments do not exist for the public or for another organ's staff.
    others = Staff(await make_organ(client, "别的局"))
    for headers in ({}, others.drafter, auth("integration", organ=staff.organ)):
        assert_not_found(await client.get(download_url(doc_id, shown), headers=headers), shown)
    assert_not_found(await client.get(download_url(doc_id, random_id)), random_id)
    assert_not_found(await client.get(download_url(str(uuid.uuid4()), shown)), shown)

    await publish_draft(client, staff, doc_id, r.headers["etag"])
    public = await client.get(download_url(doc_id, shown))
    assert public.status_code == 200 and public.content == PDF and public.headers["cache-control"] == "no-cache"
    assert_not_found(await client.get(download_url(doc_id, withheld)), withheld)
    assert_not_found(await client.get(download_url(doc_id, withheld), headers=others.unit_head), withheld)
    assert (await client.get(download_url(doc_id, withheld), headers=staff.drafter)).content == PNG
    listed = (await client.get(f"{API}/documents/{doc_id}")).json()["attachments"]
    assert [a["id"] for a in listed] == [shown]
    assert all("withheld" not in a for a in listed)  # the public is not even told a withheld file exists
    for headers in (staff.drafter, others.drafter):  # the public view is the same for everyone
        assert (await client.get(f"{API}/documents/{doc_id}", headers=headers)).json()["attachments"] == listed
    # Attachment ids are bound to their record: the right id under another record is not found.
    other_doc, _ = await draft(client, staff)
    assert_not_found(await client.get(download_url(other_doc, shown)), shown)


async def test_withdrawal_and_classification_stop_downloads_at_once(client):
    staff = Staff(await make_organ(client))
    files = {}
    for name in ("withdrawn", "classified"):
        doc_id, etag = await draft(client, staff, title=f"将被{name}的通知")
        r = await upload(client, staff.drafter, doc_id, etag)
        etag = await publish_draft(client, staff, doc_id, r.headers["etag"])
        files[name] = (doc_id, r.json()["id"], etag)
        assert (await client.get(download_url(doc_id, r.json()["id"]))).status_code == 200

    doc_id, attachment_id, etag = files["withdrawn"]
    await act(client, staff.unit_head, doc_id, "withdraw", etag, {"comment": "发布有误，撤回"})
    assert_not_found(await client.get(download_url(doc_id, attachment_id)), attachment_id)
    assert (await client.get(download_url(doc_id, attachment_id), headers=staff.drafter)).status_code == 200

    doc_id, attachment_id, etag = files["classified"]
    await act(client, staff.secrecy_officer, doc_id, "classify", etag, {
        "classification_level": "secret", "secrecy_period_years": 10, "classification_responsible": "王主任"})
    assert_not_found(await client.get(download_url(doc_id, attachment_id)), attachment_id)
    # 知悉范围: a classified record's files reach only those who may read classified records.
    assert_not_found(await client.get(download_url(doc_id, attachment_id), headers=staff.drafter), attachment_id)
    assert (await client.get(download_url(doc_id, attachment_id), headers=staff.secrecy_officer)).content == PDF


async def test_size_limit(client):
    staff = Staff(await make_organ(client))
    doc_id, etag = await draft(client, staff)
    just_right = b"%PDF-" + b"0" * (LIMIT - 5)
    assert (await upload(client, staff.drafter, doc_id, etag, content=just_right)).json()["size"] == LIMIT
    etag = (await client.get(f"{API}/documents/{doc_id}/record", headers=staff.drafter)).headers["etag"]
    await upload(client, staff.drafter, doc_id, etag, content=just_right + b"0", expect=413,
                 expect_code="attachment_too_large")
    # Far beyond it the request body itself is refused before it is read.
    await upload(client, staff.drafter, doc_id, etag, content=just_right * 3, expect=413,
                 expect_code="payload_too_large")


async def test_declared_type_and_content_must_agree(client):
    staff = Staff(await make_organ(client))
    doc_id, etag = await draft(client, staff)
    await upload(client, staff.drafter, doc_id, etag, content=b"MZ\x90\x00" + b"\x00" * 100, filename="setup.exe",
                 content_type="application/x-msdownload", expect=415, expect_code="unsupported_attachment_type")
    await upload(client, staff.drafter, doc_id, etag, content=PNG, filename="伪装.pdf", expect=422,
                 expect_code="attachment_content_mismatch")
    await upload(client, staff.drafter, doc_id, etag, content=b"abc\x00\x01\x02", filename="a.txt",
                 content_type="text/plain", expect=422, expect_code="attachment_content_mismatch")
    await upload(client, staff.drafter, doc_id, etag, content=b"", expect=422,
                 expect_code="attachment_content_mismatch")

    # Plain text keeps the charset it was written in, so it is served readable.
    r = await upload(client, staff.drafter, doc_id, etag, content="政务公开说明".encode("gb18030"),
                     filename="说明.txt", content_type="text/plain")
    assert r.json()["content_type"] == "text/plain; charset=gb18030"
    r = await upload(client, staff.drafter, doc_id, r.headers["etag"], content=PDF, filename="../../etc/passwd")
    assert r.json()["filename"] == "passwd.pdf"
    r = await upload(client, staff.drafter, doc_id, r.headers["etag"], content=PDF, filename="C:\\报告.exe")
    assert r.json()["filename"] == "报告.exe.pdf"
    got = await client.get(download_url(doc_id, r.json()["id"]), headers=staff.drafter)
    assert 'filename="__.exe.pdf"' in got.headers["content-disposition"]


async def test_who_may_attach_and_remove(client):
    staff, others = Staff(await make_organ(client)), Staff(await make_organ(client, "别的局"))
    doc_id, etag = await draft(client, staff)
    await upload(client, others.drafter, doc_id, etag, expect=404, expect_code="document_not_found")
    await upload(client, staff.secrecy_officer, doc_id, etag, expect=403, expect_code="wrong_role")
    await upload(client, {}, doc_id, etag, expect=401, expect_code="authentication_required")

    r = await upload(client, staff.division_head, doc_id, etag)
    attachment_id, etag = r.json()["id"], r.headers["etag"]
    r = await client.delete(download_url(doc_id, attachment_id), headers=with_etag(staff.drafter, etag))
    assert r.status_code == 204 and r.headers["etag"] != etag
    assert_not_found(await client.get(download_url(doc_id, attachment_id), headers=staff.drafter), attachment_id)

    r = await upload(client, staff.drafter, doc_id, r.headers["etag"])
    attachment_id, etag = r.json()["id"], r.headers["etag"]
    etag = (await act(client, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    r = await client.delete(download_url(doc_id, attachment_id), headers=with_etag(staff.drafter, etag))
    assert_problem(r, 409, "not_editable")
    # Still attachable while in review, but not once decided.
    etag = (await upload(client, staff.division_head, doc_id, etag)).headers["etag"]
    etag = (await act(client, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    etag = (await act(client, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})).headers["etag"]
    await upload(client, staff.unit_head, doc_id, etag, expect=409, expect_code="not_editable")


async def test_the_same_file_twice_is_stored_once(client, storage):
    staff = Staff(await make_organ(client))
    doc_id, etag = await draft(client, staff)
    first = await upload(client, staff.drafter, doc_id, etag)
    second = await upload(client, staff.drafter, doc_id, first.headers["etag"], filename="副本.pdf")
    assert first.json()["sha256"] == second.json()["sha256"] and first.json()["id"] != second.json()["id"]
    assert [p.name for p in storage.rglob("*") if p.is_file()] == [first.json()["sha256"]]


async def test_staff_see_each_attachments_withheld_flag(client):
    staff = Staff(await make_organ(client))
    doc_id, etag = await draft(client, staff)
    r = await upload(client, staff.drafter, doc_id, etag)
    shown = r.json()["id"]
    r = await upload(client, staff.drafter, doc_id, r.headers["etag"], content=PNG, filename="身份证照片.png",
                     content_type="image/png", withheld=True)
    withheld = r.json()["id"]
    for headers in (staff.drafter, staff.division_head, staff.unit_head, staff.secrecy_officer):
        record = await client.get(f"{API}/documents/{doc_id}/record", headers=headers)
        assert record.status_code == 200, record.text
        flags = {a["id"]: a["withheld"] for a in record.json()["attachments"]}
        assert flags == {shown: False, withheld: True}
        assert all(a["created_by"] == f"drafter@{staff.organ}" for a in record.json()["attachments"])
    # Still so after publication, while the public read lists only the disclosed file.
    await publish_draft(client, staff, doc_id, r.headers["etag"])
    record = (await client.get(f"{API}/documents/{doc_id}/record", headers=staff.unit_head)).json()
    assert {a["id"]: a["withheld"] for a in record["attachments"]} == {shown: False, withheld: True}
    assert [a["id"] for a in (await client.get(f"{API}/documents/{doc_id}")).json()["attachments"]] == [shown]
    # Another organ's staff never reach the staff view of the record.
    others = Staff(await make_organ(client, "别的局"))
    assert_problem(await client.get(f"{API}/documents/{doc_id}/record", headers=others.unit_head), 403, "outside_organ")


async def test_database_store_every_instance_serves_every_file(catalog_db: Database, tmp_path: Path):
    """CATALOG_ATTACHMENT_STORE=database (多实例): a file uploaded through one instance is downloaded through another
    that has a disk of its own (an empty attachment directory) — the bytes are in the catalogue's database, by
    SHA-256, once per content however many attachments share it; nothing is left on the first instance's disk."""
    def settings(name: str) -> Settings:
        return Settings(attachment_dir=str(tmp_path / name), attachment_store="database", max_attachment_bytes=LIMIT)

    async with serve(create_app(settings("first"), database=catalog_db)) as first, \
            serve(create_app(settings("second"), database=catalog_db)) as second:
        staff = Staff(await make_organ(first))
        doc_id, etag = await draft(first, staff)
        r = await upload(first, staff.drafter, doc_id, etag)
        meta = r.json()
        r = await upload(first, staff.drafter, doc_id, r.headers["etag"], filename="副本.pdf")  # same content
        assert r.json()["sha256"] == meta["sha256"]
        on_disk = [p for p in (tmp_path / "first").rglob("*") if p.is_file()]
        assert on_disk == []  # only the scratch space was used, and cleaned

        got = await second.get(download_url(doc_id, meta["id"]), headers=staff.drafter)
        assert got.status_code == 200 and got.content == PDF, got.text
        assert got.headers["etag"] == f'"{meta["sha256"]}"' and got.headers["content-type"] == "application/pdf"
        await publish_draft(second, staff, doc_id, (await second.get(f"{API}/documents/{doc_id}/record",
                                                                    headers=staff.drafter)).headers["etag"])
        public = await first.get(download_url(doc_id, meta["id"]))
        assert public.status_code == 200 and hashlib.sha256(public.content).hexdigest() == meta["sha256"]
