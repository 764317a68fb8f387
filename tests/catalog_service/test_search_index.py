"""The search index off the write path (domain/indexer.py, search_index.py), through the API on both databases:
ranking on a small judged set, visibility never eventual while the index lags, exact counts past the old cap,
reconciliation finding a dropped and a stale entry, a rebuild that keeps answering."""

import asyncio
import dataclasses
import fcntl
import json
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest
import tantivy
from sqlalchemy import select, update

from catalog_service import app as catalog_app
from catalog_service.app import create_app
from catalog_service.config import Settings
from catalog_service.domain import indexer, search_index
from catalog_service.domain import search as search_domain
from catalog_service.domain.events import emit_document_event
from catalog_service.domain.indexer import CURRENT_FILE, LOCK_FILE
from catalog_service.domain.projection import refresh_projection
from catalog_service.domain.search_index import POSITION_FILE, IndexEntry, SearchIndex
from catalog_service.models import Document, Organ
from catalog_service.textfold import fold_query
from services.db import Database, make_engine
from tests.catalog_service.helpers import (
    API,
    SearchFixture,
    Staff,
    act,
    make_organ,
    new_code,
    publish,
    seed_search_fixture,
)
from tests.catalog_service.test_sync import REVIEW, bulk, integration, record
from tests.harness import drop_database, new_database
from tests.support import auth, serve

URL = f"{API}/documents"
ADMIN = auth("admin")


@pytest.fixture
async def fx(catalog_db) -> SearchFixture:
    return await seed_search_fixture(catalog_db)


@pytest.fixture
async def lagging(catalog_db):
    """The catalogue with search never catching up by itself (no background indexer in tests, no catch-up on
    read): the index lags until an operator's catch-up — the window in which visibility must still hold."""
    async with serve(create_app(Settings(search_catch_up_on_read=0), database=catalog_db)) as client:
        yield client


async def search(client, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    r = await client.get(URL, params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


async def catch_up(client) -> dict[str, Any]:
    r = await client.post(f"{API}/search/index/catch-up", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


def ids(body: dict[str, Any]) -> list[str]:
    return [i["id"] for i in body["items"]]


class TestRanking:
    # A small judged set over the 18 seed documents: the query as people type it → the meant record's title start.
    JUDGED = [
        ("阿勒泰地区政务公开实施方案", "阿勒泰地区行政公署办公室关于印发《地区全面推进政务公开重点工作实施方案》"),
        ("大庆市政务公开通知", "大庆市人民政府办公室关于"),
        ("穗府办(2011)8号", "印发广州市2011年全面推进政务公开工作要点的通知"),
        ("黄埔区信息公开年度报告", "2012年廣州市黃埔區人民政府信息公開年度報告"),
    ]

    @pytest.mark.parametrize("query,title", JUDGED)
    async def test_the_meant_record_ranks_first(self, catalog, fx, query, title):
        body = await search(catalog, q=query)
        assert body["items"] and body["items"][0]["title"].startswith(title), [i["title"] for i in body["items"]]

    async def test_title_matches_outrank_body_matches_and_ties_prefer_in_force(self, catalog, fx):
        ranked = (await search(catalog, q="广州", limit=50))["items"]
        in_title = ["广州" in i["title"] or "廣州" in i["title"] for i in ranked]
        assert in_title == sorted(in_title, reverse=True) and any(in_title) and not all(in_title)

    @pytest.mark.parametrize("char", ["州", "年"])
    async def test_a_lone_character_ranks_title_matches_first(self, catalog, fx, char):
        # Its title boost matches the title's characters (search_index.TITLE_CHAR_FIELD), as the search matches the
        # text's: a record with the character anywhere in its title — 广州, 杭州 — before those with it in the body.
        ranked = (await search(catalog, q=char, limit=50))["items"]
        assert len(ranked) == fx.expected(char)
        in_title = [char in fold_query(i["title"]) for i in ranked]
        assert in_title == sorted(in_title, reverse=True) and any(in_title) and not all(in_title)

    async def test_an_all_words_match_is_not_relaxed_and_a_partial_one_says_so(self, catalog, fx):
        assert (await search(catalog, q="政务公开"))["understood"]["relaxed"] is False
        body = await search(catalog, q="政务公开 火星基地")
        assert body["understood"]["relaxed"] is True and body["total"] > 0


class TestVisibilityIsNeverEventual:
    async def test_withdrawn_classified_and_redacted_records_leave_search_before_the_index_catches_up(
            self, lagging, fx):
        client = lagging
        organ = await make_organ(client, "检索撤销测试局")
        staff = Staff(organ)
        word = "青鸾测试词"
        doc_ids = [await publish(client, staff, title=f"{word}文件{n}", body=f"正文含{word}和联系人王小明。")
                   for n in range(3)]
        await catch_up(client)
        body = await search(client, q=word)
        assert sorted(ids(body)) == sorted(doc_ids) and body["total"] == 3

        # Withdraw one (撤回), classify another (定密), and leave the index behind.
        r = await client.get(f"{URL}/{doc_ids[0]}/record", headers=staff.unit_head)
        await act(client, staff.unit_head, doc_ids[0], "withdraw", r.headers["etag"], {"comment": "内容有误"})
        r = await client.get(f"{URL}/{doc_ids[1]}/record", headers=staff.secrecy_officer)
        await act(client, staff.secrecy_officer, doc_ids[1], "classify", r.headers["etag"],
                  {"classification_level": "secret", "secrecy_period_years": 10,
                   "classification_responsible": "王主任"})
        status = (await client.get(f"{API}/search/index", headers=ADMIN)).json()
        assert status["lag_events"] > 0  # the index has not seen the changes

        body = await search(client, q=word)
        assert ids(body) == [doc_ids[2]] and body["total"] == 1
        assert sum(f["count"] for f in body["facets"]["organ"]) == 1
        assert (await search(client, q="王小明"))["total"] == 1  # only the untouched record
        feed = await client.get(f"{API}/feeds/atom.xml", params={"q": word})
        assert doc_ids[0] not in feed.text and doc_ids[1] not in feed.text and doc_ids[2] in feed.text
        await catch_up(client)
        assert ids(await search(client, q=word)) == [doc_ids[2]]
        assert ids(await search(client, q="王小明")) == [doc_ids[2]]

    async def test_a_redacted_word_is_not_found_while_the_index_lags(self, lagging, fx, catalog_db):
        # The redaction fixture's 蓝鲸丁 is withheld; a new redaction on a published record (through the ORM, as
        # any write path) hides its text from search in the same transaction.
        client = lagging
        await catch_up(client)
        target = fx.public[4]
        word = target["title"][:6]
        assert target["id"] in ids(await search(client, q=word, limit=100))
        async with catalog_db.transaction() as session:
            doc = await session.get(Document, target["id"])
            doc.public_title = "［已删除：涉及第三方合法权益］"
        assert target["id"] not in ids(await search(client, q=word, limit=100))

    async def test_classification_removes_a_record_in_the_same_transaction(self, lagging, fx, catalog_db):
        client = lagging
        await catch_up(client)
        target = fx.public[3]
        assert target["id"] in ids(await search(client, q=target["title"][:8], limit=100))
        async with catalog_db.transaction() as session:  # 定密 after publication, as the secrecy review would
            doc = await session.get(Document, target["id"])
            doc.classified = True
        body = await search(client, q=target["title"][:8], limit=100)
        assert target["id"] not in ids(body)
        assert body["total"] == len(ids(body))


async def _seed_counted(catalog_db, n: int) -> str:
    """`n` published records of one new organ, all matching 计数测试, genres alternating; returns the organ code."""
    async with catalog_db.transaction() as session:
        code = new_code()
        organ = Organ(code=code, name="计数测试局", kind="department", path="/")
        session.add(organ)
        await session.flush()
        organ.path = f"/{organ.id}/"
        docs = []
        for k in range(n):
            doc = Document(organ_id=organ.id, title=f"计数测试通知第{k}号", body="计数测试正文。",
                           status="published", attribute="proactive", validity="in_force",
                           genre="notice" if k % 2 else "report", subject_category="general_affairs",
                           article20_item="1", keywords=[], key_areas=[], index_no=f"CNT/2024-{k:05d}",
                           published_at=datetime(2024, 1 + k % 12, 1, 2, tzinfo=UTC))
            refresh_projection(doc, [])
            docs.append(doc)
        session.add_all(docs)
        await session.flush()
        for doc in docs:
            emit_document_event(session, doc, organ, "document.published")
    return code


class TestCounts:
    async def test_totals_and_facets_are_exact_past_a_thousand_matches(self, catalog, catalog_db):
        code = await _seed_counted(catalog_db, 1_105)
        await catch_up(catalog)
        body = await search(catalog, q="计数测试", organ=code, limit=5)
        assert (body["total"], body["total_is_estimate"]) == (1_105, False)
        assert body["facets_estimated_from"] is None  # under the cap (10,000): exact
        genres = {f["value"]: f["count"] for f in body["facets"]["genre"]}
        assert genres == {"notice": 552, "report": 553}
        assert sum(f["count"] for f in body["facets"]["year"]) == 1_105

    async def test_past_the_facet_cap_facets_are_estimated_from_a_named_sample(self, catalog_db):
        """分面估算: past the cap the total stays exact and the facets come from a uniform sample the response
        names (never from an unnamed window). The cap is lowered here to reach it cheaply (10,000 in service)."""
        code = await _seed_counted(catalog_db, 1_105)
        async with serve(create_app(Settings(search_facet_cap=200), database=catalog_db)) as client:
            await catch_up(client)
            body = await search(client, q="计数测试", organ=code, limit=5)
            assert (body["total"], body["total_is_estimate"]) == (1_105, False)
            # the sample level holding 200 to 400 matches: buckets below 1024 / 2^L, with 2^L ≤ 1,105 / 200 < 2^(L+1)
            buckets = 1024 >> 2
            assert body["facets_estimated_from"] == {"cap": 200, "buckets": buckets, "share": round(buckets / 1024, 6),
                                                     "method": "uniform_hash_sample"}
            genres = {f["value"]: f["count"] for f in body["facets"]["genre"]}
            assert set(genres) == {"notice", "report"}
            # ~276 sampled of 1,105, scaled by 1024/buckets: within 35 % (over 4 standard deviations) of the truth
            for value, truth in (("notice", 552), ("report", 553)):
                assert abs(genres[value] - truth) < 0.35 * truth, genres
            # the same query under the cap is exact again (a filter that leaves 200 or fewer matches)
            small = await search(client, q="计数测试通知第1", organ=code, limit=5)
            assert small["total"] <= 200 and small["facets_estimated_from"] is None


class TestReconciliation:
    async def test_finds_a_dropped_and_a_stale_entry_and_a_rebuild_repairs_them(self, catalog, fx, catalog_db):
        await catch_up(catalog)
        report = (await catalog.get(f"{API}/search/index/reconciliation", headers=ADMIN)).json()
        assert report["consistent"] is True, report
        # A write that bypassed the change events (an entry never indexed) and one whose text changed behind the
        # index's back (a stale entry): what a lost event or a bug would leave.
        async with catalog_db.transaction() as session:
            organ_id = (await session.execute(select(Organ.id).where(Organ.code == fx.parent))).scalar_one()
            lost = Document(organ_id=organ_id, title="漏索引的文件", body="正文", status="published",
                            attribute="proactive", validity="in_force", subject_category="general_affairs",
                            article20_item="1", keywords=[], key_areas=[], index_no=f"{fx.parent}/2024-77777",
                            published_at=datetime(2024, 2, 1, tzinfo=UTC))
            refresh_projection(lost, [])
            session.add(lost)
            await session.execute(update(Document).where(Document.id == fx.public[2]["id"])
                                  .values(version=Document.version + 1))
        report = (await catalog.get(f"{API}/search/index/reconciliation", headers=ADMIN)).json()
        assert report["consistent"] is False
        assert report["missing"] == [lost.id] and report["stale"] == [fx.public[2]["id"]] and report["extra"] == []
        parent = next(o for o in report["organs"] if o["organ_code"] == fx.parent)
        assert parent["records"] == parent["entries"] + 1 and not parent["consistent"]
        # On the test's one connection the rebuild runs within the call; running beside searches is
        # test_a_rebuild_keeps_answering_until_it_swaps's business.
        r = await catalog.post(f"{API}/search/index/rebuild", headers=ADMIN)
        assert r.status_code == 202 and r.json()["rebuild"]["state"] == "done", r.text
        report = (await catalog.get(f"{API}/search/index/reconciliation", headers=ADMIN)).json()
        assert report["consistent"] is True, report
        assert ids(await search(catalog, q="漏索引的文件")) == [lost.id]

    async def test_operations_are_for_admins_only(self, catalog):
        for method, path in (("GET", "search/index"), ("POST", "search/index/catch-up"),
                             ("GET", "search/index/reconciliation"), ("POST", "search/index/rebuild")):
            r = await catalog.request(method, f"{API}/{path}", headers=auth("drafter"))
            assert r.status_code == 403, (path, r.text)
            r = await catalog.request(method, f"{API}/{path}")
            assert r.status_code == 401, (path, r.text)


async def test_a_rebuild_keeps_answering_until_it_swaps(tmp_path):
    """A real catalogue (its own database, background indexer running, the index in a directory): searches during a
    rebuild answer from the old index, all results every time; afterwards the new generation is in use."""
    url = await asyncio.to_thread(new_database, "catalog", tmp_path)
    try:
        settings = Settings(database_url=url, search_index_dir=str(tmp_path / "index"), scheduler_interval_seconds=0,
                            calendar_feed_enabled=False, search_catch_up_on_read=0)
        async with serve(create_app(settings)) as client:
            database = Database(make_engine(url, null_pool=True))
            try:
                async with database.transaction() as session:
                    organ = Organ(code=new_code(), name="重建测试局", kind="department", path="/")
                    session.add(organ)
                    await session.flush()
                    organ.path = f"/{organ.id}/"
                    docs = [Document(organ_id=organ.id, title=f"重建测试文件{n}", body="重建测试正文" * 50,
                                     status="published", attribute="proactive", validity="in_force",
                                     subject_category="general_affairs", article20_item="1", keywords=[],
                                     key_areas=[], index_no=f"RB/2024-{n:05d}",
                                     published_at=datetime(2024, 3, 1, tzinfo=UTC)) for n in range(400)]
                    for doc in docs:
                        refresh_projection(doc, [])
                    session.add_all(docs)
                    await session.flush()
                    for doc in docs:
                        emit_document_event(session, doc, organ, "document.published")
            finally:
                await database.dispose()
            for _ in range(200):  # the background indexer picks the records up (freshness)
                if (await search(client, q="重建测试"))["total"] == 400:
                    break
                await asyncio.sleep(0.05)
            before = (await client.get(f"{API}/search/index", headers=ADMIN)).json()
            assert before["entries"] == 400 and before["location"].endswith(before["location"].split("/")[-1])
            r = await client.post(f"{API}/search/index/rebuild", headers=ADMIN)
            assert r.status_code == 202 and r.json()["rebuild"]["state"] == "running"
            answers = []
            while True:
                answers.append((await search(client, q="重建测试"))["total"])
                status = (await client.get(f"{API}/search/index", headers=ADMIN)).json()
                if status["rebuild"]["state"] != "running":
                    break
                await asyncio.sleep(0.01)
            assert status["rebuild"]["state"] == "done" and set(answers) == {400}, (status, answers)
            assert status["location"] != before["location"] and status["entries"] == 400, (before, status)
            assert (await search(client, q="重建测试"))["total"] == 400
    finally:
        await asyncio.to_thread(drop_database, url)


async def test_index_lag_is_in_readyz_and_metrics(lagging, fx):
    await catch_up(lagging)
    ready = (await lagging.get("/readyz")).json()["checks"]["search_index"]
    assert ready["ok"] is True and ready["lag_events"] == 0
    staff = Staff(await make_organ(lagging, "指标测试局"))
    await publish(lagging, staff, title="指标测试文件", body="正文")
    ready = (await lagging.get("/readyz")).json()["checks"]["search_index"]
    assert ready["lag_events"] > 0 and ready["lag_seconds"] >= 0
    metrics = (await lagging.get("/metrics")).text
    lag = next(line for line in metrics.splitlines() if line.startswith("gongkai_catalog_search_index_lag_events "))
    assert float(lag.split()[1]) == ready["lag_events"]


async def _until(predicate, seconds: float = 20.0) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_web_processes_share_one_index_written_by_one_indexer_process(tmp_path):
    """uvicorn --workers N runs N web processes with one CATALOG_SEARCH_INDEX_DIR: one indexer process writes the
    index (each web process starts one; all but the first wait as standbys) and every web process reads it, so a
    change is indexed once per host. When the writing indexer process dies, a standby takes over."""
    url = await asyncio.to_thread(new_database, "catalog", tmp_path)
    index_dir = tmp_path / "index"
    try:
        settings = Settings(database_url=url, search_index_dir=str(index_dir), scheduler_interval_seconds=0,
                            calendar_feed_enabled=False, webhooks_enabled=False)
        async with serve(create_app(settings)) as a, serve(create_app(settings)) as b:
            assert await _until(lambda: _ready(a)), "the indexer process never built the index"
            staff = Staff(await make_organ(a, "共享索引局"))
            await publish(a, staff, title="共享索引测试文件", body="正文")
            for client in (a, b):  # the writer's process and the other one: the same index
                # staff read their own writes (the search waits for the indexer process)…
                assert (await search(client, headers=staff.drafter, q="共享索引测试"))["total"] == 1

            async def public_sees_it() -> bool:  # …the public is answered from the index as it stands
                return all([(await search(c, q="共享索引测试"))["total"] == 1 for c in (a, b)])

            assert await _until(public_sees_it)
            locations = {(await c.get(f"{API}/search/index", headers=ADMIN)).json()["location"] for c in (a, b)}
            assert len(locations) == 1, locations

            writer = int((index_dir / "indexer.lock").read_text())
            os.kill(writer, signal.SIGKILL)
            await publish(a, staff, title="接管测试文件", body="正文")

            async def taken_over() -> bool:  # the new record itself (not a relaxed match on 测试)
                return [i["title"] for i in (await search(b, q="接管测试"))["items"]] == ["接管测试文件"]

            assert await _until(taken_over), "no standby indexer process took over"
            assert int((index_dir / "indexer.lock").read_text()) != writer
    finally:
        await asyncio.to_thread(drop_database, url)


async def _ready(client) -> bool:
    status = (await client.get(f"{API}/search/index", headers=ADMIN)).json()
    return status["location"] != "none" and status["lag_events"] == 0


async def test_a_generation_of_another_schema_is_not_served_but_rebuilt(tmp_path):
    """After an upgrade that changes the index's schema, the generation in CURRENT is one the new code cannot
    query. The web processes must not serve it (a search failed with a 500 on a missing field): until the indexer
    process has built a new generation they answer as before the first build — /readyz "not built", no matches —
    then find what the table holds."""
    url = await asyncio.to_thread(new_database, "catalog", tmp_path)
    index_dir = tmp_path / "index"
    old = index_dir / "gen-old-schema"
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", tokenizer_name="whitespace")
    old.mkdir(parents=True)
    legacy = tantivy.Index(builder.build(), path=str(old))
    legacy.writer().commit()
    (old / POSITION_FILE).write_text(json.dumps({"position": 0}))
    (index_dir / CURRENT_FILE).write_text(old.name)
    lock = _hold(index_dir / LOCK_FILE)  # the writer is held back: only the old generation is there
    try:
        settings = Settings(database_url=url, search_index_dir=str(index_dir), scheduler_interval_seconds=0,
                            calendar_feed_enabled=False, webhooks_enabled=False)
        async with serve(create_app(settings)) as client:
            staff = Staff(await make_organ(client, "索引升级局"))
            await publish(client, staff, title="索引升级测试文件", body="正文")
            for _ in range(3):
                r = await client.get(URL, params={"q": "索引升级测试"})
                assert (r.status_code, r.json()["total"]) == (200, 0), r.text
                await asyncio.sleep(0.3)
            assert (await client.get("/readyz")).status_code == 503
            fcntl.flock(lock, fcntl.LOCK_UN)  # the indexer process takes the lock and builds anew

            async def found() -> bool:
                r = await client.get(URL, params={"q": "索引升级测试"})
                return r.status_code == 200 and r.json()["total"] == 1

            assert await _until(found), "the index was never rebuilt"
            assert (index_dir / CURRENT_FILE).read_text().strip() != old.name
    finally:
        lock.close()
        await asyncio.to_thread(drop_database, url)


def _hold(lock_file: Path) -> Any:
    """Take an indexer directory's lock as the indexer process would (so it waits as a standby)."""
    handle = lock_file.open("a+")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def test_an_entry_applied_again_unchanged_is_not_analysed_again(monkeypatch):
    """A record's created and published events can fall into two catch-up rounds (a bulk import writes them in one
    transaction, a round reads at most BATCH_EVENTS): the second round reads the same row again. Its entry is then
    identical to the one just written and is not analysed and written a second time — a third of the indexer's
    work when it catches up on an import. A changed entry is replaced as always."""
    analysed: list[str] = []
    document = IndexEntry.document

    def counting(entry: IndexEntry, analysis: Any = None) -> tantivy.Document:
        analysed.append(entry.id)
        return document(entry, analysis)

    monkeypatch.setattr(IndexEntry, "document", counting)
    now = datetime(2026, 3, 2, tzinfo=UTC)
    entry = IndexEntry(id="d1", organ_id="o1", status="published", classified=False, version=1, mark=0,
                       title="关于推进政务公开的通知", doc_number=None, doc_number_key=None, index_no=None, keywords=[],
                       summary=None, body="正文", genre="notice", subject_category=None, validity="in_force",
                       attribute="proactive", key_areas=[], written_date=None, published_at=now, created_at=now)
    index = SearchIndex(None)

    def found(word: str) -> int:
        query = tantivy.Query.term_query(index.index.schema, "text", word)
        return index.searcher().search(query, 10).count

    index.apply([entry], [], 1)
    index.apply([entry], [], 2)
    assert analysed == ["d1"] and index.position == 2 and index.searcher().num_docs == 1 and found("政务") == 1
    changed = dataclasses.replace(entry, title="关于推进厂务公开的通知", version=2)
    index.apply([changed], [], 3)
    assert analysed == ["d1", "d1"] and index.searcher().num_docs == 1 and (found("政务"), found("厂务")) == (0, 1)
    index.apply([], ["d1"], 4)  # removed (withdrawn, say), then published again as it was: written again
    index.apply([changed], [], 5)
    assert analysed == ["d1", "d1", "d1"] and found("厂务") == 1


class TestBulkBackPressure:
    """批量导入 back-pressure (Settings.bulk_max_index_lag_seconds): a batch is written only once no change has waited
    for the search index longer than that, so an import cannot run ahead of search freshness."""

    @staticmethod
    async def _lag(client) -> int:
        return (await client.get(f"{API}/search/index", headers=ADMIN)).json()["lag_events"]

    @pytest.mark.parametrize("max_lag", [0.05, 0])
    async def test_a_batch_waits_for_the_index_to_come_within_the_lag(self, catalog_db, max_lag):
        settings = Settings(search_catch_up_on_read=0, bulk_max_index_lag_seconds=max_lag)
        async with serve(create_app(settings, database=catalog_db)) as client:  # no background indexer here
            organ = await make_organ(client, "背压测试局")
            await catch_up(client)
            first = [record(n, title=f"背压测试第一批文件{n}", review=REVIEW) for n in range(20)]
            assert (await bulk(client, integration(organ), first)).json()["summary"]["published"] == 20
            behind = await self._lag(client)
            assert behind >= 40  # created and published, per record
            await asyncio.sleep(0.1)  # …and now older than the lag allowed
            second = [record(n, title=f"背压测试第二批文件{n}", review=REVIEW) for n in range(20, 22)]
            await bulk(client, integration(organ), second)
            after = await self._lag(client)
            if max_lag:  # the index caught up before the batch was written: only the batch's own 4 events pending
                assert after == 4, (behind, after)
                status = (await client.get(f"{API}/search/index", headers=ADMIN)).json()
                assert status["entries"] >= 20
            else:  # 0 turns back-pressure off: the import ran ahead
                assert after == behind + 4

    async def test_a_stalled_indexer_does_not_hold_the_import(self, catalog_db, tmp_path, monkeypatch, caplog):
        """An indexer that makes no progress (here: none runs for the index directory) is not waited for beyond
        STALLED_SECONDS — the catalogue keeps accepting records; search catches up when the indexer is back."""
        monkeypatch.setattr(indexer, "STALLED_SECONDS", 0.3)
        generation = SearchIndex(tmp_path / "index" / "g1")  # an index at position 1, whose writer is gone
        generation.apply([], [], 1)
        del generation
        (tmp_path / "index" / CURRENT_FILE).write_text("g1")
        settings = Settings(search_index_dir=str(tmp_path / "index"), bulk_max_index_lag_seconds=0.01,
                            bulk_index_wait_seconds=120)
        async with serve(create_app(settings, database=catalog_db)) as client:
            organ = await make_organ(client, "停滞测试局")
            started = asyncio.get_running_loop().time()
            for batch in range(2):  # the second finds the first's events pending, and the index not moving
                body = (await bulk(client, integration(organ), [record(f"{batch}-{n}", review=REVIEW)
                                                                 for n in range(3)])).json()
                assert body["summary"]["created"] == 3
            assert asyncio.get_running_loop().time() - started < 60  # not the 120 s the wait allows
            assert (await client.get(f"{API}/search/index", headers=ADMIN)).json()["position"] == 1
        assert "indexer not progressing" in caplog.text  # it did wait, and gave up on the stalled indexer


def test_an_analysis_pool_builds_the_same_entries(monkeypatch):
    """SearchEngine.analysis_processes: records folded and cut in other processes make the same index as in place."""
    now = datetime(2026, 3, 2, tzinfo=UTC)
    entries = [IndexEntry(id=f"d{n}", organ_id="o1", status="published", classified=False, version=1, mark=0,
                          title=f"關於做好第{n}批政務公開工作的通知", doc_number=f"穗府办〔2026〕{n}号",
                          doc_number_key=None, index_no=None, keywords=["政务公开"], summary="对政务公开工作作出部署。",
                          body="各区、各部门：现将有关事项通知如下。税" * (n % 7 + 1), genre="notice",
                          subject_category=None, validity="in_force", attribute="proactive", key_areas=[],
                          written_date=None, published_at=now, created_at=now) for n in range(12)]
    monkeypatch.setattr(search_index, "ANALYSIS_POOL_MIN", 4)
    in_place, pooled = SearchIndex(None), SearchIndex(None)
    in_place.apply(entries, [], 1)
    mapped: list[int] = []
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:

        class Counting:  # the pool, and a record that it was asked
            def map(self, fn, items, **kwargs):
                mapped.append(len(items))
                return pool.map(fn, items, **kwargs)

        pooled.apply(entries, [], 1, analysers=Counting())
    assert mapped == [12]
    for word, field in (("政务", "text"), ("公开", "title"), ("2026", "text"), ("税", "chars"), ("部署", "text")):
        query = tantivy.Query.term_query(in_place.index.schema, field, word)
        ranked = [[(round(score, 6), index.searcher().doc(address)["id"][0])
                   for score, address in index.searcher().search(query, 20).hits] for index in (in_place, pooled)]
        assert ranked[0] == ranked[1] and ranked[0], word


async def test_a_catalogue_with_analysis_processes_finds_the_same(catalog_db, fx, monkeypatch):
    """Settings.search_index_processes > 1: the catalogue's indexer hands the analysis to its pool, and search
    answers as with the analysis in place (the judged queries rank the meant record first)."""
    monkeypatch.setattr(search_index, "ANALYSIS_POOL_MIN", 1)
    pooled: list[int] = []
    apply = SearchIndex.apply

    def recording(self, entries, removed, position, *, analysers=None):
        if analysers is not None:
            pooled.append(len(entries))
        return apply(self, entries, removed, position, analysers=analysers)

    monkeypatch.setattr(SearchIndex, "apply", recording)
    async with serve(create_app(Settings(search_index_processes=2), database=catalog_db)) as client:
        await catch_up(client)
        assert sum(pooled) >= len(fx.public)
        for query, title in TestRanking.JUDGED:
            body = await search(client, q=query)
            assert body["items"] and body["items"][0]["title"].startswith(title), query


async def test_searches_run_on_the_search_pool_threads(catalog_db, fx, monkeypatch):
    """CATALOG_SEARCH_THREADS: the engine's part of every search — the list and its Atom feed — runs on the search
    pool's threads (检索线程池), so searches beyond them queue instead of sharing the cores; with one thread every
    search still answers what it answers on the default pool."""
    threads: list[str] = []
    matches = search_domain._engine_matches

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return matches(*args, **kwargs)

    queries = [query for query, _ in TestRanking.JUDGED]
    async with serve(create_app(database=catalog_db)) as client:
        expected = [ids(await search(client, q=q)) for q in queries]
    monkeypatch.setattr(search_domain, "_engine_matches", recording)
    async with serve(create_app(Settings(search_threads=1), database=catalog_db)) as client:
        assert [ids(await search(client, q=q)) for q in queries] == expected and all(expected)
        feed = await client.get(f"{API}/feeds/atom.xml", params={"q": queries[0]})
        assert feed.status_code == 200, feed.text
    assert len(threads) == len(queries) + 1 and set(threads) == {"search_0"}


def test_the_search_pool_defaults_to_the_cores_the_process_may_run_on(monkeypatch):
    """A container pinned to one core of a larger host gets one search thread, not one per host core."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert catalog_app.usable_cores() == 1
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert catalog_app.usable_cores() == 64
