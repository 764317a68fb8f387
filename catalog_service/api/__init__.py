"""HTTP surface of the catalogue: thin endpoints, one module per resource."""

from fastapi import APIRouter

from catalog_service.api import documents, organs

PREFIX = "/api/v1/catalog"
router = APIRouter()
router.include_router(organs.router)
router.include_router(documents.router)
