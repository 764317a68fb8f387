"""Catalogue search (目录检索) through the API, on the selected backend (the search index is the same on both).

The fixture writes rows directly (seed documents in Simplified and Traditional, canaries the public must never
see); every assertion goes through GET /api/v1/catalog/documents.
"""

import asyncio
import uuid
from typing import Any

import pytest

from catalog_service.domain.search import snippet
from catalog_service.textfold import fold_query
from tests import support
from tests.catalog_service.helpers import API, SearchFixture, seed_search_fixture
from tests.support import assert_problem, auth

URL = f"{API}/documents"
FACETS = ("organ", "subject_category", "genre", "key_area", "year", "validity")


@pytest.fixture
async def fx(catalog_db) -> SearchFixture:
    return await seed_search_fixture(catalog_db)


async def search(client, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    r = await client.get(URL, params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


async def all_items(client, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    """Page through every result, 7 at a time (so paging itself is exercised)."""
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = await search(client, headers, **params, limit=7, offset=offset)
        items += page["items"]
        if len(page["items"]) < 7:
            return items
        offset += 7


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items}


class TestMatching:
    async def test_known_counts_for_two_and_three_character_queries(self, catalog, fx):
        # Pins the SQLite 3.40.1 trap (LIKE on an FTS5 trigram table returns 0 rows) and the PostgreSQL routing:
        # 2 characters go to the bigram index / base-table LIKE, 3+ to pg_trgm / FTS5 MATCH.
        for q, expected in [("预算", 9), ("决算", 6), ("大庆", 3), ("穗府办", 3), ("阿勒泰", 1), ("政务公开", 18),
                            ("三公经费", 1)]:
            assert fx.expected(q) == expected, q  # the fixture is what we think it is
            body = await search(catalog, q=q)
            assert (body["total"], body["total_is_estimate"]) == (expected, False), q
            assert len(body["items"]) == min(expected, 20), q

    async def test_one_character_and_no_match(self, catalog, fx):
        assert (await search(catalog, q="鹤"))["total"] == fx.expected("鹤") == 1
        assert (await search(catalog, q="量子纠缠"))["total"] == 0
        assert (await search(catalog, q="鲸"))["total"] == 0  # only in canaries

    async def test_traditional_and_simplified_find_each_other(self, catalog, fx):
        simplified = {d["id"] for d in fx.public if d["script"] == "simplified" and "政务公开" in d["search_text"]}
        traditional = {d["id"] for d in fx.public if d["script"] == "traditional"}
        found_t = ids(await all_items(catalog, q="政務公開"))
        found_s = ids(await all_items(catalog, q="政务公开"))
        assert found_t == found_s
        assert simplified <= found_t and traditional <= found_s
        assert ids(await all_items(catalog, q="預算")) == ids(await all_items(catalog, q="预算"))
        huangpu = next(d["id"] for d in fx.public if "黃埔" in d["title"])
        assert ids((await search(catalog, q="黄埔"))["items"]) == {huangpu}

    async def test_full_width_and_case_are_folded(self, catalog, fx):
        assert (await search(catalog, q="１２３４５"))["total"] == fx.expected("12345") == 1
        index_no = fx.public[3]["index_no"]
        lowered = await search(catalog, q=index_no.lower())
        assert [i["id"] for i in lowered["items"]] == [fx.public[3]["id"]]
        full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in index_no)
        assert [i["id"] for i in (await search(catalog, q=full_width))["items"]] == [fx.public[3]["id"]]

    async def test_terms_are_anded_and_wildcards_are_literal(self, catalog, fx):
        both = await search(catalog, q="预算 决算")
        assert both["total"] == fx.expected("预算", "决算") > 0
        assert (await search(catalog, q="预算　政务公开"))["total"] == fx.expected("预算", "政务公开")  # 全角空格
        # Punctuation is not indexed: a query of punctuation alone finds nothing (never everything), and LIKE's
        # wildcards are not wildcards: 预% finds at most the records with 预.
        for q in ("%", "_", "\\", "'", '"'):
            assert (await search(catalog, q=q))["total"] == 0, q
        assert (await search(catalog, q="预%"))["total"] <= fx.expected("预")

    async def test_exact_doc_number_and_index_no(self, catalog, fx):
        body = await search(catalog, doc_number="穗府办〔2011〕8号")
        assert [i["doc_number"] for i in body["items"]] == ["穗府办〔2011〕8号"] and body["total"] == 1
        assert (await search(catalog, doc_number="穗府办〔2011〕9号"))["total"] == 0
        target = fx.public[5]
        body = await search(catalog, index_no=target["index_no"])
        assert [i["id"] for i in body["items"]] == [target["id"]]
        assert body["items"][0]["index_no"] == target["index_no"]
        # The 文号 as free text finds the document too (with any others quoting it).
        assert fx.public[0]["id"] in ids((await search(catalog, q="穗府办〔2011〕8号"))["items"])

class TestVisibility:
    async def test_the_public_never_finds_unpublished_classified_withdrawn_or_redacted_text(self, catalog, fx):
        for q in ("蓝鲸", "蓝鲸甲", "蓝鲸乙", "蓝鲸丙", "蓝鲸丁", "蓝鲸戊", "鲸"):
            for headers in (None, auth("applicant", sub="someone"), auth("drafter", organ=fx.other)):
                body = await search(catalog, headers, q=q)
                assert (body["total"], body["items"]) == (0, []), (q, headers)
                assert all(v == [] for v in body["facets"].values()), body["facets"]
        # The redacted record is public; only the withheld segment is not findable.
        redacted = await search(catalog, q="区分处理测试")
        assert [i["id"] for i in redacted["items"]] == [fx.canaries["redacted"]]
        assert "蓝鲸" not in redacted["items"][0]["snippet"]

    async def test_facets_and_totals_count_only_visible_records(self, catalog, fx):
        body = await search(catalog, limit=100)
        assert body["total"] == len(fx.public) == 19 and len(body["items"]) == 19
        assert ids(body["items"]) == {d["id"] for d in fx.public}
        assert not ids(body["items"]) & set(fx.canaries.values()) - {fx.canaries["redacted"]}
        organ_counts = {f["value"]: f["count"] for f in body["facets"]["organ"]}
        assert organ_counts == {fx.parent: 9, fx.child: 10}
        for name in FACETS:
            if name != "key_area":
                assert sum(f["count"] for f in body["facets"][name]) == 19, name

    async def test_staff_scope_sees_own_organ_in_every_state_never_another(self, catalog, fx):
        drafter = auth("drafter", organ=fx.parent)
        secrecy = auth("secrecy_officer", organ=fx.parent)
        found = ids(await all_items(catalog, drafter, q="蓝鲸", scope="organ"))
        assert found == {fx.canaries["draft"], fx.canaries["withdrawn"]}  # classified: not for a drafter
        found = ids(await all_items(catalog, secrecy, q="蓝鲸", scope="organ"))
        assert found == {fx.canaries["draft"], fx.canaries["withdrawn"], fx.canaries["classified"]}
        other = ids(await all_items(catalog, auth("drafter", organ=fx.other), q="蓝鲸", scope="organ"))
        assert other == {fx.canaries["other_organ_draft"]}
        # Staff default to the public scope; non-staff and anonymous callers always get it.
        assert (await search(catalog, drafter, q="蓝鲸"))["total"] == 0
        assert (await search(catalog, q="蓝鲸", scope="organ"))["total"] == 0
        assert (await search(catalog, auth("applicant", organ=fx.parent), q="蓝鲸", scope="organ"))["total"] == 0
        # Organ scope is the own organ only: the subordinate's published records are not in it.
        own = await search(catalog, drafter, scope="organ", limit=100)
        assert {i["organ_code"] for i in own["items"]} == {fx.parent}
        assert own["total"] == 9 + 2
        statuses = {f["value"]: f["count"] for f in own["facets"]["status"]}
        assert statuses == {"published": 9, "draft": 1, "withdrawn": 1}
        draft = await search(catalog, drafter, scope="organ", status="draft")
        assert [(i["id"], i["status"]) for i in draft["items"]] == [(fx.canaries["draft"], "draft")]

    async def test_staff_filters_are_refused_in_the_public_scope(self, catalog, fx):
        assert_problem(await catalog.get(URL, params={"status": "draft"}), 422, "staff_only_filter")
        assert_problem(await catalog.get(URL, params={"attribute": "withheld"},
                                         headers=auth("drafter", organ=fx.parent)), 422, "staff_only_filter")


class TestFilterFacetsAndPaging:
    @pytest.mark.parametrize("q", [None, "预算", "政务公开"])
    async def test_every_facet_count_equals_the_filtered_list(self, catalog, fx, q):
        params = {"q": q} if q else {}
        body = await search(catalog, **params)
        for name in FACETS:
            for facet in body["facets"][name]:
                filtered = await all_items(catalog, **params, **{name: facet["value"]})
                assert len(filtered) == facet["count"], (name, facet)
                again = await search(catalog, **params, **{name: facet["value"]})
                assert again["total"] == facet["count"], (name, facet)

    async def test_staff_facets_equal_the_filtered_list(self, catalog, fx):
        headers = auth("secrecy_officer", organ=fx.parent)
        body = await search(catalog, headers, scope="organ")
        for name in (*FACETS, "attribute", "status"):
            for facet in body["facets"][name]:
                filtered = await all_items(catalog, headers, scope="organ", **{name: facet["value"]})
                assert len(filtered) == facet["count"], (name, facet)

    async def test_organ_with_subordinates(self, catalog, fx):
        assert (await search(catalog, organ=fx.parent))["total"] == 9
        assert (await search(catalog, organ=fx.parent, include_subordinates=True))["total"] == 19
        assert (await search(catalog, organ=fx.child, include_subordinates=True))["total"] == 10
        assert (await search(catalog, organ=fx.other))["total"] == 0

    async def test_year_is_the_beijing_year_of_publication(self, catalog, fx):
        # Published 2012-12-31 20:00 UTC = 2013-01-01 04:00 in Beijing.
        report = next(d for d in fx.public if d["title"].startswith("2012年廣州市"))
        assert ids((await search(catalog, year=2013))["items"]) == {report["id"]}
        assert (await search(catalog, year=2012))["total"] == 0
        assert (await search(catalog, year=2022))["total"] == 12

    async def test_sort_by_date_and_relevance(self, catalog, fx):
        by_date = await all_items(catalog, q="政务公开", sort="date")
        dates = [i["published_at"] for i in by_date]
        assert dates == sorted(dates, reverse=True) and len(by_date) == 18
        # Relevance: records with the term in the title first (3 of the 4 广州 records), then newest first.
        ranked = (await search(catalog, q="广州"))["items"]
        assert [("广州" in fold_query(i["title"])) for i in ranked] == [True, True, True, False]
        head = [i["published_at"] for i in ranked[:3]]
        assert head == sorted(head, reverse=True)

    async def test_paging_is_stable_and_complete(self, catalog, fx):
        for sort in ("relevance", "date"):
            pages = await all_items(catalog, q="政务公开", sort=sort)
            assert len(pages) == len(ids(pages)) == 18

class TestSnippets:
    async def test_snippet_highlights_the_original_text(self, catalog, fx):
        item = (await search(catalog, q="三公经费"))["items"][0]
        assert "<em>三公經費</em>" in item["snippet"]  # the Traditional original, found by a Simplified query
        for key in ("id", "index_no", "title", "doc_number", "organ_code", "organ_name", "published_at", "snippet"):
            assert key in item

    async def test_snippet_is_escaped_and_marks_every_term(self, catalog, fx):
        items = (await search(catalog, q="预算 决算", limit=100))["items"]
        assert items and all("<em>" in i["snippet"] for i in items)
        for i in items:
            stripped = i["snippet"].replace("<em>", "").replace("</em>", "")
            assert "<" not in stripped and ">" not in stripped

    async def test_title_match_snippet_shows_the_start(self, catalog, fx):
        # Quoted: the whole title as one exact phrase (unquoted, its words 区分/处理/测试 also occur in the body).
        item = (await search(catalog, q='"区分处理测试文件"'))["items"][0]
        assert item["snippet"].startswith("区分处理测试")

    def test_the_window_is_at_the_first_match_as_written_else_the_first_once_folded(self):
        # Written as the query folds it, a match is found without folding the body (a page folded up to 20 bodies
        # of 10,000 characters); only a text without one is folded (繁體, full-width), and then its first match shows.
        body = "甲" * 300 + "政務公開" + "乙" * 300 + "政务公开" + "丙" * 300
        assert snippet([None, body], ["政务公开"]) == f"…{'乙' * 30}<em>政务公开</em>{'丙' * 86}…"
        traditional = "甲" * 300 + "政務公開" + "乙" * 300
        assert snippet(["摘要", traditional], ["政务公开"]) == f"…{'甲' * 30}<em>政務公開</em>{'乙' * 86}…"
        assert snippet(["摘要", "ＡＢＣ正文"], ["abc"]) == "<em>ＡＢＣ</em>正文"
        assert snippet(["摘要", "正文"], ["无"]) == "摘要"


@pytest.mark.postgres_only
async def test_a_c_ctype_database_is_refused_by_the_migration():
    # performance.md §3.1: under LC_CTYPE C pg_trgm indexes no CJK character at all.
    name = f"gk_test_cctype_{uuid.uuid4().hex[:8]}"
    await support._admin(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
    url = support._replace_database(support.postgres_admin_url(), name)
    try:
        with pytest.raises(Exception, match="LC_CTYPE is C, not a UTF-8 locale"):
            await asyncio.to_thread(support.migrate, "catalog", url)
    finally:
        await support.adrop_database(url)


class TestValidation:
    @pytest.mark.parametrize("params", [
        {"q": "政" * 101}, {"limit": 1000}, {"limit": 0}, {"offset": 10_001}, {"genre": "poem"},
        {"year": "twenty"}, {"organ": "not-a-code"}, {"key_area": "moon"}, {"validity": "maybe"},
        {"scope": "everything"}, {"sort": "random"},
    ])
    async def test_bad_parameters_are_422_problems(self, catalog, params):
        assert_problem(await catalog.get(URL, params=params), 422, "validation_error")

    async def test_blank_query_lists_everything_visible(self, catalog, fx):
        assert (await search(catalog, q="   "))["total"] == 19


def test_folding_equals_nfkc_then_t2s_then_lower_case_for_every_character():
    """textfold.fold replaces full-width forms by table before its NFKC check (cheaper than normalising a whole
    document for its commas): the result must be exactly NFKC → OpenCC t2s → lower case, for every code point alone,
    after a full-width letter, before a combining mark and between full-width punctuation."""
    import unicodedata

    from catalog_service.textfold import _t2s, fold

    def reference(text: str) -> str:
        return _t2s.convert(unicodedata.normalize("NFKC", text)).lower()

    wrong = []
    for code in [*range(0x20, 0xD800), *range(0xE000, 0x10000), *range(0x1D400, 0x1D800), *range(0x20000, 0x20100)]:
        char = chr(code)
        for text in (char, "Ａ" + char, char + "\u0301", "，" + char + "\u3000ｆ；", "政務" + char + "（１）"):
            if fold(text) != reference(text):
                wrong.append(text)
    assert wrong == []
