"""/healthz (the process answers) and /readyz (the database answers)."""

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.errors import problem_body

__all__ = ["Health", "make_health_router"]


class Health(BaseModel):
    status: str
    service: str
    checks: dict[str, Any] = {}


def make_health_router(service: str) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Process liveness", response_model=Health)
    async def healthz() -> Health:
        return Health(status="ok", service=service)

    @router.get("/readyz", summary="Readiness: the database and background consumers",
                response_model=Health, responses={503: {"description": "Not ready (problem+json)"}})
    async def readyz(request: Request) -> Any:
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(request.state.database.ping(), timeout=2.0)
            checks["database"] = {"ok": True, "dialect": request.state.database.dialect}
        except Exception as exc:  # any failure means not ready; the type tells ops where to look
            checks["database"] = {"ok": False, "error": type(exc).__name__}
        for name, probe in getattr(request.state, "readiness_probes", {}).items():
            checks[name] = await probe()
        ok = all(c.get("ok", True) for c in checks.values())
        if ok:
            return Health(status="ok", service=service, checks=checks)
        body = problem_body(503, "A dependency is not ready.", code="not_ready")
        body["checks"] = checks
        return JSONResponse(body, status_code=503, media_type="application/problem+json")

    return router
