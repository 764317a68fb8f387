from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.settings import ServiceSettings, default_sqlite_url


class Settings(ServiceSettings):
    """Catalogue settings (env prefix CATALOG_)."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", populate_by_name=True)

    index_no_template: str = "{organ_code}/{year}-{serial:05d}"
    attachment_dir: str = "data/attachments"
    max_attachment_bytes: int = 20 * 1024 * 1024
    scheduler_interval_seconds: float = 30.0  # 定时发布 check; 0 disables the job

    @model_validator(mode="after")
    def _default_database(self) -> "Settings":
        if not self.database_url:
            self.database_url = default_sqlite_url("catalog")
        return self
