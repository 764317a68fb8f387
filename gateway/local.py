"""Routes the gateway answers itself (everything outside /api/): health, readiness, metrics, the merged OpenAPI
document and the offline docs. They live on a small FastAPI app; the /api/ hot path never touches it."""

from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from gateway.metrics import CONTENT_TYPE_LATEST
from services.errors import PROBLEM_JSON, install_error_handlers, problem_body, problem_responses

__all__ = ["DOCS_STATIC", "GatewayHealth", "GatewayReadiness", "LocalBackend", "make_local_app",
           "make_local_router"]

DOCS_STATIC = "/docs-static"
# Swagger UI and ReDoc ship inside the fastapi-offline wheel: government intranets have no CDN.
_ASSETS = Path(str(files("fastapi_offline") / "static"))


class InstanceStatus(BaseModel):
    ok: bool
    url: str
    status: int | None = Field(None, description="HTTP status of the upstream's /readyz")
    error: str | None = Field(None, description="Why the upstream could not be asked, e.g. timeout")
    latency_ms: float | None = None
    checks: dict[str, Any] | None = Field(None, description="The upstream's own readiness checks")


class UpstreamStatus(InstanceStatus):
    instances: list[InstanceStatus] | None = Field(
        None, description="多实例: each instance of the service (GATEWAY_<SERVICE>_URLS), when it has several; the "
                          "service is ready while one of them is, and the fields above are that instance's")


class GatewayHealth(BaseModel):
    status: str = Field(examples=["ok"])
    service: str = Field(examples=["gateway"])


class GatewayReadiness(BaseModel):
    status: str = Field(description="ok when every upstream is ready, else degraded", examples=["ok"])
    service: str = "gateway"
    upstreams: dict[str, UpstreamStatus]


class LocalBackend(Protocol):
    """What the routes need from the gateway (set as app.state.gateway)."""

    async def readiness(self) -> dict[str, dict[str, Any]]: ...

    def metrics_text(self) -> bytes: ...

    async def openapi_bytes(self) -> bytes: ...

    @property
    def title(self) -> str: ...


def _backend(request: Request) -> LocalBackend:
    return request.app.state.gateway  # type: ignore[no-any-return]


def make_local_router() -> APIRouter:
    router = APIRouter(tags=["gateway"])

    @router.get("/healthz", summary="Gateway liveness", response_model=GatewayHealth)
    async def healthz() -> GatewayHealth:
        return GatewayHealth(status="ok", service="gateway")

    @router.get("/readyz", summary="Readiness of every upstream service", response_model=GatewayReadiness,
                response_model_exclude_none=True,
                description="Asks each service's /readyz concurrently (2 s limit). 200 only when all are ready; "
                            "otherwise 503 problem+json carrying the same `upstreams` details.",
                responses=problem_responses(503))
    async def readyz(request: Request) -> Any:
        upstreams = await _backend(request).readiness()
        if all(u["ok"] for u in upstreams.values()):
            return GatewayReadiness(status="ok", upstreams=upstreams)  # type: ignore[arg-type]
        down = sorted(name for name, u in upstreams.items() if not u["ok"])
        body = problem_body(503, f"Not ready: {', '.join(down)} not answering /readyz with 200.", code="not_ready",
                            instance="/readyz")
        # RFC 9457 reserves `status` for the HTTP status, so the readiness word travels as `readiness`.
        body.update(readiness="degraded", service="gateway", upstreams=upstreams)
        return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response,
                responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
    async def metrics(request: Request) -> Response:
        return Response(_backend(request).metrics_text(), media_type=CONTENT_TYPE_LATEST)

    return router


def make_local_app(backend: LocalBackend) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, title="gateway")
    app.state.gateway = backend
    install_error_handlers(app)
    app.include_router(make_local_router())

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json(request: Request) -> Response:
        return Response(await _backend(request).openapi_bytes(), media_type="application/json")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json", title=f"{backend.title} — Swagger UI",
            swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            # validatorUrl None: Swagger UI would otherwise call validator.swagger.io from the browser.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True, "docExpansion": "list",
                                   "displayRequestDuration": True},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{backend.title} — ReDoc",
                              redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png", with_google_fonts=False)

    app.mount(DOCS_STATIC, StaticFiles(directory=_ASSETS), name="docs-static")
    return app
