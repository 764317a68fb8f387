"""Application status webhooks for partner platforms (推送订阅 · 申请办理状态, issue 15 item 1): an application
registered and answered through the request service's API reaches a subscription with `application.status_changed`
as a signed delivery (checked with the Standard Webhooks reference library), through the catalogue's relay of the
request service's feed (the real request app behind an ASGI transport), scoped by the organ subtree, in order, and
with no personal data in the body."""

import json

import standardwebhooks

from catalog_service.app import create_app
from catalog_service.clients import make_request_client
from catalog_service.config import Settings
from catalog_service.domain.webhooks import WebhookDispatcher
from catalog_service.feeds import make_application_consumer
from tests.catalog_service.helpers import make_organ
from tests.catalog_service.test_sync import REVIEW, imported, record
from tests.catalog_service.test_webhooks import deliveries, receiver, subscribe, unsubscribe, webhook_settings
from tests.request_service.helpers import act
from tests.request_service.intake_support import Desk, add_organ, register
from tests.support import serve

APPLICATION = "application.status_changed"
NAME, PHONE, ADDRESS = "欧阳推送", "13900139001", "广州市越秀区推送路88号"
TITLE = "请公开推送测试专项资金的分配明细"
ALLOWED_DATA = {"subscription_id", "seq", "tracking_no", "organ_code", "status", "due_on"}


async def known_to_both(catalog, request_db, name: str, parent: str | None = None) -> str:
    """An organ of the catalogue (which owns the directory) that the request service knows too."""
    code = await make_organ(catalog, name, parent=parent)
    await add_organ(request_db, code, name=name, parent=parent)
    return code


async def file(requests_client, organ: str) -> dict:
    """Registered in person by the organ's clerk (登记), with an applicant the partner must never learn about."""
    return await register(requests_client, Desk(organ), "in_person", info_title=TITLE,
                          applicant={"type": "natural_person", "name": NAME, "id_type": "passport",
                                     "id_number": "E12345678", "phone": PHONE, "address": ADDRESS})


async def answer(requests_client, organ: str, app_id: str) -> None:
    desk = Desk(organ)
    await act(requests_client, desk.handler, app_id, "draft-reply", {"outcome": "granted"})
    await act(requests_client, desk.approver, app_id, "approve-reply", {"comment": "同意"})


async def test_partner_platforms_get_signed_status_changes_of_their_subtree_without_personal_data(
        catalog_db, request_db, requests_client):
    settings = webhook_settings()
    feed_client = make_request_client(Settings(), transport=requests_client._transport)
    relay = make_application_consumer(catalog_db, feed_client.fetch_events, batch_size=3)
    async with serve(create_app(settings, database=catalog_db)) as catalog, receiver() as rx:
        province = await known_to_both(catalog, request_db, "省政务服务管理局")
        district = await known_to_both(catalog, request_db, "区人民政府办公室", parent=province)
        elsewhere = await known_to_both(catalog, request_db, "外省政务服务管理局")

        # Filed before the partner subscribed: not its business (the relay catches up on it afterwards).
        early = await file(requests_client, district)

        hotline = await subscribe(catalog, province, rx.url, sub="12345-hotline", event_types=[APPLICATION])
        assert hotline["subscription"]["event_types"] == [APPLICATION]
        documents_only = await subscribe(catalog, province, rx.url, sub="resource-library")
        assert APPLICATION not in documents_only["subscription"]["event_types"]  # asked for, never by default
        other = await subscribe(catalog, elsewhere, rx.url, sub="other-portal", event_types=[APPLICATION])

        ours = await file(requests_client, district)
        theirs = await file(requests_client, elsewhere)
        await answer(requests_client, district, ours["id"])
        (doc,) = await imported(catalog, district, record("app-hook-doc", review=REVIEW))

        assert await relay.drain() >= 1
        dispatcher = WebhookDispatcher(catalog_db, settings)
        await dispatcher.run_once()

        by_sub: dict[str, list[dict]] = {}
        verifiers = {hotline["subscription"]["id"]: standardwebhooks.Webhook(hotline["secret"]),
                     documents_only["subscription"]["id"]: standardwebhooks.Webhook(documents_only["secret"]),
                     other["subscription"]["id"]: standardwebhooks.Webhook(other["secret"])}
        for got in rx.received:
            sub_id = json.loads(got["body"])["data"]["subscription_id"]
            by_sub.setdefault(sub_id, []).append(verifiers[sub_id].verify(got["body"], got["headers"]))
            raw = got["body"].decode()
            for personal in (NAME, PHONE, ADDRESS, "E12345678", TITLE, ours["id"], theirs["id"]):
                assert personal not in raw, f"{personal} leaked in {raw}"

        # The partner on the province: its district's application, in order, never the one filed before it
        # subscribed nor the other province's.
        mine = by_sub[hotline["subscription"]["id"]]
        assert {b["type"] for b in mine} == {APPLICATION}
        assert [b["data"]["seq"] for b in mine] == list(range(1, len(mine) + 1))
        assert {b["data"]["tracking_no"] for b in mine} == {ours["tracking_no"]}
        assert early["tracking_no"] not in {b["data"]["tracking_no"] for b in mine}
        # 登记 then 受理 (the clock starts), 答复待签发, 已答复: one delivery per change of status.
        assert [b["data"]["status"]["code"] for b in mine] == ["received", "accepted", "reply_drafted", "replied"]
        assert mine[-1]["data"]["status"] == {"code": "replied", "zh": "已答复", "en": "Replied"}
        for body in mine:
            assert set(body) == {"type", "timestamp", "data"}
            assert set(body["data"]) == ALLOWED_DATA
            assert body["data"]["organ_code"] == district
        assert mine[-1]["data"]["due_on"] is not None  # the statutory due date (答复期限)

        # The other platform sees its own organ's application only; the document-only subscription no application.
        assert {b["data"]["tracking_no"] for b in by_sub[other["subscription"]["id"]]} == {theirs["tracking_no"]}
        assert [b["type"] for b in by_sub[documents_only["subscription"]["id"]]] == ["document.published"]
        assert by_sub[documents_only["subscription"]["id"]][0]["data"]["document_id"] == doc

        # The delivery log names the application by its tracking number.
        log = await deliveries(catalog, province, hotline["subscription"]["id"], sub="12345-hotline")
        assert {d["tracking_no"] for d in log} == {ours["tracking_no"]} and {d["document_id"] for d in log} == {None}
        assert {d["status"] for d in log} == {"delivered"}

        # Redelivery of the feed relays nothing twice (the relay's cursor moved with its effects).
        assert await relay.poll_once() == 0
        assert await dispatcher.run_once() == 0
        await unsubscribe(catalog, province, hotline["subscription"]["id"], sub="12345-hotline")
        await unsubscribe(catalog, province, documents_only["subscription"]["id"], sub="resource-library")
        await unsubscribe(catalog, elsewhere, other["subscription"]["id"], sub="other-portal")
    await feed_client.aclose()
