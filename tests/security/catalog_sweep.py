"""The catalogue crawl of the confidentiality sweep (test_canary_catalog.py, test_canary_search.py): one method per
group of routes, every response checked as it comes in (Sweep.get)."""

import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from tests.security.canary_world import API, Doc, Principal, World
from tests.security.support import hits


class Sweep:
    def __init__(self, client: httpx.AsyncClient, world: World) -> None:
        self.client = client
        self.w = world
        self.canaries = world.canaries
        self.hidden_ids = {v: d for d in world.hidden for v in (d.id, d.index_no, *d.attachment_ids) if v}
        self.hidden_ids.update({a: d for d in world.docs for a in d.withheld_attachment_ids})
        self.tombstones = {d.id for d in world.hidden if d.once_public}  # only the id, on the change feed
        self.requests = 0
        self.seen_routes: set[str] = set()
        self.found: dict[str, set[str]] = {}  # principal → canaries it legitimately saw (positive control)

    async def get(self, who: Principal, route: str, path: str, *, staff_view: bool,
                  params: dict[str, Any] | None = None, echoed: tuple[str, ...] = (),
                  ids_allowed: set[str] | None = None) -> httpx.Response:
        """GET and check: every canary hit must be one `who` may see in this view; the ids and 索引号 of hidden
        records only in staff views of their own organ, or where `ids_allowed` (tombstones, internal feeds)."""
        r = await self.client.get(path, headers=who.headers, params=params)
        self.requests += 1
        self.seen_routes.add(route)
        assert r.status_code < 500, (who.name, path, params, r.text)
        # What the request itself carried (path segments, parameters) may come back: the caller's own input, also
        # percent-encoded in a URL (a search's feed_url names its own filters).
        values = [str(v) for v in (params or {}).values()]
        echo = (*echoed, *values, *(quote(v) for v in values), path, *path.split("/"))
        for canary in hits(r, self.canaries, echoed=echo):
            doc = self.canaries[canary]
            assert self.w.may_see(who, doc, staff_view=staff_view), (
                f"LEAK: canary of {doc.key}.{doc.canaries[canary]} to {who.name} in {path} {params}: {r.text[:2000]}")
            self.found.setdefault(who.name, set()).add(canary)
        for value in hits(r, set(self.hidden_ids) - (ids_allowed or set()), echoed=echo):
            doc = self.hidden_ids[value]
            assert self.w.may_see(who, doc, staff_view=staff_view), (
                f"LEAK: id/索引号 of hidden {doc.key} to {who.name} in {path} {params}: {r.text[:2000]}")
        return r

    async def standard_catalogue(self) -> None:
        """Once: a catalogue whose one item takes every 体裁, adopted by both organs of the world."""
        if getattr(self, "_standard_adopted", False):
            return
        from catalog_service.vocab import Genre
        from tests.support import auth

        admin = auth("admin")
        body = {"code": "sweep", "area": "测试", "title": "全体裁", "source": {"title": "sweep", "issuer": "tests"},
                "entries": [{"key": "all", "level1": "全部", "title": "全部记录", "content": "全部", "basis": "无",
                             "time_limit_text": "及时", "time_limit": {"kind": "when_changed"}, "publisher": "机关",
                             "match": {"genres": [g.value for g in Genre]}}]}
        r = await self.client.post(f"{API}/standard-catalogues", headers=admin, json=body)
        assert r.status_code == 201, r.text
        for code in (self.w.x, self.w.y):
            a = await self.client.post(f"{API}/standard-adoptions", headers=admin,
                                       json={"organ_code": code, "catalogue_id": r.json()["id"]})
            assert a.status_code == 201, a.text
        self._standard_adopted = True

    # --- the routes ----------------------------------------------------------------------------------------------

    async def directory(self, who: Principal) -> None:
        await self.get(who, "GET /api/v1/catalog/vocabularies", f"{API}/vocabularies", staff_view=False)
        await self.get(who, "GET /api/v1/catalog/me", f"{API}/me", staff_view=False)  # who am I: no record in it
        await self.get(who, "GET /api/v1/catalog/organs", f"{API}/organs", staff_view=False)
        await self.get(who, "GET /api/v1/catalog/organs", f"{API}/organs", staff_view=False, params={"under": self.w.x})
        for code in (self.w.x, self.w.y, "000014349"):
            await self.get(who, "GET /api/v1/catalog/organs/{code}", f"{API}/organs/{code}", staff_view=False)
        # 公开目录栏目: the catalogue's structure (public), no record in it.
        r = await self.get(who, "GET /api/v1/catalog/columns", f"{API}/columns", staff_view=False,
                           params={"limit": 100})
        for column_id in [c["id"] for c in r.json()["items"]][:3] + [str(uuid.uuid4())]:
            await self.get(who, "GET /api/v1/catalog/columns/{column_id}", f"{API}/columns/{column_id}",
                           staff_view=False)
        # 基层政务公开标准目录: catalogues and adoptions (reference data, no record), and each organ's coverage report,
        # which lists the records mapped to its items — public ones only. A catch-all item (every 体裁) maps every
        # record of the world's organs, hidden ones included, so a leak would show.
        await self.standard_catalogue()
        r = await self.get(who, "GET /api/v1/catalog/standard-catalogues", f"{API}/standard-catalogues",
                           staff_view=False, params={"limit": 100})
        for catalogue_id in [c["id"] for c in r.json()["items"]][:2] + [str(uuid.uuid4())]:
            await self.get(who, "GET /api/v1/catalog/standard-catalogues/{catalogue_id}",
                           f"{API}/standard-catalogues/{catalogue_id}", staff_view=False)
        r = await self.get(who, "GET /api/v1/catalog/standard-adoptions", f"{API}/standard-adoptions",
                           staff_view=False, params={"limit": 100})
        for adoption_id in [a["id"] for a in r.json()["items"]][:2] + [str(uuid.uuid4())]:
            await self.get(who, "GET /api/v1/catalog/standard-adoptions/{adoption_id}",
                           f"{API}/standard-adoptions/{adoption_id}", staff_view=False)
        for code in (self.w.x, self.w.y, "000014349"):
            await self.get(who, "GET /api/v1/catalog/standard-coverage/{organ_code}",
                           f"{API}/standard-coverage/{code}", staff_view=False)
        # The search dictionary (admin only; others are refused): a synonym entry names no record.
        r = await self.get(who, "GET /api/v1/catalog/search/synonyms", f"{API}/search/synonyms", staff_view=False)
        entries = r.json()["items"] if r.status_code == 200 else []
        for synonym_id in [e["id"] for e in entries[:1]] + [str(uuid.uuid4())]:
            await self.get(who, "GET /api/v1/catalog/search/synonyms/{synonym_id}",
                           f"{API}/search/synonyms/{synonym_id}", staff_view=False)
        # The search index's operations (admin only): positions, counts, hashes and ids, never a record's text.
        await self.get(who, "GET /api/v1/catalog/search/index", f"{API}/search/index", staff_view=False)
        await self.get(who, "GET /api/v1/catalog/search/index/reconciliation", f"{API}/search/index/reconciliation",
                       staff_view=False)

    async def records(self, who: Principal) -> None:
        every_version = ", ".join(f'"{v}"' for v in range(1, 30))
        for doc in self.w.docs:
            await self.get(who, "GET /api/v1/catalog/documents/{document_id}", f"{API}/documents/{doc.id}",
                           staff_view=False)
            # The conditional GET: a 304 for a hidden record would say it exists (and which version it is at).
            r = await self.client.get(f"{API}/documents/{doc.id}", headers={**who.headers, "If-None-Match":
                                                                              every_version})
            self.requests += 1
            assert r.status_code == (304 if doc.public else 404), (who.name, doc.key, r.status_code)
            for sub in ("record", "review-log", "attachments"):
                r = await self.get(who, f"GET /api/v1/catalog/documents/{{document_id}}/{sub}",
                                   f"{API}/documents/{doc.id}/{sub}", staff_view=True)
                if self.w.may_see(who, doc, staff_view=True):
                    assert r.status_code == 200, (who.name, doc.key, sub, r.text)
            for attachment_id in doc.attachment_ids:
                r = await self.get(who, "GET /api/v1/catalog/documents/{document_id}/attachments/{attachment_id}",
                                   f"{API}/documents/{doc.id}/attachments/{attachment_id}", staff_view=True)
                if not (doc.public or self.w.may_see(who, doc, staff_view=True)):
                    assert r.status_code == 404, (who.name, doc.key, r.status_code)
        # Error bodies: unknown ids, ids of one record under another, bad parameters.
        hidden = self.w.hidden[0]
        for path, staff_view in ((f"{API}/documents/00000000-0000-4000-8000-000000000000", False),
                                 (f"{API}/documents/{hidden.id}/attachments/00000000-0000-4000-8000-000000000000",
                                  True),
                                 (f"{API}/documents/{self.w.docs[-1].id}/attachments/{hidden.attachment_ids[0]}",
                                  True),
                                 (f"{API}/documents/{hidden.id}/record?x=1", True),
                                 (f"{API}/documents/not-an-id/review-log", True)):
            await self.get(who, "errors", path, staff_view=staff_view)

    async def search(self, who: Principal, params: dict[str, Any]) -> dict[str, Any]:
        staff_view = params.get("scope") == "organ"
        r = await self.get(who, "GET /api/v1/catalog/documents", f"{API}/documents", staff_view=staff_view,
                           params=params)
        assert r.status_code in (200, 422), (who.name, params, r.text)
        return r.json()

    async def searches(self, who: Principal, queries: dict[str, list[str]]) -> None:
        """The given canaries as the query, per scope; and each record's 文号 and 索引号 as filters in the
        principal's own scope: a record is found exactly when the principal may see it in that scope."""
        for scope, canaries in queries.items():
            for q in canaries:
                await self.search(who, {"q": q, "scope": scope})
        scope = "organ" if who.catalog_staff_of else "public"
        for doc in self.w.docs:
            findable = (self.w.may_see(who, doc, staff_view=True) if who.catalog_staff_of else doc.public)
            for name in (n for n in ("index_no", "doc_number") if getattr(doc, n)):  # no 索引号 before publication
                body = await self.search(who, {"scope": scope, name: getattr(doc, name)})
                assert [i["id"] for i in body["items"]] == ([doc.id] if findable else []), (
                    who.name, scope, name, doc.key, body)

    async def counts(self, who: Principal) -> None:
        """total and facets equal the list, per organ filter and scope (the organs are this test's own)."""
        single = ("organ", "genre", "subject_category", "validity", "year", "status")
        for scope in ("public", "organ"):
            staff_scope = scope == "organ" and who.catalog_staff_of is not None
            for organ in (self.w.x, self.w.y):
                base = {"organ": organ, "scope": scope, "limit": 100}
                first = await self.search(who, base)
                assert first["total_is_estimate"] is False
                items = first["items"]
                assert first["total"] == len(items), (who.name, scope, first)
                ids = {i["id"] for i in items}
                for facet, values in first["facets"].items():
                    for value in values:
                        filtered = await self.search(who, {**base, facet: value["value"]})
                        assert filtered["total"] == value["count"] == len(filtered["items"]), (
                            who.name, scope, facet, value, filtered["total"])
                        assert {i["id"] for i in filtered["items"]} <= ids
                    if facet in single:
                        assert sum(v["count"] for v in values) == len(items), (who.name, scope, facet, values)
                # Public scope: the public records. Organ scope, for catalogue staff: their own organ's records they
                # may see (none of another organ).
                if staff_scope:
                    expected = {d.id for d in self.w.docs if d.organ == organ == who.catalog_staff_of and (
                        d.public or self.w.may_see(who, d, staff_view=True))}
                else:
                    expected = {d.id for d in self.w.docs if d.organ == organ and d.public}
                assert ids == expected, (who.name, scope, organ, sorted(ids ^ expected))

    async def feeds(self, who: Principal) -> None:
        after = 0
        while True:
            r = await self.get(who, "GET /api/v1/catalog/changes", f"{API}/changes", staff_view=False,
                               params={"after": after, "limit": 500}, ids_allowed=self.tombstones)
            page = r.json()
            for item in page["items"]:
                doc = next((d for d in self.w.docs if d.id == item["document_id"]), None)
                if doc is None:
                    continue
                assert doc.once_public, (who.name, doc.key, item)  # never-published records never appear
                if doc.public:
                    assert item["change"] == "upsert"
                else:  # withdrawn, or classified after publication: a tombstone with nothing in it
                    # (the change kind's label is content-free: it names the kind, never the record)
                    assert item == {"cursor": item["cursor"], "change": "tombstone", "document_id": doc.id,
                                    "occurred_at": item["occurred_at"], "record": None,
                                    "change_label": {"code": "tombstone", "zh": "移除",
                                                     "en": "Tombstone: remove the record from your copy"}}, item
            after = page["next_cursor"]
            if not page["has_more"]:
                break
        # 快照: public records only (no hidden id, not even as a tombstone); every line is a public record.
        r = await self.get(who, "GET /api/v1/catalog/snapshot", f"{API}/snapshot", staff_view=False)
        assert r.status_code == 200, (who.name, r.text)
        lines = [json.loads(line) for line in r.text.splitlines()]
        snapshot_ids = {line["id"] for line in lines[1:-1]}
        assert {d.id for d in self.w.docs if d.public} <= snapshot_ids, who.name
        cursor = lines[0]["snapshot"]["cursor"]
        for params in ({"organ": self.w.x}, {"organ": self.w.y, "as_of": cursor}, {"organ": self.w.x, "as_of": 0},
                       {"organ": "000014349"}):
            r = await self.get(who, "GET /api/v1/catalog/snapshot/digest", f"{API}/snapshot/digest",
                               staff_view=False, params=params)
            assert r.status_code in (200, 404, 409), (who.name, params, r.text)
            if r.status_code == 200:  # counts the organ's public records only
                assert r.json()["records"] == sum(d.public and d.organ == params["organ"] for d in self.w.docs)
        # 交换格式: both profiles, every page, public records only; one record's export as its public read.
        for profile in ("dcat-jsonld", "jiyuehua"):
            after = None
            while True:
                r = await self.get(who, "GET /api/v1/catalog/export", f"{API}/export", staff_view=False,
                                   params={"profile": profile, "limit": 100, **({"after": after} if after else {})})
                assert r.status_code == 200, (who.name, r.text)
                if not r.json()["has_more"]:
                    break
                after = r.json()["next_cursor"]
            r = await self.get(who, "GET /api/v1/catalog/export/schema", f"{API}/export/schema", staff_view=False,
                               params={"profile": profile})
            assert r.status_code == 200
        for doc in self.w.docs:  # one record's export: the same rule in both profiles (exchange.export_one)
            r = await self.get(who, "GET /api/v1/catalog/documents/{document_id}/export",
                               f"{API}/documents/{doc.id}/export", staff_view=False, params={"profile": "jiyuehua"})
            assert r.status_code == (200 if doc.public else 404), (who.name, doc.key, r.status_code)
        for params in ({}, {"organ": self.w.x}, {"key_area": "fiscal_budget"}):
            r = await self.get(who, "GET /api/v1/catalog/feeds/atom.xml", f"{API}/feeds/atom.xml",
                               staff_view=False, params=params)
            assert r.status_code == 200 and (self.w.control_marker in r.text or "organ" not in params)
        for path in ("/internal/v1/events", "/internal/v1/audit"):
            after = 0
            while True:
                r = await self.get(who, f"GET {path}", path, staff_view=False, params={"after": after, "limit": 500},
                                   ids_allowed=set(self.hidden_ids))  # ids, never text: services, admins, auditors
                if r.status_code != 200:
                    break
                items = r.json() if isinstance(r.json(), list) else r.json()["items"]
                if len(items) < 500:
                    break
                after = items[-1]["seq" if path.endswith("audit") else "id"]
        await self.get(who, "GET /internal/v1/audit/verify", "/internal/v1/audit/verify", staff_view=False)

    async def worklists(self, who: Principal) -> None:
        for path, params in (("publication", {"within_working_days": 60, "limit": 100}),
                             ("reevaluation", {"within_days": 366, "limit": 100}),
                             ("interpretation", {"limit": 100}), ("interpretation", {"overdue": "true"}),
                             ("validity-review", {"limit": 100}), ("validity-review", {"overdue": "true"})):
            await self.get(who, f"GET /api/v1/catalog/worklists/{path}", f"{API}/worklists/{path}",
                           staff_view=True, params=params)
        await self.get(who, "GET /api/v1/catalog/worklists/interpretation/summary",
                       f"{API}/worklists/interpretation/summary", staff_view=True)
        for params in ({"limit": 100}, {"in_force_on": "2020-01-01", "limit": 100}):
            await self.get(who, "GET /api/v1/catalog/registers/in-force", f"{API}/registers/in-force",
                           staff_view=True, params=params)
        # Error bodies of bad parameters.
        for params in ({"limit": 1000}, {"q": "雀" * 101}, {"genre": "poem"}, {"status": "draft"}):
            await self.get(who, "errors", f"{API}/documents", staff_view=False, params=params)
        await self.get(who, "errors", f"{API}/changes", staff_view=False, params={"limit": 501})
        await self.get(who, "errors", f"{API}/worklists/publication", staff_view=True,
                       params={"within_working_days": 61})

    async def webhooks(self, who: Principal) -> None:
        """推送订阅: an integration client's own subscriptions; for everyone else, and for ids not theirs, nothing."""
        base = f"{API}/webhooks/subscriptions"
        r = await self.get(who, f"GET {base}", base, staff_view=False)
        subs = [s["id"] for s in r.json()["items"]] if r.status_code == 200 else []
        for sub in [*subs, str(uuid.uuid4())]:
            await self.get(who, f"GET {base}/{{subscription_id}}", f"{base}/{sub}", staff_view=False)
            r = await self.get(who, f"GET {base}/{{subscription_id}}/deliveries", f"{base}/{sub}/deliveries",
                               staff_view=False, params={"limit": 100})
            deliveries = [d["id"] for d in r.json()["items"]] if r.status_code == 200 else []
            for delivery in [*deliveries, str(uuid.uuid4())]:
                await self.get(who, f"GET {base}/{{subscription_id}}/deliveries/{{delivery_id}}",
                               f"{base}/{sub}/deliveries/{delivery}", staff_view=False)

    async def health(self, who: Principal) -> None:
        for path in ("/healthz", "/readyz", "/metrics"):
            await self.get(who, f"GET {path}", path, staff_view=False)

    async def references(self, who: Principal, docs: list[Doc], *, bulk: bool = False) -> None:
        """Linking a new record to a hidden one (修订/废止/解读) says nothing about whether it exists: for a record
        the principal may not see, the answer equals the answer for a random id. `bulk`: through the document
        system's bulk import (a rejected record, not a 422)."""
        random_id = "00000000-0000-4000-8000-000000000000"
        for doc in docs:
            for field in ("amends", "repeals", "interpretation_of"):
                answers = []
                for target in (doc.id, random_id):
                    record = {"title": "引用测试文件", "genre": "notice",
                              field: target if field == "interpretation_of" else [target]}
                    if bulk:
                        r = await self.client.post(f"{API}/documents/bulk", headers=who.headers, json={
                            "records": [{"external_id": f"ref-{field}", **record}]})
                        assert r.status_code == 200, r.text
                        result = r.json()["results"][0]
                        answers.append((result["status"], result["reason"],
                                        [e["type"] for e in result["errors"] or []]))
                    else:
                        r = await self.client.post(f"{API}/documents", headers=who.headers, json=record)
                        answers.append((r.status_code, r.json().get("code"),
                                        r.text.replace(target, "<id>").split('"request_id"')[0]))
                    self.requests += 1
                assert answers[0] == answers[1], (who.name, doc.key, field, answers)
                assert answers[0][0] in (422, "rejected"), answers
