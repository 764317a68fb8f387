"""A steady stream of writes through the gateway that feeds the statistics (applications registered and answered,
documents published by bulk import), written as a well-behaved system client does it under faults: creates carry
an Idempotency-Key and are sent again until answered; a transition whose answer was lost is read back before it is
tried again (a retry with the old If-Match would be a 412). And the checks that follow: wait until a statistics
service has applied everything the producers have, and compare two statistics databases."""

import asyncio
import itertools
import random
import uuid
from collections import Counter
from datetime import date
from typing import Any

import httpx
from sqlalchemy import func, select

from catalog_service.models import outbox as catalog_outbox
from request_service.models import outbox as request_outbox
from stats_service.models import (
    AppealFact,
    ApplicationFact,
    ConsultationFact,
    DocumentFact,
    OrganFact,
    ReportCounter,
)
from stats_service.models import outbox as stats_outbox
from tests.faults.support import CATALOG, REQUESTS, REVIEW, STATS, poll, query
from tests.request_service.intake_support import application_body
from tests.support import assert_problem, auth

# Answers that mean "not now, try again": the gateway cannot reach the service (502), it is down or its database
# is (503), or the answer took too long (504).
TRANSIENT = frozenset({502, 503, 504})
FACTS = (ApplicationFact, AppealFact, ConsultationFact, DocumentFact, OrganFact, ReportCounter)


class Workload:
    """Writers for the organs in `organs`; `run(stop)` writes until `stop` is set. `deadline` bounds how long one
    write may keep failing: the system must recover by itself within it, or the test fails."""

    def __init__(self, client: httpx.AsyncClient, organs: list[str], *, seed: int = 0, deadline: float = 60.0,
                 bulk_every: int = 4) -> None:
        self.client = client
        self.organs = organs
        self.random = random.Random(seed)
        self.deadline = deadline
        self.bulk_every = bulk_every
        self.counts: Counter[str] = Counter()  # what was written, and the transient failures seen
        self.problems: list[httpx.Response] = []  # every transient failure answer, for the problem+json check
        self._serial = itertools.count(1)

    def staff(self, organ: str) -> dict[str, dict[str, str]]:
        return {"clerk": auth("intake_clerk", organ=organ, sub=f"clerk@{organ}", name="受理员"),
                "handler": auth("handler", organ=organ, sub=f"handler@{organ}", name="承办人"),
                "approver": auth("reply_approver", organ=organ, sub=f"approver@{organ}", name="签发人"),
                "system": auth("integration", organ=organ, sub=f"oa@{organ}", name="公文系统")}

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        """One attempt: the answer, or None when the connection failed or the answer was transient."""
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            self.counts[f"transport:{type(exc).__name__}"] += 1
            return None
        if response.status_code in TRANSIENT:
            self.counts[f"status:{response.status_code}"] += 1
            self.problems.append(response)
            return None
        return response

    async def until_answered(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.deadline
        while True:
            response = await self.send(method, url, **kwargs)
            if response is not None:
                return response
            if loop.time() > give_up:
                raise AssertionError(f"{method} {url}: no answer for {self.deadline:.0f} s — the system did not "
                                     "recover by itself")
            await asyncio.sleep(self.random.uniform(0.02, 0.1))

    async def register(self, organ: str) -> str:
        staff = self.staff(organ)
        body = application_body(channel="in_person", info_title=f"申请公开第{next(self._serial)}号文件")
        headers = {**staff["clerk"], "Idempotency-Key": str(uuid.uuid4())}
        r = await self.until_answered("POST", f"{REQUESTS}/applications/register", headers=headers, json=body)
        assert r.status_code == 201, r.text
        self.counts["registered"] += 1
        return r.json()["id"]

    async def advance(self, app_id: str, action: str, body: dict[str, Any], headers: dict[str, str],
                      done: set[str]) -> None:
        """Apply a transition exactly once even if its answer is lost: read, act with If-Match, read again."""
        url = f"{REQUESTS}/applications/{app_id}"
        while True:
            current = await self.until_answered("GET", url, headers=headers)
            assert current.status_code == 200, current.text
            if current.json()["status"] in done:
                return
            r = await self.send("POST", f"{url}/{action.replace('_', '-')}", json=body,
                                headers={**headers, "If-Match": current.headers["etag"]})
            if r is not None and r.status_code == 200:
                return
            if r is not None and r.status_code != 412:  # 412: our own lost attempt was applied; read again
                raise AssertionError(f"{action}: {r.status_code} {r.text}")

    async def answer(self, organ: str, app_id: str) -> None:
        staff = self.staff(organ)
        if self.random.random() < 0.7:
            reply = {"outcome": "granted", "comment": "予以公开"}
        else:
            reply = {"outcome": "withheld.third_party_rights", "comment": "涉及第三方合法权益",
                     "articles": ["条例第十五条"]}
        await self.advance(app_id, "draft_reply", reply, staff["handler"], {"reply_drafted", "replied"})
        await self.advance(app_id, "approve_reply", {"comment": "同意"}, staff["approver"], {"replied"})
        self.counts["replied"] += 1

    async def bulk(self, organ: str) -> None:
        n = next(self._serial)
        records = [{"external_id": f"W-{n}-{k}", "title": f"关于第{n}-{k}号事项的通知", "genre": "notice",
                    "summary": "概述。", "body": "正文。", **({"review": REVIEW} if k < 2 else {})}
                   for k in range(3)]
        headers = {**self.staff(organ)["system"], "Idempotency-Key": str(uuid.uuid4())}
        r = await self.until_answered("POST", f"{CATALOG}/documents/bulk", headers=headers, json={"records": records})
        assert r.status_code == 200, r.text
        assert r.json()["summary"]["created"] == 3, r.text
        self.counts["documents"] += 3

    async def writer(self, stop: asyncio.Event, number: int) -> None:
        for i in itertools.count():
            if stop.is_set():
                return
            organ = self.organs[(number + i) % len(self.organs)]
            if i % self.bulk_every == self.bulk_every - 1:
                await self.bulk(organ)
                continue
            app_id = await self.register(organ)
            if self.random.random() < 0.5:
                await self.answer(organ, app_id)

    async def run(self, stop: asyncio.Event, *, writers: int = 3) -> None:
        await asyncio.gather(*(self.writer(stop, n) for n in range(writers)))

    async def wait_for_writes(self, n: int, *, within: float = 60.0) -> None:
        async def enough() -> bool:
            return self.counts["registered"] + self.counts["documents"] >= n

        await poll(enough, within=within, what=f"{n} writes")

    def assert_transient_answers_are_problems(self) -> None:
        for response in self.problems:
            assert_problem(response, response.status_code)


# --- the statistics side -----------------------------------------------------------------------------------------

async def heads(urls: dict[str, str]) -> dict[str, int]:
    """The newest event id of each producer, read from its database."""
    out = {}
    for name, table in (("catalog", catalog_outbox.events), ("request", request_outbox.events)):
        out[name] = (await query(urls[name], select(func.coalesce(func.max(table.c.id), 0))))[0][0]
    return out


async def cursors(stats_url: str) -> dict[str, int]:
    rows = await query(stats_url, select(stats_outbox.cursors.c.consumer, stats_outbox.cursors.c.position))
    return {name: int(position) for name, position in rows}


async def wait_caught_up(stats_url: str, urls: dict[str, str], *, within: float = 60.0) -> dict[str, int]:
    """Wait until the stats database's cursors stand at the producers' heads (read from the databases)."""
    target = await heads(urls)

    async def caught_up() -> bool:
        now = await cursors(stats_url)
        return all(now.get(name, 0) >= head for name, head in target.items())

    await poll(caught_up, within=within, interval=0.1, what=f"stats consumers to reach {target}")
    return target


async def stats_state(stats_url: str) -> dict[str, Any]:
    """Every fact row and every non-zero counter (a counter decremented to 0 may stay as a row), and the cursors."""
    out: dict[str, Any] = {}
    for model in FACTS:
        columns = [c for c in model.__table__.columns if c.key != "updated_at"]
        stmt = select(*columns)
        if model is ReportCounter:
            stmt = stmt.where(ReportCounter.count != 0)
        out[model.__tablename__] = sorted(tuple(str(v) for v in row) for row in await query(stats_url, stmt))
    out["cursors"] = await cursors(stats_url)
    return out


async def annual_reports(client: httpx.AsyncClient, organs: list[str], years: list[int]) -> dict[Any, Any]:
    """The live annual report of every organ and year, alone and with subordinates, minus its generation time."""
    out = {}
    for organ in organs:
        headers = auth("stats_officer", organ=organ, sub=f"stats@{organ}", name="统计员")
        for year in years:
            for sub in ("false", "true"):
                r = await client.get(f"{STATS}/annual-reports/{organ}/{year}", headers=headers,
                                     params={"include_subordinates": sub})
                assert r.status_code == 200, r.text
                body = r.json()
                body.pop("generated_at", None)
                out[(organ, year, sub)] = body
    return out


def report_years() -> list[int]:
    this = date.today().year
    return [this - 1, this, this + 1]  # Beijing's date may be a day ahead of the machine's


async def assert_stats_equal_a_clean_rebuild(system: Any, urls: dict[str, str], rebuild_url: str,
                                             organs: list[str], workload: Workload) -> None:
    """Nothing lost, nothing applied twice: the live statistics database equals a rebuild from cursor 0 (a second
    stats process on a fresh database), table by table and report by report; both equal the producers' own
    records; and every service's audit chain still verifies."""
    from catalog_service.models import Document
    from request_service.models import Application

    await wait_caught_up(urls["stats"], urls)
    rebuild = system.spawn("stats-rebuild", "stats", {"STATS_DATABASE_URL": rebuild_url,
                                                      "STATS_CONSUMER_BATCH_SIZE": "1000"})
    await asyncio.to_thread(rebuild.wait_ready)
    await wait_caught_up(rebuild_url, urls)
    assert await stats_state(urls["stats"]) == await stats_state(rebuild_url)
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as live, \
            httpx.AsyncClient(base_url=rebuild.url, timeout=30) as clean:
        assert await annual_reports(live, organs, report_years()) == await annual_reports(clean, organs,
                                                                                          report_years())

    apps = set(await query(urls["request"], select(Application.id, Application.version, Application.status)))
    facts = set(await query(urls["stats"], select(ApplicationFact.application_id, ApplicationFact.version,
                                                  ApplicationFact.status)))
    assert facts == apps and len(apps) == workload.counts["registered"]
    published = set(await query(urls["catalog"], select(Document.id).where(Document.status == "published")))
    public = set(await query(urls["stats"], select(DocumentFact.document_id).where(DocumentFact.public.is_(True))))
    assert public == published and len(published) == workload.counts["documents"] * 2 // 3

    auditor = auth("auditor", sub="fault-auditor")
    async with httpx.AsyncClient(timeout=30) as direct:
        for name in ("catalog", "request", "stats"):
            report = (await direct.get(f"{system.url(name)}/internal/v1/audit/verify", headers=auditor)).json()
            assert report["ok"], (name, report)
