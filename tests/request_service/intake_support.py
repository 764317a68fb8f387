"""Helpers for the intake and applicant-side tests (fixtures in conftest.py): the fake catalogue, known organs,
valid identity numbers, and the PII sweep."""

import itertools
import re
import secrets
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from request_service.codes import resident_id_check_char, uscc_check_char
from request_service.domain.applications import today
from request_service.models import KnownOrgan, outbox
from services.db import Database
from tests.support import auth

API = "/api/v1/requests"
_serial = itertools.count(1)


def new_organ_code() -> str:
    base = f"11440100MB{secrets.randbelow(10**7):07d}"
    return base + uscc_check_char(base)


def resident_id(region: str = "110105", born: str = "19800101", serial: str | None = None) -> str:
    first17 = f"{region}{born}{serial or f'{secrets.randbelow(1000):03d}'}"
    return first17 + resident_id_check_char(first17)


def uscc(prefix: str = "91440101") -> str:
    base = f"{prefix}MA{secrets.randbelow(10**7):07d}"
    return base + uscc_check_char(base)


def wrong_check(number: str, alphabet: str = "0123456789X") -> str:
    """The number with another check character (pass the USCC alphabet for credit codes)."""
    return number[:17] + next(c for c in alphabet if c != number[17])


def mobile() -> str:
    return f"13{secrets.randbelow(10**9):09d}"


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


class FakeCatalog:
    """The catalogue's search and event feed, answered from memory; `down` makes every call fail to connect."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.down = False
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/api/v1/catalog/documents":
            limit = int(request.url.params.get("limit", 20))
            items = self.documents[:limit]
            return httpx.Response(200, json={"items": items, "total": len(items), "limit": limit, "offset": 0})
        if request.url.path == "/internal/v1/events":
            if not request.headers.get("authorization", "").startswith("Bearer "):
                return httpx.Response(401, json={"code": "authentication_required"})
            after, limit = int(request.url.params["after"]), int(request.url.params["limit"])
            items = [e for e in self.events if e["id"] > after][:limit]
            return httpx.Response(200, json={"items": items, "next_cursor": str(items[-1]["id"] if items else after),
                                             "head": self.events[-1]["id"] if self.events else 0})
        return httpx.Response(404)

    def document(self, title: str, **fields: Any) -> dict[str, Any]:
        doc = {"id": str(uuid.uuid4()), "index_no": f"ORG/2025-{next(_serial):05d}", "title": title,
               "doc_number": None, "organ_code": None, "summary": "ignored by the client", **fields}
        self.documents.append(doc)
        return doc


async def add_organ(db: Database, code: str | None = None, name: str = "测试市财政局",
                    parent: str | None = None) -> str:
    code = code or new_organ_code()
    async with db.transaction() as session:
        parent_path = (await session.get(KnownOrgan, parent)).path if parent else "/"
        session.add(KnownOrgan(code=code, id=str(uuid.uuid4()), name=name, parent_code=parent,
                               path=f"{parent_path}{code}/"))
    return code


class Desk:
    """Tokens of one organ's staff."""

    def __init__(self, organ: str) -> None:
        self.organ = organ
        self.clerk = auth("intake_clerk", organ=organ, sub=f"clerk@{organ}", name="受理员")
        self.handler = auth("handler", organ=organ, sub=f"handler@{organ}", name="承办人")
        self.approver = auth("reply_approver", organ=organ, sub=f"approver@{organ}", name="签发人")
        self.drafter = auth("drafter", organ=organ, sub=f"drafter@{organ}", name="拟稿人")
        self.stats = auth("stats_officer", organ=organ, sub=f"stats@{organ}", name="统计员")


def applicant(**overrides: Any) -> dict[str, Any]:
    return {"type": "natural_person", "name": "张三", "id_type": "resident_id", "id_number": resident_id(),
            "phone": mobile(), "email": "zhangsan@example.com", "address": "北京市东城区某某街道1号",
            "postal_code": "100010", **overrides}


def application_body(organ: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"applicant": applicant(), "info_title": "2025年度部门预算执行情况",
                            "info_description": "请提供2025年度部门预算执行情况报告全文",
                            "preferred_form": "electronic", "delivery": "email"}
    if organ is not None:
        body["organ_code"] = organ
    body.update(overrides)
    return body


async def submit(client: httpx.AsyncClient, organ: str, headers: dict[str, str] | None = None,
                 **overrides: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/applications", json=application_body(organ, **overrides), headers=headers or {})
    assert r.status_code == 201, r.text
    return r.json()


async def register(client: httpx.AsyncClient, desk: Desk, channel: str, **overrides: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/applications/register", headers=desk.clerk,
                          json=application_body(channel=channel, **overrides))
    assert r.status_code == 201, r.text
    return r.json()


async def events_of(db: Database, type_: str) -> list[dict[str, Any]]:
    async with db.transaction(write=False) as session:
        rows = (await session.execute(select(outbox.events).where(outbox.events.c.type == type_)
                                      .order_by(outbox.events.c.id))).mappings().all()
    return [dict(r) for r in rows]


# Bounded by non-alphanumerics, so no UUID, hash or timestamp can match by accident.
ID_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE_RE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")


def assert_no_pii(response: httpx.Response, *planted: str) -> None:
    text = response.text
    assert not ID_NUMBER_RE.search(text), f"unmasked identity number in {response.request.url}: {text}"
    assert not MOBILE_RE.search(text), f"unmasked mobile number in {response.request.url}: {text}"
    for value in planted:
        assert value not in text, f"{value} leaked in {response.request.url}"
