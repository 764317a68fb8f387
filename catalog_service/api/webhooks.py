"""Webhook subscriptions (推送订阅) for integrating agencies: thin endpoints over domain/webhooks.py."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from catalog_service.deps import IfMatch, SettingsDep
from catalog_service.domain import webhooks as domain
from catalog_service.schemas import (
    WebhookDeliveryDetail,
    WebhookDeliveryRead,
    WebhookReplay,
    WebhookReplayResult,
    WebhookSecret,
    WebhookSubscriptionCreate,
    WebhookSubscriptionRead,
    WebhookSubscriptionUpdate,
)
from services.auth import Principal, require_roles
from services.concurrency import etag
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, PageParams, ShortListPaging, page_of, page_params, paged

PREFIX = "/api/v1/catalog/webhooks/subscriptions"
router = APIRouter(prefix=PREFIX, tags=["sync"])
IntegrationDep = Annotated[Principal, Depends(require_roles("integration"))]

DESCRIPTION = """\
Push instead of polling `/changes` (推送订阅): the published catalogue's changes of an organ and its subordinates,
POSTed to your https address, signed per the Standard Webhooks specification.

* Headers `webhook-id` (the delivery's id: the same on every retry — dedupe on it), `webhook-timestamp` (Unix
  seconds) and `webhook-signature`: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` with the `whsec_`
  secret; after a rotation, two signatures (new and previous secret) until the overlap ends.
* Body: `{"type", "timestamp", "data": {"subscription_id", "seq", "document_id", "change", "record"}}`, the record as
  the public sees it when the delivery is sent (`change: upsert`), or a tombstone with no record (`change:
  tombstone`; types `document.withdrawn` and `document.removed`) that never says why.
* At least once, in order per subscription (`seq` 1, 2, …): the next delivery waits until the previous one got a 2xx
  or was dead-lettered. Retries back off exponentially with jitter for at least 24 hours, then the delivery is
  `dead`; a subscription failing for days is disabled with a reason. Answer 2xx quickly; redirects are not followed.
* The address must be https and resolve to public addresses only (no loopback, private, link-local or metadata
  addresses); it is checked again before every attempt.
"""


@router.post("", summary="Subscribe to pushed changes (新建推送订阅)", status_code=status.HTTP_201_CREATED,
             response_model=WebhookSecret, description=DESCRIPTION, responses=problem_responses(401, 403, 404, 422))
async def create_subscription(body: WebhookSubscriptionCreate, session: SessionDep, principal: IntegrationDep,
                              settings: SettingsDep, response: Response) -> WebhookSecret:
    sub, code, secret = await domain.create_subscription(session, principal, body, settings)
    response.headers["ETag"] = etag(sub.version)
    response.headers["Location"] = f"{settings.public_base_url}{PREFIX}/{sub.id}"
    return WebhookSecret(subscription=domain.read_subscription(sub, code), secret=secret)


@router.get("", summary="Your webhook subscriptions", response_model=Page[WebhookSubscriptionRead],
            responses=problem_responses(401, 403, 422))
async def list_subscriptions(request: Request, response: Response, session: SessionDep, principal: IntegrationDep,
                             paging: ShortListPaging) -> dict:
    reads = domain.subscriptions_reads(await domain.list_subscriptions(session, principal))
    return page_of(request, response, reads, paging, key=lambda sub: sub.id)


@router.get("/{subscription_id}", summary="One webhook subscription", response_model=WebhookSubscriptionRead,
            responses=problem_responses(401, 403, 404))
async def get_subscription(subscription_id: str, session: SessionDep, principal: IntegrationDep,
                           response: Response) -> WebhookSubscriptionRead:
    sub, code = await domain.get_subscription(session, principal, subscription_id)
    response.headers["ETag"] = etag(sub.version)
    return domain.read_subscription(sub, code)


@router.patch("/{subscription_id}", summary="Change or re-enable a webhook subscription",
              response_model=WebhookSubscriptionRead, responses=problem_responses(401, 403, 404, 412, 422, 428))
async def update_subscription(subscription_id: str, body: WebhookSubscriptionUpdate, session: SessionDep,
                              principal: IntegrationDep, settings: SettingsDep, response: Response,
                              if_match: IfMatch = None) -> WebhookSubscriptionRead:
    sub, code = await domain.update_subscription(session, principal, subscription_id, body, if_match, settings)
    response.headers["ETag"] = etag(sub.version)
    return domain.read_subscription(sub, code)


@router.delete("/{subscription_id}", summary="Delete a webhook subscription", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(401, 403, 404, 412, 428))
async def delete_subscription(subscription_id: str, session: SessionDep, principal: IntegrationDep,
                              if_match: IfMatch = None) -> Response:
    await domain.delete_subscription(session, principal, subscription_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{subscription_id}/rotate-secret", summary="Rotate the signing secret (轮换密钥)",
             response_model=WebhookSecret, responses=problem_responses(401, 403, 404),
             description="A new secret, shown once. The previous one keeps signing beside it (two signatures per "
                         "delivery) until `previous_secret_expires_at`, so you can switch without losing a delivery.")
async def rotate_secret(subscription_id: str, session: SessionDep, principal: IntegrationDep,
                        settings: SettingsDep, response: Response) -> WebhookSecret:
    sub, code, secret = await domain.rotate_secret(session, principal, subscription_id, settings)
    response.headers["ETag"] = etag(sub.version)
    return WebhookSecret(subscription=domain.read_subscription(sub, code), secret=secret)


@router.post("/{subscription_id}/replay", summary="Replay from a sequence number (重放)",
             response_model=WebhookReplayResult, responses=problem_responses(401, 403, 404, 422),
             description="Every delivery with `seq` ≥ `from_seq` is sent again, in order, each with the record as "
                         "it is now.")
async def replay(subscription_id: str, body: WebhookReplay, session: SessionDep,
                 principal: IntegrationDep) -> WebhookReplayResult:
    return WebhookReplayResult(requeued=await domain.replay(session, principal, subscription_id, body.from_seq))


@router.get("/{subscription_id}/deliveries", summary="Delivery log (投递记录)",
            response_model=Page[WebhookDeliveryRead], responses=problem_responses(401, 403, 404, 422),
            description="Deliveries newest first, each with its last attempt (status code, latency, the start of "
                        "your answer).")
async def list_deliveries(
    subscription_id: str, session: SessionDep, principal: IntegrationDep, request: Request, response: Response,
    paging: Annotated[PageParams, Depends(page_params(50))],
    status_: Annotated[Literal["pending", "delivered", "dead", "skipped"] | None, Query(alias="status")] = None,
) -> dict:
    items, next_cursor = await domain.list_deliveries(session, principal, subscription_id, status_, paging.after,
                                                      paging.limit)
    return paged(request, response, items, next_cursor)


@router.get("/{subscription_id}/deliveries/{delivery_id}", summary="One delivery with every attempt",
            response_model=WebhookDeliveryDetail, responses=problem_responses(401, 403, 404))
async def get_delivery(subscription_id: str, delivery_id: str, session: SessionDep,
                       principal: IntegrationDep) -> WebhookDeliveryDetail:
    return await domain.get_delivery(session, principal, subscription_id, delivery_id)


@router.post("/{subscription_id}/deliveries/{delivery_id}/retry", summary="Retry a dead delivery",
             response_model=WebhookDeliveryRead, responses=problem_responses(401, 403, 404))
async def retry_delivery(subscription_id: str, delivery_id: str, session: SessionDep,
                         principal: IntegrationDep) -> WebhookDeliveryRead:
    delivery = await domain.retry_delivery(session, principal, subscription_id, delivery_id)
    return WebhookDeliveryRead.model_validate(domain.delivery_fields(delivery))
