"""Request ids and structured JSON logs, with no personal data in them.

RequestContextMiddleware is plain ASGI (no BaseHTTPMiddleware): it sits on every request's hot path.

No personal data in the logs (个人信息, PIPL art. 51; security review, issue 11): our own lines name methods, paths,
statuses, ids and exception types, never field values, and the access line has the path without the query string.
Libraries are kept in step by `keep_personal_data_out_of_logs`: httpx logs each request's URL at INFO, and the
request service's catalogue search carries the requested title in `q=` (a title can name a person), so URLs lose
their query strings; aiosqlite logs every statement with its bound values at DEBUG, so it stays at INFO whatever the
log level. The engines hide bound values from SQLAlchemy's errors (services/db.py), and the JSON lines strip query
strings from any URL a message or traceback still carries. A validation error's message quotes the values that
failed (`input_value='138…'`): in a logged traceback it is replaced by where and why, without the values — the
service's own handler and uvicorn's "Exception in ASGI application" both write through JsonFormatter.
"""

import json
import logging
import re
import sys
import time
import traceback
import uuid
from contextvars import ContextVar
from typing import Any

__all__ = ["REQUEST_ID_HEADER", "ROUTINE_PATHS", "ConsoleFormatter", "RedactQueryStrings", "RequestContextMiddleware",
           "configure_logging", "current_request_id", "format_exception_without_values",
           "keep_personal_data_out_of_logs", "redact_query_strings"]

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
access_log = logging.getLogger("gongkai.access")


def current_request_id() -> str | None:
    return _request_id.get()


# A URL's query string: scheme://authority/path?query — up to whitespace, a fragment or a closing quote.
_URL_QUERY = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s?#\"'<>]*)\?[^\s#\"'<>]*")


def redact_query_strings(text: str) -> str:
    return _URL_QUERY.sub(r"\1?[redacted]", text)


class RedactQueryStrings(logging.Filter):
    """Strips the query string from every URL in a record's message and arguments (arguments that are no URL, such
    as the status code of a `%d`, keep their type)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query_strings(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(arg) for arg in record.args)
        return True


def _redacted_arg(arg: Any) -> Any:
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = str(arg)
    redacted = redact_query_strings(text)
    return arg if redacted == text else redacted


def keep_personal_data_out_of_logs() -> None:
    """Set the libraries' loggers so they cannot write personal data (module docstring). Idempotent; called when a
    service or the gateway configures logging and when a service app is built."""
    logging.getLogger("aiosqlite").setLevel(logging.INFO)  # DEBUG: every statement with its bound values
    logging.getLogger("httpcore").setLevel(logging.INFO)  # DEBUG: raw response headers of every exchange
    httpx_log = logging.getLogger("httpx")  # INFO: "HTTP Request: GET <url with query> ..."
    if not any(isinstance(f, RedactQueryStrings) for f in httpx_log.filters):
        httpx_log.addFilter(RedactQueryStrings())


def _validation_error_types() -> tuple[type[BaseException], ...]:
    from fastapi.exceptions import ValidationException  # Request/ResponseValidationError
    from pydantic import ValidationError

    return ValidationError, ValidationException


def _without_values(exc: BaseException) -> str:
    errors = exc.errors()  # type: ignore[attr-defined]
    where = "; ".join(f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('type', '?')}" for e in errors)
    return f"{len(errors)} validation error(s), values withheld: {where}"


def format_exception_without_values(exc_info: Any) -> str:
    """The traceback as logging.Formatter writes it, with every validation error's message (in the chain too)
    replaced by its locations and error types."""
    text = "".join(traceback.format_exception(*exc_info))
    kinds = _validation_error_types()
    exc, seen = exc_info[1], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, kinds):
            message = str(exc)
            if message:
                text = text.replace(message, _without_values(exc))
        exc = exc.__cause__ or exc.__context__
    return text


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": redact_query_strings(record.getMessage()),
        }
        request_id = _request_id.get()
        if request_id:
            entry["request_id"] = request_id
        extra = getattr(record, "fields", None)
        if extra:
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = redact_query_strings(format_exception_without_values(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


# Polled by machines all the time: their access lines are DEBUG.
ROUTINE_PATHS = frozenset({"/internal/v1/events", "/internal/v1/audit", "/healthz", "/readyz", "/metrics"})


class ConsoleFormatter(logging.Formatter):
    """One readable line per record for a developer's terminal (`make run`): time, service, level, message, and
    the request id; JSON lines stay the default for log collectors."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(record.created))
        request_id = _request_id.get()
        line = f"{when} {self.service:<8} {record.levelname:<7} {redact_query_strings(record.getMessage())}"
        fields = getattr(record, "fields", None) or {}
        if "duration_ms" in fields:
            line += f" {fields['duration_ms']:.0f} ms"
        if request_id:
            line += f"  [{request_id[:8]}]"
        if record.exc_info and record.levelno >= logging.ERROR:  # a real problem keeps its traceback
            line += "\n" + redact_query_strings(format_exception_without_values(record.exc_info))
        return line


def configure_logging(service: str, level: str = "INFO", log_format: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter(service) if log_format == "console" else JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # ours carries the request id, and no query string
    # httpx logs every request it sends at INFO ("HTTP Request: GET …"): each feed poll, each service call. The
    # outcomes that matter are logged by the callers (an upstream unreachable, reachable again).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    keep_personal_data_out_of_logs()


def _new_request_id() -> str:
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Takes X-Request-ID from the caller (or makes one), echoes it, logs one access line per request,
    and refuses request bodies larger than `max_body_bytes` with 413 problem+json.

    `body_limits` maps path regexes to their own limit (first match wins) for the few routes that take large
    bodies (bulk imports, file uploads), so every other route keeps the small default."""

    def __init__(self, app: Any, *, log_access: bool = True, max_body_bytes: int | None = None,
                 body_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.log_access = log_access
        self.max_body_bytes = max_body_bytes
        self.body_limits = [(re.compile(pattern), limit) for pattern, limit in (body_limits or {}).items()]

    def _limit_for(self, path: str) -> int | None:
        for pattern, limit in self.body_limits:
            if pattern.match(path):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        content_length = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID_OK.match(candidate):
                    request_id = candidate
            elif key == b"content-length":
                content_length = value
        request_id = request_id or _new_request_id()
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status_holder = [0]
        raw_id = request_id.encode()
        answered_413 = False

        async def send_with_id(message: dict) -> None:
            if answered_413:
                return  # we already answered 413; whatever the app says after the disconnect is dropped
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", raw_id)]
            await send(message)

        limit = self._limit_for(scope["path"])
        inner_receive = receive
        if limit is not None:
            seen = 0

            async def receive() -> dict:  # wraps the server's receive with the body limit
                nonlocal seen, answered_413
                message = await inner_receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit and not answered_413:
                        if status_holder[0] == 0:
                            await _send_413(send_with_id, limit)
                        answered_413 = True
                        return {"type": "http.disconnect"}
                return message

        try:
            too_large = (limit is not None and content_length is not None and content_length.isdigit()
                         and int(content_length) > limit)
            if too_large:
                await _send_413(send_with_id, limit or 0)
                return
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log_access:
                # Routine traffic (feed polls every second, health probes) at DEBUG: the console shows requests
                # people made and problems, not the machinery ticking (issue 14 item 10).
                routine = scope["path"] in ROUTINE_PATHS and scope["method"] == "GET" and status_holder[0] < 400
                access_log.log(
                    logging.DEBUG if routine else logging.INFO,
                    "%s %s %s", scope["method"], scope["path"], status_holder[0],
                    extra={"fields": {"method": scope["method"], "path": scope["path"], "status": status_holder[0],
                                      "duration_ms": round((time.perf_counter() - started) * 1000, 2)}},
                )
            _request_id.reset(token)


async def _send_413(send: Any, limit: int) -> None:
    from services.errors import PROBLEM_JSON, problem_body  # local: errors imports this module

    body = json.dumps(problem_body(413, f"The request body exceeds {limit} bytes."), ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
