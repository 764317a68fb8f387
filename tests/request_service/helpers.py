"""Test helpers for the request service: applications inserted directly (intake is tested on its own) and
handled through the staff API."""

import hashlib
import itertools
import uuid
from datetime import UTC, date, datetime

from request_service.models import Application, KnownOrgan
from tests.support import auth

API = "/api/v1/requests"
_n = itertools.count(1)


def organ_code() -> str:
    return f"11440100MD{next(_n):07d}X"[:18]


class Desk:
    """Tokens of one organ's request-handling staff."""

    def __init__(self, organ: str) -> None:
        self.organ = organ
        self.clerk = auth("intake_clerk", organ=organ, sub=f"clerk@{organ}", name="受理员")
        self.handler = auth("handler", organ=organ, sub=f"handler@{organ}", name="承办人")
        self.approver = auth("reply_approver", organ=organ, sub=f"approver@{organ}", name="签发人")


async def insert_application(db, organ: str, *, submitted: date, channel: str = "online",
                             applicant_type: str = "natural_person", key: str | None = None,
                             title: str = "申请公开2025年度部门预算") -> str:
    app_id = str(uuid.uuid4())
    async with db.transaction() as session:
        if await session.get(KnownOrgan, organ) is None:
            session.add(KnownOrgan(code=organ, id=str(uuid.uuid4()), name="测试市财政局", path=f"/{organ}/"))
        session.add(Application(
            id=app_id, tracking_no=f"T{uuid.uuid4().hex[:12]}", query_code_hash="x", organ_code=organ,
            channel=channel, submitted_at=datetime(submitted.year, submitted.month, submitted.day, 2, tzinfo=UTC),
            applicant_type=applicant_type, applicant_name="张三",
            applicant_key=key or hashlib.sha256(app_id.encode()).hexdigest(), id_type="resident_id",
            id_number="11010519491231002X", phone="13812345678", info_title=title, status="received"))
    return app_id


async def act(client, headers, app_id: str, action: str, body: dict | None = None, *, expect: int = 200):
    etag = (await client.get(f"{API}/applications/{app_id}", headers=headers)).headers.get("etag", '"0"')
    r = await client.post(f"{API}/applications/{app_id}/{action}", headers={**headers, "If-Match": etag},
                          json=body or {})
    assert r.status_code == expect, r.text
    return r


async def accepted(client, db, desk: Desk, receipt: str, **kwargs) -> str:
    app_id = await insert_application(db, desk.organ, submitted=date.fromisoformat(receipt), **kwargs)
    await act(client, desk.clerk, app_id, "confirm", {"on": receipt, "method": "电话确认"})
    return app_id


async def deadline(client, desk: Desk, app_id: str) -> dict:
    r = await client.get(f"{API}/applications/{app_id}/deadline", headers=desk.handler)
    assert r.status_code == 200, r.text
    return r.json()
