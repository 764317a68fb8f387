"""Test helpers for the catalogue: organs and documents made through the API."""

import itertools
from typing import Any

from catalog_service.codes import uscc_check_char
from tests.support import auth

API = "/api/v1/catalog"
_serial = itertools.count(1)


def new_code() -> str:
    base = f"11440100MC{next(_serial):07d}"
    return base + uscc_check_char(base)


async def make_organ(client, name: str = "测试局", *, parent: str | None = None, kind: str = "department") -> str:
    code = new_code()
    body: dict[str, Any] = {"code": code, "name": name, "kind": kind}
    if parent:
        body["parent_code"] = parent
    r = await client.post(f"{API}/organs", headers=auth("admin"), json=body)
    assert r.status_code == 201, r.text
    return code


class Staff:
    """Tokens for the catalogue roles of one organ."""

    def __init__(self, organ: str) -> None:
        self.organ = organ
        self.drafter = auth("drafter", organ=organ, sub=f"drafter@{organ}", name="张拟稿")
        self.division_head = auth("division_head", organ=organ, sub=f"division@{organ}", name="李处长")
        self.unit_head = auth("unit_head", organ=organ, sub=f"unit@{organ}", name="王主任")
        self.secrecy_officer = auth("secrecy_officer", organ=organ, sub=f"secrecy@{organ}", name="赵保密")


def with_etag(headers: dict[str, str], etag: str) -> dict[str, str]:
    return {**headers, "If-Match": etag}


async def draft(client, staff: Staff, **fields: Any):
    body = {"title": "关于开展2026年政务公开工作的通知", "body": "各单位：现将有关事项通知如下。", "genre": "notice",
            "proposed_attribute": "proactive", **fields}
    r = await client.post(f"{API}/documents", headers=staff.drafter, json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"], r.headers["etag"]


async def act(client, headers, doc_id: str, action: str, etag: str, body: dict | None = None, expect: int = 200):
    r = await client.post(f"{API}/documents/{doc_id}/{action}", headers=with_etag(headers, etag), json=body or {})
    assert r.status_code == expect, r.text
    return r


async def publish(client, staff: Staff, **fields: Any) -> str:
    doc_id, etag = await draft(client, staff, **fields)
    etag = (await act(client, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(client, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    await act(client, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})
    return doc_id
