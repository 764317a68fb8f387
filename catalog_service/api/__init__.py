"""HTTP surface of the catalogue: thin endpoints, one module per resource."""

from fastapi import APIRouter

from catalog_service.api import documents, organs

PREFIX = "/api/v1/catalog"
router = APIRouter()
router.include_router(organs.router)
router.include_router(documents.router)
from catalog_service.api import sync  # noqa: E402

router.include_router(sync.router)
from catalog_service.api import attachments  # noqa: E402

router.include_router(attachments.router)
from catalog_service.api import search  # noqa: E402

router.include_router(search.router)
from catalog_service.api import synonyms  # noqa: E402

router.include_router(synonyms.router)
from catalog_service.api import webhooks  # noqa: E402

router.include_router(webhooks.router)
from catalog_service.api import exchange  # noqa: E402

router.include_router(exchange.router)
