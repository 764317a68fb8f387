"""信息处理费 calculator (国办函〔2020〕109号): public arithmetic, and a handler's preview for one application."""

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, computed_field

from request_service.domain import fees as domain
from request_service.domain.applications import load_application
from request_service.vocab import FeeMethod
from services.auth import Principal, PrincipalDep, require_staff
from services.db import SessionDep
from services.errors import problem_responses
from services.vocab import Term, label

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX, tags=["fees"])


async def _staff(principal: PrincipalDep) -> Principal:
    return require_staff(principal)


StaffDep = Annotated[Principal, Depends(_staff)]


class FeeBandRead(BaseModel):
    first: int
    last: int
    units: int
    rate: Decimal = Field(description="元 per application or per page in this band")
    amount: Decimal


class FeeCalculationRead(BaseModel):
    method: FeeMethod
    quantity: int = Field(description="Applications in the month (per_application) or pages (per_volume)")
    amount: Decimal = Field(description="元")
    bands: list[FeeBandRead]
    basis: str
    standard: str

    @computed_field(description="收费方式 · fee method label")  # type: ignore[prop-decorator]
    @property
    def method_label(self) -> Term:
        return label(self.method)  # type: ignore[return-value]


class FeePreviewRead(BaseModel):
    method: FeeMethod
    amount: Decimal = Field(description="元, the fee of this application")
    pages: int | None
    nth: int | None = Field(description="per_application: this application's position among the applicant's "
                                        "applications to this organ in the month of its receipt")
    basis: str
    standard: str

    @computed_field(description="收费方式 · fee method label")  # type: ignore[prop-decorator]
    @property
    def method_label(self) -> Term:
        return label(self.method)  # type: ignore[return-value]


@router.get("/fees/calculate", summary="Fee calculator (信息处理费计算): total for N applications in a month, or "
                                       "for one application of N pages", response_model=FeeCalculationRead,
            responses=problem_responses(422))
async def calculate_fee(
    method: Annotated[FeeMethod, Query(description="per_application | per_volume")],
    quantity: Annotated[int, Query(ge=0, le=100_000, description="Applications (per_application) or pages")],
) -> FeeCalculationRead:
    amount, bands = domain.quote(method.value, quantity)
    return FeeCalculationRead(
        method=method, quantity=quantity, amount=amount, basis=domain.BASIS, standard=domain.STANDARD[method.value],
        bands=[FeeBandRead(first=b.first, last=b.last, units=b.units, rate=b.rate, amount=b.amount) for b in bands])


@router.get("/applications/{application_id}/fee-preview", summary="The fee this application would be charged",
            response_model=FeePreviewRead, responses=problem_responses(401, 404, 409, 422))
async def preview_fee(
    application_id: str, session: SessionDep, principal: StaffDep,
    method: Annotated[FeeMethod, Query(description="per_application | per_volume")],
    pages: Annotated[int | None, Query(ge=0, le=1_000_000, description="Pages (required for per_volume)")] = None,
) -> FeePreviewRead:
    app = await load_application(session, principal, application_id)
    preview = await domain.fee_preview(session, app, method.value, pages)
    return FeePreviewRead(method=method, amount=preview.amount, pages=preview.pages, nth=preview.nth,
                          basis=domain.BASIS, standard=preview.standard)
