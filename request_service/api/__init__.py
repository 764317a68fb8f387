"""HTTP surface of the request service: thin endpoints, one module per resource."""

from fastapi import APIRouter

from request_service.api import applications, vocabularies

PREFIX = "/api/v1/requests"
router = APIRouter()
router.include_router(vocabularies.router)
router.include_router(applications.router)
