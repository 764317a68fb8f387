"""Settings shared by every service. Each service subclasses ServiceSettings with its own env prefix."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEV_JWT_SECRET", "AuthSettings", "ServiceSettings", "default_sqlite_url"]

DEV_JWT_SECRET = "gongkai-development-secret-do-not-use-in-production"

Environment = Literal["development", "test", "production"]


def default_sqlite_url(name: str) -> str:
    """The embedded default: one SQLite file per service under ./data (the directory is made on first connect)."""
    return f"sqlite+aiosqlite:///{Path('data') / name}.db"


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
    access_log: bool = True
    db_pool_size: int = 10
    max_body_bytes: int = 1_048_576
    body_limits: dict[str, int] = Field(default_factory=dict, description="path regex → body limit in bytes")
    auth: AuthSettings = Field(default_factory=AuthSettings)
