from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.settings import ServiceSettings, default_sqlite_url


class Settings(ServiceSettings):
    """Settings of the request service (env prefix REQUEST_)."""

    model_config = SettingsConfigDict(env_prefix="REQUEST_", extra="ignore", populate_by_name=True)

    @model_validator(mode="after")
    def _default_database(self) -> "Settings":
        if not self.database_url:
            self.database_url = default_sqlite_url("request")
        return self
