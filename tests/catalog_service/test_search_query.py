"""检索式理解 (issue 12 item 1) through the API: Chinese without spaces cut into words, questions reduced to their
content words, 文号 in any bracket style found first, quoted phrases exact, synonyms of the admin-managed search
dictionary applied at query time, and `understood` saying how the query was read.

The documents are the 18 seed documents of tests/catalog_service/helpers.seed_search_fixture; the synonym entries
the tests use are written here (not taken from the demo seed), through the dictionary's own API.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from catalog_service.domain.events import emit_document_event
from catalog_service.domain.projection import refresh_projection
from catalog_service.models import Document, Organ
from tests.catalog_service.helpers import API, SearchFixture, make_organ, seed_search_fixture, with_etag
from tests.support import assert_problem, auth

URL = f"{API}/documents"
SYNONYMS = f"{API}/search/synonyms"
ADMIN = auth("admin", sub="admin-1")
AUDITOR = auth("auditor", sub="auditor-1")


@pytest.fixture
async def fx(catalog_db) -> SearchFixture:
    return await seed_search_fixture(catalog_db)


async def search(client, **params: Any) -> dict[str, Any]:
    r = await client.get(URL, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def titles(body: dict[str, Any]) -> list[str]:
    return [i["title"] for i in body["items"]]


async def add_synonym(client, words: list[str]) -> tuple[str, str]:
    r = await client.post(SYNONYMS, headers=ADMIN, json={"words": words})
    assert r.status_code == 201, r.text
    return r.json()["id"], r.headers["etag"]


class TestTheIssueQueries:
    async def test_no_space_chinese_finds_the_document(self, catalog, fx):
        body = await search(catalog, q="阿勒泰地区政务公开实施方案")
        assert body["understood"]["words"] == ["阿勒泰地区", "政务公开", "实施方案"]
        assert titles(body)[0].startswith("阿勒泰地区行政公署办公室关于印发《地区全面推进政务公开重点工作实施方案》")
        body = await search(catalog, q="大庆市政务公开通知")
        assert body["understood"]["words"] == ["大庆市", "政务公开", "通知"]
        assert titles(body)[0] == "大庆市人民政府办公室关于进一步推进全市2021年政务公开工作的通知"

    async def test_a_question_is_searched_by_its_content_words(self, catalog, fx):
        body = await search(catalog, q="依申请公开怎么申请")
        assert body["understood"]["dropped"] == ["怎么"]
        assert body["understood"]["words"] == ["依申请公开"]
        assert body["total"] == fx.expected("依申请公开") > 0

    @pytest.mark.parametrize("q", ["穗府办(2011)8号", "穗府办〔2011〕8号", "穗府办［2011］第8号", "穗府办[2011]8号",
                                   "穗府办【2011】8号", "穗府办（２０１１）８号", "穗府办〔2011〕第08号",
                                   "穗府辦(2011)8號"])
    async def test_every_doc_number_variant_finds_the_record_first(self, catalog, fx, q):
        body = await search(catalog, q=q)
        assert body["understood"]["doc_numbers"] == ["穗府办〔2011〕8号"], body["understood"]
        assert body["items"][0]["doc_number"] == "穗府办〔2011〕8号"

    async def test_a_doc_number_stored_with_other_brackets_is_found_by_its_canonical_form(self, catalog, catalog_db,
                                                                                             fx):
        async with catalog_db.transaction() as session:
            organ_id = (await session.execute(select(Organ.id).where(Organ.code == fx.parent))).scalar_one()
            doc = Document(organ_id=organ_id, title="关于做好测试工作的通知", status="published",
                           doc_number="测府办[2020]第5号", body="通知正文。", attribute="proactive",
                           subject_category="general_affairs", article20_item="1", validity="in_force",
                           keywords=[], key_areas=[], published_at=datetime(2020, 3, 1, 2, tzinfo=UTC),
                           index_no=f"{fx.parent}/2020-00999")
            refresh_projection(doc, [])
            session.add(doc)
            await session.flush()
            emit_document_event(session, doc, await session.get(Organ, organ_id), "document.published")
        for q in ("测府办〔2020〕5号", "测府办(2020)5号", "测府办[2020]第5号"):
            body = await search(catalog, q=q)
            assert [i["doc_number"] for i in body["items"]][:1] == ["测府办[2020]第5号"], q


class TestPhrasesAndIndexNumbers:
    async def test_a_quoted_phrase_matches_only_exactly(self, catalog, fx):
        # Unquoted, 通知政务 is two words found in many records; quoted it is one string no record contains.
        assert fx.expected("通知政务") == 0
        assert (await search(catalog, q="通知政务"))["total"] == fx.expected("通知", "政务") > 0
        for q in ('"通知政务"', "“通知政务”", "「通知政务」"):
            body = await search(catalog, q=q)
            assert body["total"] == 0 and body["understood"]["phrases"] == ["通知政务"], q
        body = await search(catalog, q="“全面推进政务公开工作要点”")
        assert body["total"] == fx.expected("全面推进政务公开工作要点") == 1

    async def test_an_index_number_is_recognised_and_comes_first(self, catalog, fx):
        target = fx.public[7]
        full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in target["index_no"].lower())
        body = await search(catalog, q=full_width)
        assert body["understood"]["index_nos"] == [target["index_no"]]
        assert body["items"][0]["id"] == target["id"]

    async def test_short_queries_are_kept_as_typed(self, catalog, fx):
        body = await search(catalog, q="预算")
        assert body["understood"]["words"] == ["预算"] and body["total"] == fx.expected("预算")


class TestSynonyms:
    async def test_an_edit_takes_effect_at_the_next_search_without_reindexing(self, catalog, fx):
        # No record speaks of 黄埔区 and 年报; the 2012 黄埔 report says 年度报告 (in Traditional script).
        assert fx.expected("黄埔区", "年报") == 0 and fx.expected("黄埔区", "年度报告") == 1
        # Without the entry no record has both words: the search is relaxed (some of the words), and says so.
        before = await search(catalog, q="黄埔区年报")
        assert before["understood"]["relaxed"] is True and before["understood"]["synonyms_used"] == {}
        synonym_id, etag = await add_synonym(catalog, ["年度报告", "年报"])
        after = await search(catalog, q="黄埔区年报")
        assert after["understood"]["synonyms_used"] == {"年报": ["年度报告"]}
        assert after["understood"]["relaxed"] is False
        assert titles(after) == ["2012年廣州市黃埔區人民政府信息公開年度報告"]
        r = await catalog.patch(f"{SYNONYMS}/{synonym_id}", headers=with_etag(ADMIN, etag),
                                json={"words": ["年度报告", "年度总结"]})
        assert r.status_code == 200, r.text
        assert (await search(catalog, q="黄埔区年报"))["total"] == 0
        assert titles(await search(catalog, q="黄埔区年度总结")) == ["2012年廣州市黃埔區人民政府信息公開年度報告"]
        r = await catalog.delete(f"{SYNONYMS}/{synonym_id}", headers=with_etag(ADMIN, r.headers["etag"]))
        assert r.status_code == 204, r.text
        assert (await search(catalog, q="黄埔区年度总结"))["understood"]["relaxed"] is True

    async def test_a_word_containing_a_form_is_expanded_in_place(self, catalog, fx):
        await add_synonym(catalog, ["住房和城乡建设", "住建"])
        understood = (await search(catalog, q="住建局通知"))["understood"]
        assert understood["words"] == ["住建局", "通知"]
        assert understood["synonyms_used"] == {"住建局": ["住房和城乡建设局"]}

    async def test_organ_names_are_words_of_the_dictionary(self, catalog, fx):
        assert "蓝湖县数据管理局" not in (await search(catalog, q="蓝湖县数据管理局预算"))["understood"]["words"]
        await make_organ(catalog, "蓝湖县数据管理局")  # a new dictionary version: the next search re-reads it
        understood = (await search(catalog, q="蓝湖县数据管理局预算"))["understood"]
        assert understood["words"] == ["蓝湖县数据管理局", "预算"]


class TestSynonymApi:
    async def test_admins_only(self, catalog):
        assert_problem(await catalog.get(SYNONYMS), 401)
        assert_problem(await catalog.post(SYNONYMS, json={"words": ["医保", "医疗保障"]}), 401)
        drafter = auth("drafter", organ="11440100MB0000001L")
        assert_problem(await catalog.get(SYNONYMS, headers=drafter), 403)
        assert_problem(await catalog.post(SYNONYMS, headers=drafter, json={"words": ["医保", "医疗保障"]}), 403)

    async def test_create_list_get_update_delete(self, catalog):
        first, _ = await add_synonym(catalog, ["公共租赁住房", "公租房"])
        second, etag = await add_synonym(catalog, ["社会保险", "社保"])
        page = (await catalog.get(SYNONYMS, headers=ADMIN, params={"limit": 1})).json()
        assert [s["id"] for s in page["items"]] == [first] and page["next_cursor"]
        page = (await catalog.get(SYNONYMS, headers=ADMIN, params={"limit": 1, "after": page["next_cursor"]})).json()
        assert [s["id"] for s in page["items"]] == [second]
        r = await catalog.get(f"{SYNONYMS}/{second}", headers=ADMIN)
        assert r.json()["words"] == ["社会保险", "社保"] and r.headers["etag"] == etag
        assert_problem(await catalog.patch(f"{SYNONYMS}/{second}", headers=ADMIN, json={"note": "x"}), 428)
        assert_problem(await catalog.patch(f"{SYNONYMS}/{second}", headers=with_etag(ADMIN, '"9"'),
                                           json={"note": "x"}), 412)
        r = await catalog.patch(f"{SYNONYMS}/{second}", headers=with_etag(ADMIN, etag), json={"note": "常用简称"})
        assert r.status_code == 200 and r.json()["note"] == "常用简称" and r.json()["version"] == 2
        assert_problem(await catalog.delete(f"{SYNONYMS}/{second}", headers=ADMIN), 428)
        assert_problem(await catalog.delete(f"{SYNONYMS}/{second}", headers=with_etag(ADMIN, etag)), 412)
        r = await catalog.delete(f"{SYNONYMS}/{second}", headers=with_etag(ADMIN, r.headers["etag"]))
        assert r.status_code == 204
        assert_problem(await catalog.get(f"{SYNONYMS}/{second}", headers=ADMIN), 404, "synonym_not_found")
        assert_problem(await catalog.patch(f"{SYNONYMS}/{second}", headers=with_etag(ADMIN, '"1"'),
                                           json={"note": "x"}), 404, "synonym_not_found")
        assert_problem(await catalog.delete(f"{SYNONYMS}/{second}", headers=with_etag(ADMIN, '"1"')), 404)

    @pytest.mark.parametrize("body", [{"words": ["公租房"]}, {"words": ["公租房", "公租房"]},
                                      {"words": ["公租房", " "]}, {"words": ["公租房", "x" * 51]},
                                      {"words": "公租房"}, {},
                                      {"words": ["公租房", "公共租赁住房"], "weight": 2}])
    async def test_bad_input_is_422(self, catalog, body):
        assert_problem(await catalog.post(SYNONYMS, headers=ADMIN, json=body), 422)

    async def test_bad_update_and_bad_cursor_are_422(self, catalog):
        synonym_id, etag = await add_synonym(catalog, ["公共租赁住房", "公租房"])
        assert_problem(await catalog.patch(f"{SYNONYMS}/{synonym_id}", headers=with_etag(ADMIN, etag),
                                           json={"words": ["公租房"]}), 422)
        assert_problem(await catalog.get(SYNONYMS, headers=ADMIN, params={"cursor": "not-a-cursor"}), 422)

    async def test_every_change_is_audited_with_the_entry_and_its_version(self, catalog):
        before = len((await catalog.get("/internal/v1/audit", headers=AUDITOR, params={"limit": 500})).json()["items"])
        synonym_id, etag = await add_synonym(catalog, ["医疗保障", "医保"])
        r = await catalog.patch(f"{SYNONYMS}/{synonym_id}", headers=with_etag(ADMIN, etag), json={"note": "简称"})
        await catalog.delete(f"{SYNONYMS}/{synonym_id}", headers=with_etag(ADMIN, r.headers["etag"]))
        log = (await catalog.get("/internal/v1/audit", headers=AUDITOR, params={"limit": 500})).json()["items"][before:]
        assert [e["action"] for e in log] == [f"POST {SYNONYMS}", f"PATCH {SYNONYMS}/{{synonym_id}}",
                                              f"DELETE {SYNONYMS}/{{synonym_id}}"]
        assert [(e["entry"]["actor"], [(v["type"], v["entity_id"], v["version"]) for v in e["entry"]["events"]])
                for e in log] == [("admin-1", [("search_synonym.created", synonym_id, 1)]),
                                  ("admin-1", [("search_synonym.updated", synonym_id, 2)]),
                                  ("admin-1", [("search_synonym.deleted", synonym_id, 3)])]
