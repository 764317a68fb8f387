from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.settings import ServiceSettings, default_sqlite_url


class Settings(ServiceSettings):
    """Settings of the stats service (env prefix STATS_)."""

    model_config = SettingsConfigDict(env_prefix="STATS_", extra="ignore", populate_by_name=True)

    catalog_url: str = "http://127.0.0.1:8101"
    request_url: str = "http://127.0.0.1:8102"
    consume: bool = True  # follow the catalogue's and the request service's event feeds
    consumer_batch_size: int = 1000
    consumer_idle_seconds: float = 1.0

    @model_validator(mode="after")
    def _default_database(self) -> "Settings":
        if not self.database_url:
            self.database_url = default_sqlite_url("stats")
        return self
