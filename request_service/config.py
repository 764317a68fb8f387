from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.settings import ServiceSettings, default_sqlite_url

DEV_QUERY_CODE_KEY = "gongkai-development-query-code-key"
DEV_APPLICANT_KEY_SECRET = "gongkai-development-applicant-key-secret"


class Settings(ServiceSettings):
    """Settings of the request service (env prefix REQUEST_)."""

    model_config = SettingsConfigDict(env_prefix="REQUEST_", extra="ignore", populate_by_name=True)

    # The catalogue (another service, reached over HTTP only): suggestions at intake and the organ directory feed.
    # Timeouts are short because intake must not wait on the catalogue: a slow catalogue means no suggestions.
    catalog_url: str = "http://127.0.0.1:8101"
    catalog_connect_timeout_seconds: float = 0.5
    catalog_timeout_seconds: float = 2.0
    # After this many failed calls in a row the catalogue is left alone for the cooldown (clients.CircuitBreaker).
    catalog_breaker_failures: int = 3
    catalog_breaker_cooldown_seconds: float = 5.0
    organ_feed_enabled: bool = True  # the "catalog-organs" consumer (KnownOrgan from organ.created/updated)
    organ_feed_interval_seconds: float = 5.0
    # Key of the 查询码 HMAC; kept outside the database so a stolen table cannot be used to test codes.
    query_code_key: SecretStr = SecretStr(DEV_QUERY_CODE_KEY)
    # Key of the applicant keys that leave the service (monthly counts, domain/repeats.py): an HMAC of the grouping
    # key, so nobody who sees a masked phone or ID number can test guesses of the rest against it. Rotate it like
    # the other secrets: nothing stored depends on it (the grouping is on the stored key), only the shown keys change.
    applicant_key_secret: SecretStr = SecretStr(DEV_APPLICANT_KEY_SECRET)
    # 查询码 brute-force limit (reliability.md API2/API6): failures per tracking number within a window.
    lookup_max_failures: int = 5
    lookup_window_seconds: int = 900
    # Idempotency-Key records are kept at least this long (reliability.md §2.1: ≥ 24 h).
    idempotency_ttl_hours: int = 24

    supplement_days: int = 15  # 合理的补正期限 (条例第三十条 leaves it to the organ), working days
    fee_pauses_clock: bool = True  # 109号: notice → payment not counted (legal-rules §2, unverified: configurable)
    fee_payment_days: int = 20  # 收到收费通知次日起20个工作日内缴纳
    explanation_days: int = 10  # 第三十五条 说明理由: the applicant's window (the statute sets none), working days
    consultation_days: int = 15  # 第三十二条/第三十四条: the consulted party answers within 15 working days
    # 依申请转主动 (条例第四十四条, domain/proactive.py): a "consider proactive disclosure" task opens when this many
    # different applicants asked the organ for the same information and one was granted; due in so many working days.
    proactive_threshold: int = Field(3, ge=2, le=100)
    proactive_due_working_days: int = Field(20, ge=1, le=120)
    job_interval_seconds: float = 60.0  # expiry sweep (补正/缴费 overdue, consultations without reply); 0 = off

    @model_validator(mode="after")
    def _refuse_development_key_in_production(self) -> "Settings":
        if self.environment == "production" and self.query_code_key.get_secret_value() == DEV_QUERY_CODE_KEY:
            raise ValueError("REQUEST_QUERY_CODE_KEY must be set in production")
        if self.environment == "production" and (
                self.applicant_key_secret.get_secret_value() == DEV_APPLICANT_KEY_SECRET):
            raise ValueError("REQUEST_APPLICANT_KEY_SECRET must be set in production")
        return self

    @model_validator(mode="after")
    def _default_database(self) -> "Settings":
        if not self.database_url:
            self.database_url = default_sqlite_url("request")
        return self
