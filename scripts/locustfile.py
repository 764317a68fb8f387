"""Mixed traffic for the load run (scripts/bench_load.py starts locust headless with this file).

One user class, weighted tasks, all through the gateway: public search and document reads (the bulk of real
traffic on a disclosure portal), online applications (依申请公开 intake), staff work-lists (request handlers and
catalogue drafters) and annual-report / dashboard reads. LOAD_FIXTURE names a JSON file with the organ, document ids,
search terms and tokens that bench_load.py prepared. Runs in its own virtualenv (locust brings gevent).
"""

import itertools
import json
import os
import random
from datetime import date, timedelta

from locust import FastHttpUser, between, task

FIXTURE = json.loads(open(os.environ["LOAD_FIXTURE"], encoding="utf-8").read())
_serial = itertools.count(1)


def _resident_id() -> str:
    """A valid 18-digit resident identity number (GB 11643: region, birth date, serial, check digit)."""
    n = next(_serial) + random.randrange(10**6)
    born = date(1960, 1, 1) + timedelta(days=n // 1000 % 15000)
    body = f"110105{born:%Y%m%d}{n % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


class PortalUser(FastHttpUser):
    wait_time = between(0.2, 0.8)

    def _auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {FIXTURE['tokens'][role]}"}

    @task(30)
    def public_search(self) -> None:
        term = random.choice(FIXTURE["terms"])
        self.client.get(f"/api/v1/catalog/documents?q={term}&limit=20", name="search ?q=")

    @task(25)
    def public_document(self) -> None:
        self.client.get(f"/api/v1/catalog/documents/{random.choice(FIXTURE['documents'])}",
                        name="document /{id}")

    @task(5)
    def change_feed(self) -> None:
        self.client.get(f"/api/v1/catalog/changes?after={random.randrange(FIXTURE['feed_head'] + 1)}&limit=100",
                        name="changes")

    @task(10)
    def apply_online(self) -> None:
        body = {"organ_code": FIXTURE["organ"], "info_title": "2025年度部门预算执行情况",
                "info_description": "请提供2025年度部门预算执行情况报告全文", "preferred_form": "electronic",
                "delivery": "email",
                "applicant": {"type": "natural_person", "name": "张三", "id_type": "resident_id",
                              "id_number": _resident_id(), "phone": "13812345678",
                              "email": "zhangsan@example.com", "address": "北京市东城区某某街道1号",
                              "postal_code": "100010"}}
        with self.client.post("/api/v1/requests/applications", json=body, name="apply (intake)",
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(8)
    def handler_worklist(self) -> None:
        view = random.choice(["due_soon", "overdue", "waiting_applicant", "waiting_third_party"])
        self.client.get(f"/api/v1/requests/applications?view={view}&limit=20", headers=self._auth("handler"),
                        name="request worklist")

    @task(7)
    def drafter_worklist(self) -> None:
        self.client.get("/api/v1/catalog/worklists/publication?limit=20", headers=self._auth("drafter"),
                        name="publication worklist")

    @task(7)
    def annual_report(self) -> None:
        self.client.get(f"/api/v1/stats/annual-reports/{FIXTURE['organ']}/{FIXTURE['year']}",
                        headers=self._auth("stats_officer"), name="annual report")

    @task(3)
    def dashboard(self) -> None:
        self.client.get(f"/api/v1/stats/dashboards/{FIXTURE['organ']}/timeseries",
                        headers=self._auth("stats_officer"), name="dashboard timeseries")

    @task(5)
    def track(self) -> None:
        tracking_no, code = random.choice(FIXTURE["tracked"])
        self.client.post("/api/v1/requests/track", json={"tracking_no": tracking_no, "query_code": code},
                         name="track")
