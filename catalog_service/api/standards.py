"""基层政务公开标准目录 (issue 16 item 4): thin endpoints over domain/standards.py. Catalogues and adoptions are
public reference data; import and adoption are the admin's, explicit mapping the adopting organ's staff's; the
coverage report is public (public records only)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BeforeValidator

from catalog_service.api.validity import _iso_day
from catalog_service.deps import CalendarDep
from catalog_service.domain import standards as domain
from catalog_service.domain.documents import today_shanghai
from catalog_service.schemas import (
    StandardAdoptionCreate,
    StandardAdoptionRead,
    StandardCatalogueImport,
    StandardCatalogueRead,
    StandardCoverageReport,
    StandardMappingCreate,
    StandardMappingRead,
)
from services.auth import Principal, require_roles
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import Page, PageParams, page_params, paged

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX, tags=["standard-catalogues"])
AdminDep = Annotated[Principal, Depends(require_roles("admin"))]
_ANNOUNCED = "Announced on the event feed (standard_adoption.changed) for the scorecard's coverage indicator."
OrganCode = Annotated[str, Query(min_length=9, max_length=18, pattern="^[0-9A-Z]+$", description="one organ's")]


@router.post("/standard-catalogues", summary="Import a standard catalogue (基层政务公开标准目录, admin)",
             status_code=status.HTTP_201_CREATED, response_model=StandardCatalogueRead,
             responses=problem_responses(401, 403, 422))
async def import_catalogue(body: StandardCatalogueImport, session: SessionDep,
                           principal: AdminDep) -> StandardCatalogueRead:
    """One area's item list with its source named; a code imported again is stored as its next version."""
    return await domain.import_catalogue(session, body, principal)


@router.get("/standard-catalogues", summary="Standard catalogues (基层政务公开标准目录)",
            response_model=Page[StandardCatalogueRead], responses=problem_responses(422))
async def list_catalogues(session: SessionDep, request: Request, response: Response,
                          paging: Annotated[PageParams, Depends(page_params(20))]) -> dict:
    items, next_cursor = await domain.list_catalogues(session, paging.after, paging.limit)
    return paged(request, response, items, next_cursor)


@router.get("/standard-catalogues/{catalogue_id}", summary="One standard catalogue with its items",
            response_model=StandardCatalogueRead, responses=problem_responses(404))
async def get_catalogue(catalogue_id: str, session: SessionDep) -> StandardCatalogueRead:
    return StandardCatalogueRead.model_validate(await domain.get_catalogue(session, catalogue_id))


@router.post("/standard-adoptions", summary="An organ adopts a standard catalogue or items of it (admin)",
             description=_ANNOUNCED, status_code=status.HTTP_201_CREATED, response_model=StandardAdoptionRead,
             responses=problem_responses(401, 403, 404, 422))
async def adopt(body: StandardAdoptionCreate, session: SessionDep, _: AdminDep) -> StandardAdoptionRead:
    return await domain.adopt(session, body, today_shanghai())


@router.get("/standard-adoptions", summary="Organs' adoptions of standard catalogues",
            response_model=Page[StandardAdoptionRead], responses=problem_responses(422))
async def list_adoptions(session: SessionDep, request: Request, response: Response,
                         paging: Annotated[PageParams, Depends(page_params(50))],
                         organ: OrganCode | None = None) -> dict:
    items, next_cursor = await domain.list_adoptions(session, organ, paging.after, paging.limit)
    return paged(request, response, items, next_cursor)


@router.get("/standard-adoptions/{adoption_id}", summary="One adoption", response_model=StandardAdoptionRead,
            responses=problem_responses(404))
async def get_adoption(adoption_id: str, session: SessionDep) -> StandardAdoptionRead:
    return await domain.get_adoption(session, adoption_id)


@router.post("/standard-adoptions/{adoption_id}/mappings",
             summary="Map one of the organ's records to an adopted item (the organ's staff)", description=_ANNOUNCED,
             status_code=status.HTTP_201_CREATED, response_model=StandardMappingRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def add_mapping(adoption_id: str, body: StandardMappingCreate, session: SessionDep,
                      principal: Annotated[Principal, Depends(require_roles(
                          "drafter", "division_head", "unit_head"))]) -> StandardMappingRead:
    return await domain.add_mapping(session, principal, adoption_id, body, today_shanghai())


@router.get("/standard-coverage/{organ_code}",
            summary="Standard-catalogue coverage of an organ (覆盖率) with the records behind each item",
            response_model=StandardCoverageReport, responses=problem_responses(404, 422))
async def get_coverage(organ_code: str, session: SessionDep, calendar: CalendarDep,
                       as_of: Annotated[date | None, BeforeValidator(_iso_day),
                                         Query(description="the day, YYYY-MM-DD (default today, Beijing)")] = None,
                       ) -> StandardCoverageReport:
    """Per adopted item: covered or not, its mapped public records, its last publication and (periodic / yearly
    items) its next due date on the working-day calendar; coverage = covered / adopted."""
    return StandardCoverageReport.model_validate(
        await domain.coverage(session, organ_code, as_of or today_shanghai(), calendar))
