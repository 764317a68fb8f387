"""RFC 9457 problem details: one error envelope for every service and the gateway.

Only install_error_handlers() turns exceptions into HTTP; domain code raises AppError subclasses.
"""

import json
import logging
import re
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.observability import current_request_id

__all__ = [
    "PROBLEM_JSON",
    "AppError",
    "BadRequest",
    "Conflict",
    "ErrorBody",
    "FieldError",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "PreconditionRequired",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnprocessableEntity",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "document_problems",
    "install_error_handlers",
    "is_database_unavailable",
    "problem_body",
    "problem_response",
    "problem_responses",
]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("gongkai.errors")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is, e.g. ['body', 'title']")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """RFC 9457 problem details with a stable machine-readable `code`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "type": "urn:gongkai:problem:not_found", "title": "Not Found", "title_zh": "资源不存在", "status": 404,
        "detail": "Document 42 does not exist.", "code": "not_found", "request_id": "7f3c0e0c2a1b4c5d"}]})

    type: str = Field(description="URI identifying the problem type: urn:gongkai:problem:<code>")
    title: str
    title_zh: str = Field(description="Chinese title · 中文标题")
    status: int
    detail: str
    code: str = Field(description="Stable snake_case error code; clients switch on this")
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class AppError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal Server Error"
    title_zh: ClassVar[str] = "服务器内部错误"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class BadRequest(AppError):
    status_code, code, title, title_zh = 400, "bad_request", "Bad Request", "请求无效"


class Unauthorized(AppError):
    status_code, code, title, title_zh = 401, "unauthorized", "Unauthorized", "未认证或令牌无效"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        # RFC 6750 §3.1: a request without credentials gets the challenge alone, no error code.
        challenge = ('Bearer realm="gongkai"' if code == "authentication_required"
                     else 'Bearer realm="gongkai", error="invalid_token"')
        super().__init__(detail, headers={"WWW-Authenticate": challenge})
        if code:
            self.code = code  # type: ignore[misc]


class Forbidden(AppError):
    status_code, code, title, title_zh = 403, "forbidden", "Forbidden", "无权执行此操作"


class NotFound(AppError):
    status_code, code, title, title_zh = 404, "not_found", "Not Found", "资源不存在"


class Conflict(AppError):
    status_code, code, title, title_zh = 409, "conflict", "Conflict", "与当前状态冲突"


class PreconditionFailed(AppError):
    status_code, code, title, title_zh = 412, "precondition_failed", "Precondition Failed", "版本已变化，请刷新后重试"


class PayloadTooLarge(AppError):
    status_code, code, title, title_zh = 413, "payload_too_large", "Payload Too Large", "请求体过大"


class UnprocessableEntity(AppError):
    status_code, code, title, title_zh = 422, "validation_error", "Unprocessable Entity", "请求内容校验未通过"


class PreconditionRequired(AppError):
    status_code, code, title, title_zh = 428, "precondition_required", "Precondition Required", "缺少 If-Match 版本条件"


class TooManyRequests(AppError):
    status_code, code, title, title_zh = 429, "too_many_requests", "Too Many Requests", "请求过于频繁"


class UpstreamUnavailable(AppError):
    status_code, code, title, title_zh = 502, "upstream_unavailable", "Bad Gateway", "上游服务不可用"


class ServiceUnavailable(AppError):
    status_code, code, title, title_zh = 503, "service_unavailable", "Service Unavailable", "服务暂不可用"


class UpstreamTimeout(AppError):
    status_code, code, title, title_zh = 504, "upstream_timeout", "Gateway Timeout", "上游服务超时"


_STATUS_TITLES: dict[int, tuple[str, str, str]] = {
    cls.status_code: (cls.code, cls.title, cls.title_zh)
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed, PayloadTooLarge,
                UnprocessableEntity, PreconditionRequired, TooManyRequests, UpstreamUnavailable,
                ServiceUnavailable, UpstreamTimeout, AppError)
}
_STATUS_TITLES[405] = ("method_not_allowed", "Method Not Allowed", "不支持该请求方法")
_STATUS_TITLES[406] = ("not_acceptable", "Not Acceptable", "无法提供所请求的格式")
_STATUS_TITLES[415] = ("unsupported_media_type", "Unsupported Media Type", "不支持的请求内容类型")


def problem_body(status: int, detail: str, *, code: str | None = None, title: str | None = None,
                 title_zh: str | None = None, instance: str | None = None,
                 errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    default_code, default_title, default_zh = _STATUS_TITLES.get(status, ("error", "Error", "错误"))
    code = code or default_code
    body: dict[str, Any] = {
        "type": f"urn:gongkai:problem:{code}",
        "title": title or default_title,
        "title_zh": title_zh or default_zh,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(status: int, detail: str, *, headers: dict[str, str] | None = None,
                     **kwargs: Any) -> JSONResponse:
    return JSONResponse(problem_body(status, detail, **kwargs), status_code=status,
                        media_type=PROBLEM_JSON, headers=headers)


ERROR_BODY_REF = "#/components/schemas/ErrorBody"


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": ERROR_BODY_REF}}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for route decorators, so the OpenAPI documents every error a route returns, as it is
    served: `application/problem+json` with the ErrorBody schema. (`model` only registers ErrorBody in the
    components; FastAPI also files it under the route's `application/json`, which document_problems() removes.)"""
    return {s: {"model": ErrorBody, "content": _problem_content()} for s in statuses}


def _add_problem(responses: dict[str, Any], status: int, description: str) -> None:
    responses.setdefault(str(status), {"description": description, "content": _problem_content()})


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make an app's OpenAPI document say what its errors really are (idempotent; run on the cached document).

    - every 4xx/5xx response is `application/problem+json` with ErrorBody — including FastAPI's automatic 422,
      which it files as `application/json` HTTPValidationError although install_error_handlers() answers it;
    - an operation with a request body also answers 400 (a body that is not JSON or not UTF-8: FastAPI's "error
      parsing the body"), 413 (the body limit of RequestContextMiddleware) and 422.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorBody" not in components:
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        components.update(body.pop("$defs", {}))
        components["ErrorBody"] = body
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            for status, response in responses.items():
                if status[:1] in ("4", "5") and "content" in response:
                    response["content"] = _problem_content()
                    if status == "422" and response.get("description") == "Validation Error":
                        response["description"] = "Unprocessable Entity"
            if "requestBody" in operation:
                _add_problem(responses, 400, "Bad Request: the body could not be parsed")
                _add_problem(responses, 413, "Payload Too Large")
                _add_problem(responses, 422, "Unprocessable Entity")
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 models, now referenced by nothing
        others = {k: v for k, v in components.items() if k != name}
        if name in components and f'/{name}"' not in json.dumps([schema.get("paths", {}), others]):
            del components[name]
    return schema


# Chinese for pydantic's error types (字段校验信息): the message a portal shows citizens reads "中文 · English".
_ZH_BY_TYPE = {
    "missing": "缺少必填字段", "extra_forbidden": "不允许的字段", "json_invalid": "不是有效的 JSON",
    "string_type": "应为文本", "string_too_short": "文本过短", "string_too_long": "文本过长",
    "string_pattern_mismatch": "格式不符合要求", "int_type": "应为整数", "int_parsing": "应为整数",
    "int_from_float": "应为整数", "float_type": "应为数字", "float_parsing": "应为数字",
    "decimal_parsing": "应为数字", "decimal_type": "应为数字", "bool_type": "应为布尔值（true/false）",
    "bool_parsing": "应为布尔值（true/false）", "enum": "不是允许的取值", "literal_error": "不是允许的取值",
    "greater_than": "超出允许范围", "greater_than_equal": "超出允许范围", "less_than": "超出允许范围",
    "less_than_equal": "超出允许范围", "too_short": "条目过少", "too_long": "条目过多",
    "date_type": "应为日期（YYYY-MM-DD）", "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）", "date_from_datetime_inexact": "应为日期（YYYY-MM-DD）",
    "datetime_type": "应为日期时间（ISO 8601）", "datetime_parsing": "应为日期时间（ISO 8601）",
    "datetime_from_date_parsing": "应为日期时间（ISO 8601）", "list_type": "应为列表",
    "dict_type": "应为 JSON 对象", "model_type": "应为 JSON 对象", "model_attributes_type": "应为 JSON 对象",
    "uuid_type": "应为 UUID", "uuid_parsing": "应为 UUID", "url_parsing": "应为网址", "url_type": "应为网址",
    "value_error": "取值无效", "assertion_error": "取值无效", "value_not_unique": "取值重复",
}


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the submitted input back: it may carry personal data (reliability.md §2.2).
    return [{"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
             "msg": f"{_ZH_BY_TYPE.get(e.get('type', ''), '校验未通过')} · {e.get('msg', '')}",
             "type": e.get("type", "")} for e in exc.errors()]


def _allowed_methods(request: Request, fallback: str) -> str:
    """`Allow` of a 405: every method the app documents for the path, not only those of the first route Starlette
    matched (GET /documents hid POST /documents). Where a literal path and a template both match
    (/documents/bulk, /documents/{document_id}) the most specific one is the resource, as in routing. Paths the
    document does not show (/metrics, /openapi.json) keep Starlette's answer."""
    index = getattr(request.app.state, "allow_index", None)
    if index is None:
        index = []
        for template, item in request.app.openapi().get("paths", {}).items():
            regex = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
            methods = {m.upper() for m in item if m.upper() in _METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            index.append((template.count("{"), -len(template), regex, ", ".join(sorted(methods))))
        index.sort(key=lambda entry: entry[:2])  # most specific first
        request.app.state.allow_index = index
    path = request.scope.get("path", request.url.path)
    return next((allow for *_, regex, allow in index if regex.match(path)), fallback)


_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"})


# SQLSTATEs of a PostgreSQL that is away rather than refusing a query: class 08 (connection exceptions), 57P01
# admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up), 53300 too many connections.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_database_unavailable(exc: DBAPIError) -> bool:
    """The database is absent, restarting or the connection was lost — a 503 to retry, never a 500 — as opposed
    to a statement it refused (a bug, or a conflict the caller handles)."""
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES


def install_error_handlers(app: FastAPI) -> None:
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(exc.status_code, exc.detail, code=exc.code, title=exc.title,
                                title_zh=exc.title_zh, instance=request.url.path, errors=exc.errors,
                                headers=exc.headers)

    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(422, "请求内容校验未通过，详见 errors。"
                                     "The request did not pass validation; see `errors`.",
                                code="validation_error", instance=request.url.path, errors=_field_errors(exc))

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "route_not_found" if exc.status_code == 404 else None
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route matches {request.method} {request.url.path}."
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            allow = _allowed_methods(request, (headers or {}).get("Allow", ""))
            headers = {**(headers or {}), "Allow": allow}
            detail = f"{request.method} is not allowed here; allowed: {allow}."
        return problem_response(exc.status_code, detail, code=code, instance=request.url.path, headers=headers)

    def database_unavailable(request: Request) -> JSONResponse:
        return problem_response(503, "The database is unavailable; retry shortly.", code="database_unavailable",
                                instance=request.url.path, headers={"Retry-After": "2"})

    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if is_database_unavailable(exc):
            log.warning("database unavailable: %s %s", type(exc.orig).__name__ if exc.orig else exc,
                        getattr(exc.orig, "sqlstate", None) or "")
            return database_unavailable(request)
        log.exception("database error")
        return problem_response(500, "An unexpected error occurred.", instance=request.url.path)

    async def os_error(request: Request, exc: OSError) -> JSONResponse:
        # Registered for OSError itself (not left to the Exception handler): Starlette re-raises whatever reaches
        # the Exception handler after answering, so every request of a database outage logged a traceback at
        # ERROR. A refused, reset or timed-out connection here is the database's: the pool's connect raises the
        # driver's socket error unwrapped (asyncpg: ConnectionRefusedError, TimeoutError).
        if isinstance(exc, ConnectionError | TimeoutError):
            log.warning("database unreachable: %s", type(exc).__name__)
            return database_unavailable(request)
        log.exception("unhandled error")
        return problem_response(500, "An unexpected error occurred.", instance=request.url.path)

    async def pool_exhausted(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection stayed busy for the pool timeout: the service is overloaded, not broken. A 503
        # with Retry-After lets clients and the gateway back off (found by the load run: these were 500s).
        log.warning("database connection pool exhausted")
        return problem_response(503, "The service is busy; retry shortly.", code="service_busy",
                                title="Service Unavailable", title_zh="服务繁忙，请稍后重试", instance=request.url.path,
                                headers={"Retry-After": "1"})

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, "An unexpected error occurred.", instance=request.url.path)

    app.add_exception_handler(AppError, app_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, database_error)  # type: ignore[arg-type]
    app.add_exception_handler(OSError, os_error)  # type: ignore[arg-type]
    app.add_exception_handler(PoolTimeout, pool_exhausted)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)
