"""Settings of the wallet, plans' test clock and alerts (`[wallet]`, `[alerts]`), re-exported
by `thinkgate.config` through `Settings`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class WalletConfig(BaseModel):
    """`enabled`: every request of a user's key is drawn from the user's prepaid balance
    (worst case reserved first; an empty balance is 429 `insufficient_quota`). Off by
    default: budgets alone, as before. Admins' keys are exempt unless `exempt_admins` is off."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    exempt_admins: bool = True


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://", max_length=2000)
    # HMAC-SHA256 key: `X-Thinkgate-Signature: sha256=<hex>` over "<timestamp>.<body>"
    secret: SecretStr | None = None
    format: Literal["json", "slack"] = "json"  # slack: `{"text": …}` (incoming webhooks)


class AlertsConfig(BaseModel):
    """Budget, balance and plan thresholds (percent used) and channel health changes, sent
    to webhooks from a background task (never on a request's path), each threshold once
    per period (a budget's month, a wallet's top-up, a plan's window)."""

    model_config = ConfigDict(extra="forbid")

    webhooks: list[WebhookConfig] = Field(default_factory=list)
    thresholds: list[int] = Field(default_factory=lambda: [50, 80, 100])
    interval_seconds: float = Field(default=5.0, gt=0, le=3600)  # how often usage is checked
    retries: int = Field(default=5, ge=0, le=20)  # after the first try, backing off 2x
    retry_base_seconds: float = Field(default=1.0, gt=0, le=600)
    channels: bool = True  # channel health changes

    @field_validator("thresholds")
    @classmethod
    def _percents(cls, value: list[int]) -> list[int]:
        if any(not 1 <= t <= 1000 for t in value):
            raise ValueError("alert thresholds are percentages from 1 to 1000")
        return sorted(set(value))
