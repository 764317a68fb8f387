"""HTTP surface of the request service: thin endpoints, one module per resource."""

from fastapi import APIRouter

from request_service.api import applications, vocabularies

PREFIX = "/api/v1/requests"
router = APIRouter()
router.include_router(vocabularies.router)
router.include_router(applications.router)

from request_service.api import appeals, calendar, fees, letters  # noqa: E402  (letters, fees, appeals, calendar)

router.include_router(letters.router)
router.include_router(fees.router)
router.include_router(appeals.router)
router.include_router(calendar.router)

from request_service.api import consultations, intake, public  # noqa: E402  (intake, applicant side, 咨询)

router.include_router(intake.router)
router.include_router(public.router)
router.include_router(consultations.router)
# public.mine_router (GET /applications/mine) is included by app.py AHEAD of this router: see public.py.
from request_service.api import proactive  # noqa: E402  (依申请转主动, issue 16 item 5)

router.include_router(proactive.router)
