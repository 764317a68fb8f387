"""Settings shared by every service. Each service subclasses ServiceSettings with its own env prefix."""

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.forwarded import parse_proxy_list

__all__ = ["DEV_JWT_SECRET", "DEV_PUBLIC_BASE_URL", "AuthSettings", "Environment", "ServiceSettings",
           "TrustedProxyList", "absolute_http_url", "default_sqlite_url"]

DEV_JWT_SECRET = "gongkai-development-secret-do-not-use-in-production"
DEV_PUBLIC_BASE_URL = "http://127.0.0.1:8000"  # where `make run` puts the gateway

Environment = Literal["development", "test", "production"]

# GONGKAI_TRUSTED_PROXIES: addresses / networks whose X-Forwarded-* headers are believed (services/forwarded.py),
# comma-separated; empty (the default, and `make run`): none.
TrustedProxyList = Annotated[list[str], NoDecode, BeforeValidator(parse_proxy_list)]


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# <SERVICE>_DATABASE_REPLICA_URLS: PostgreSQL read replicas (services/replicas.py), comma-separated; empty: none.
ReplicaUrlList = Annotated[list[str], NoDecode, BeforeValidator(_comma_separated)]


def default_sqlite_url(name: str) -> str:
    """The embedded default: one SQLite file per service under ./data (the directory is made on first connect)."""
    return f"sqlite+aiosqlite:///{Path('data') / name}.db"


def absolute_http_url(value: str, what: str, *, base: bool = True) -> str:
    """An absolute http(s) URL without credentials (and, as a `base` to append paths to, without query or
    fragment), trailing slash removed; else ValueError."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
            or (base and (parts.query or parts.fragment)):
        raise ValueError(f"{what} must be an absolute http(s) URL without credentials"
                         + (", query or fragment" if base else ""))
    return value.strip().rstrip("/") if base else value.strip()


class AuthSettings(BaseSettings):
    """Token verification, shared by the gateway and every service (env prefix GONGKAI_AUTH_)."""

    model_config = SettingsConfigDict(env_prefix="GONGKAI_AUTH_", extra="ignore", populate_by_name=True)

    environment: Environment = Field("development", validation_alias="GONGKAI_ENVIRONMENT")
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwks_url: str | None = None
    audience: str = "gongkai"
    issuer: str = "gongkai-dev"
    leeway_seconds: int = 30

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> "AuthSettings":
        if (
            self.environment == "production"
            and self.jwks_url is None
            and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET
        ):
            raise ValueError("GONGKAI_AUTH_JWT_SECRET or GONGKAI_AUTH_JWKS_URL must be set in production")
        return self

    @property
    def algorithms(self) -> list[str]:
        return ["RS256", "ES256"] if self.jwks_url else ["HS256"]


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set env_prefix, e.g. CATALOG_ → CATALOG_DATABASE_URL."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Environment = Field("development", validation_alias="GONGKAI_ENVIRONMENT")
    database_url: str = ""
    log_level: str = "INFO"
    # json: one JSON object per line (log collectors); console: one readable line (`make run` sets it).
    log_format: Literal["json", "console"] = Field("json", validation_alias="GONGKAI_LOG_FORMAT")
    access_log: bool = True
    db_pool_size: int = 10
    # 只读副本 (services/replicas.py): streaming standbys of database_url that may answer the public's reads.
    database_replica_urls: ReplicaUrlList = Field(default_factory=list)
    replica_max_lag_seconds: float = Field(10.0, gt=0)  # a replica lagging more leaves the rotation
    replica_check_interval_seconds: float = Field(1.0, gt=0)
    replica_wait_seconds: float = Field(1.0, ge=0)  # read-your-writes: wait this long for a replica, then the primary
    max_body_bytes: int = 1_048_576
    body_limits: dict[str, int] = Field(default_factory=dict, description="path regex → body limit in bytes")
    auth: AuthSettings = Field(default_factory=AuthSettings)
    # The public address of the platform (公开平台地址, the gateway as the public reaches it): every absolute URL
    # a service writes (Atom feed links) is built on it, never on the request's Host / X-Forwarded-Host, which
    # the caller chooses (cache poisoning, links to a phishing host; security review item 5).
    public_base_url: str = Field(DEV_PUBLIC_BASE_URL, validation_alias="GONGKAI_PUBLIC_BASE_URL")
    trusted_proxies: TrustedProxyList = Field(default_factory=list, validation_alias="GONGKAI_TRUSTED_PROXIES")

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        value = absolute_http_url(value, "GONGKAI_PUBLIC_BASE_URL")
        if "{" in value or "}" in value:
            raise ValueError("GONGKAI_PUBLIC_BASE_URL must not contain braces")
        return value

    @model_validator(mode="after")
    def _replicas_need_postgresql(self) -> "ServiceSettings":
        """SQLite is the single-process embedded default: it has no replicas, and a replica URL there is a
        configuration mistake to refuse at start, not to ignore."""
        if self.database_replica_urls:
            if not self.database_url.startswith("postgresql"):
                raise ValueError("DATABASE_REPLICA_URLS needs a PostgreSQL DATABASE_URL: SQLite is the "
                                 "single-process embedded default and has no read replicas")
            if not all(url.startswith("postgresql") for url in self.database_replica_urls):
                raise ValueError("DATABASE_REPLICA_URLS must be PostgreSQL URLs (postgresql+asyncpg://…)")
        return self

    @model_validator(mode="after")
    def _refuse_development_base_in_production(self) -> "ServiceSettings":
        if self.environment == "production" and self.public_base_url == DEV_PUBLIC_BASE_URL:
            raise ValueError("GONGKAI_PUBLIC_BASE_URL must be set in production")
        return self
