"""HTTP surface of the catalogue: thin endpoints, one module per resource."""

from fastapi import APIRouter

from catalog_service.api import documents, organs, search

PREFIX = "/api/v1/catalog"
router = APIRouter()
# Search first: the public's most frequent request, and routes are matched in order (its paths are literal, so it
# shadows no other route).
router.include_router(search.router)
router.include_router(organs.router)
router.include_router(documents.router)
from catalog_service.api import sync  # noqa: E402

router.include_router(sync.router)
from catalog_service.api import attachments  # noqa: E402

router.include_router(attachments.router)
from catalog_service.api import synonyms  # noqa: E402

router.include_router(synonyms.router)
from catalog_service.api import webhooks  # noqa: E402

router.include_router(webhooks.router)
from catalog_service.api import columns  # noqa: E402

router.include_router(columns.router)
from catalog_service.api import exchange  # noqa: E402

router.include_router(exchange.router)
from catalog_service.api import validity  # noqa: E402

router.include_router(validity.router)
from catalog_service.api import standards  # noqa: E402

router.include_router(standards.router)
