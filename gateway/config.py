"""Gateway settings (env prefix GATEWAY_, e.g. GATEWAY_CATALOG_URL, GATEWAY_READ_TIMEOUT)."""

import json
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.settings import AuthSettings, Environment, TrustedProxyList, absolute_http_url

__all__ = ["GatewaySettings"]


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    # Upstreams: each service serves its own /api/v1/<prefix>, so paths are forwarded unchanged.
    catalog_url: str = "http://127.0.0.1:8101"
    request_url: str = "http://127.0.0.1:8102"
    stats_url: str = "http://127.0.0.1:8103"
    # 多实例: several instances of a service, comma-separated or a JSON list (GATEWAY_CATALOG_URLS=http://a:8000,
    # http://b:8000). Set, they replace the single URL above; unset, the single URL is the one instance. Requests go
    # round robin over the instances whose /readyz answered 200 at the last probe (every
    # `health_interval_seconds`; 0: no probing, every instance is in the rotation). An idempotent request (GET, HEAD,
    # PUT, DELETE, OPTIONS, or any request with an Idempotency-Key) whose connection fails or is reset before its
    # answer has begun is sent to the next instance; any request is when the connection was never established.
    catalog_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    request_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    stats_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    health_interval_seconds: float = Field(2.0, ge=0)

    # Timeouts in seconds. connect: TCP connect to an upstream (a down service answers 502 within it);
    # read: longest silence while waiting for response bytes; total: whole exchange, None = unbounded
    # (large exports stream for long, guarded by the read timeout).
    connect_timeout: float = Field(2.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    total_timeout: float | None = Field(None, gt=0)
    readiness_timeout: float = Field(2.0, gt=0)

    # Upstream pool: connections per upstream. The idle keep-alive must stay below the upstream server's
    # own (uvicorn closes idle connections after 5 s) so the gateway rarely picks a connection being closed.
    pool_limit: int = Field(100, ge=1)
    upstream_keepalive_timeout: float = Field(4.0, gt=0)

    environment: Environment = Field("development", validation_alias="GONGKAI_ENVIRONMENT")

    # CORS: exact origins ("https://portal.example.gov.cn") or "*" (not in production). Empty = no CORS headers at
    # all. Env: GATEWAY_CORS_ORIGINS='["https://a", "https://b"]' or comma-separated. `make run` sets the usual local
    # front-end dev origins (scripts/run_all.py). Tokens travel as bearer headers, never cookies: no credentials.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_max_age: int = 600

    # Per-client token bucket: client = token `sub` when a valid token is presented, else the peer IP.
    # rate_limit_per_second <= 0 disables the limiter.
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = Field(100, ge=1)
    # The peer IP above is the TCP peer unless it is one of these proxies (GONGKAI_TRUSTED_PROXIES, shared with
    # the services): only then does X-Forwarded-For name the client (services/forwarded.py).
    trusted_proxies: TrustedProxyList = Field(default_factory=list, validation_alias="GONGKAI_TRUSTED_PROXIES")

    # Forwarded request bodies larger than this are refused with 413 (attachments are the large case).
    max_body_bytes: int = Field(25 * 1024 * 1024, ge=0)  # attachments: 20 MiB plus multipart overhead

    # Verified tokens are remembered until they expire so the hop stays cheap; bounded.
    token_cache_size: int = Field(10_000, ge=0)

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = Field("json", validation_alias="GONGKAI_LOG_FORMAT")
    access_log: bool = True

    auth: AuthSettings = Field(default_factory=AuthSettings)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _explicit_origins_in_production(self) -> "GatewaySettings":
        if self.environment == "production" and "*" in self.cors_origins:
            raise ValueError("GATEWAY_CORS_ORIGINS must name explicit origins in production, not *")
        return self

    @field_validator("catalog_url", "request_url", "stats_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("catalog_urls", "request_urls", "stats_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        if isinstance(value, list):
            value = [absolute_http_url(str(url), "GATEWAY_<SERVICE>_URLS") for url in value]
            if len(set(value)) != len(value):
                raise ValueError("GATEWAY_<SERVICE>_URLS names an instance twice")
        return value

    def upstream_pools(self) -> dict[str, list[str]]:
        """Every instance of each service: the URL list if set, else the single URL."""
        return {"catalog": self.catalog_urls or [self.catalog_url], "request": self.request_urls or [self.request_url],
                "stats": self.stats_urls or [self.stats_url]}

    def upstream_urls(self) -> dict[str, str]:
        """Each service's first instance (logs; the single-URL view)."""
        return {name: urls[0] for name, urls in self.upstream_pools().items()}
