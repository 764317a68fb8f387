"""The wiring every service shares: lifespan (engine, token verifier), errors, request ids, health.

A service's create_app() calls create_service_app() with its own routers; that keeps each app.py short
and makes every service behave the same at the edges.
"""

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from services.audit import AuditLog, make_audit_router
from services.auth import TokenVerifier
from services.concurrency import document_etags, document_if_match
from services.contract import require_response_fields
from services.db import Database, make_engine
from services.errors import document_problems, install_error_handlers
from services.forwarded import ForwardedHeadersMiddleware
from services.health import make_health_router
from services.inputs import reject_unstorable_params
from services.observability import RequestContextMiddleware, configure_logging, keep_personal_data_out_of_logs
from services.policy import Policy
from services.problem_codes import document_problem_codes
from services.replicas import CommitLsnMiddleware, ReplicaSet
from services.settings import ServiceSettings

__all__ = ["LifespanHook", "create_service_app"]

# A hook runs inside the lifespan with the shared state dict; it may add to it and yield while serving.
LifespanHook = Callable[[FastAPI, dict[str, Any]], Any]
ReadinessProbe = Callable[[], Awaitable[dict[str, Any]]]


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter],
    database: Database | None = None,
    hooks: Sequence[LifespanHook] = (),
    openapi_tags: list[dict[str, Any]] | None = None,
    policy: Policy | None = None,
    audit: AuditLog | None = None,
) -> FastAPI:
    """`database` is given by tests (bound to one connection); otherwise the lifespan makes the engine."""
    keep_personal_data_out_of_logs()  # also when the process's logging is set up by someone else (tests, embedding)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        if database is None:
            configure_logging(name, settings.log_level, settings.log_format)
        db = database or Database(make_engine(settings.database_url, pool_size=settings.db_pool_size))
        state: dict[str, Any] = {
            "database": db,
            "token_verifier": TokenVerifier(settings.auth),
            "settings": settings,
            "readiness_probes": {},
            "audit_log": audit,
            "replicas": None,
        }
        if policy is not None and database is None:
            policy.check(app)  # a real process refuses to start with an endpoint nobody wrote a rule for
        replicas, stop_checks, checker = None, asyncio.Event(), None
        if settings.database_replica_urls:  # 只读副本: checked once before serving, then in the background
            replicas = ReplicaSet.from_urls(db, settings.database_replica_urls, pool_size=settings.db_pool_size,
                                            max_lag_seconds=settings.replica_max_lag_seconds,
                                            check_interval_seconds=settings.replica_check_interval_seconds,
                                            wait_seconds=settings.replica_wait_seconds)
            await replicas.check()
            checker = asyncio.create_task(replicas.run(stop_checks))
            state["replicas"] = replicas

            async def replica_probe() -> dict[str, Any]:
                return replicas.status()

            state["readiness_probes"]["replicas"] = replica_probe
        try:
            async with _run_hooks(app, state, list(hooks)):
                # Start-up leaves a large, long-lived heap (models, OpenAPI, routes): move it out of the cyclic
                # collector's reach so full collections stop stalling requests (p99 spikes under load).
                if database is None:  # a real process, not a test building apps by the hundred
                    gc.collect()
                    gc.freeze()
                yield state
        finally:
            stop_checks.set()
            if checker is not None:
                await checker
            if replicas is not None:
                await replicas.dispose()
            await db.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        generate_unique_id_function=lambda route: f"{name}-{route.name}",
        docs_url=None,  # docs are served (offline) by the gateway for the merged surface
        redoc_url=None,
        # The access policy runs before any other dependency and before the body is read (services/policy.py).
        # Then parameters nothing could store (NUL) are refused with a 422 (services/inputs.py).
        dependencies=[*([Depends(policy.enforce)] if policy is not None else []), Depends(reject_unstorable_params)],
    )
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # cached by FastAPI; each step below is idempotent, and done once
        if getattr(app.state, "openapi_documented", False):
            return schema
        if policy is not None:
            policy.annotate(schema)
        # errors and their codes, preconditions, versions and the fields of responses, as served
        document_problem_codes(app, document_problems(schema))
        require_response_fields(document_etags(document_if_match(schema)))
        app.state.openapi_documented = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, log_access=settings.access_log,
                       max_body_bytes=settings.max_body_bytes, body_limits=settings.body_limits)
    if settings.database_replica_urls:  # read-your-writes: a write's answer names the WAL position to wait for
        app.add_middleware(CommitLsnMiddleware)
    if settings.trusted_proxies:  # outermost: everything after sees the client a trusted proxy reported
        app.add_middleware(ForwardedHeadersMiddleware, trusted_proxies=settings.trusted_proxies)
    app.include_router(make_health_router(name))
    for router in routers:
        app.include_router(router)
    if audit is not None:
        app.include_router(make_audit_router(audit))
    return app


@asynccontextmanager
async def _run_hooks(app: FastAPI, state: dict[str, Any], hooks: list[LifespanHook]) -> AsyncIterator[None]:
    if not hooks:
        yield
        return
    async with hooks[0](app, state), _run_hooks(app, state, hooks[1:]):
        yield
