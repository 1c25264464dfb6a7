"""What the pages show, shaped from the gateway's own queries (`gateway.admin.Admin`):
dashboard totals and chart series, the usage log's filter, the Add Token form.

No SQL here: the console reads through the same service layer as the admin API and CLI.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from thinkgate.console.i18n import _
from thinkgate.gateway.admin import Admin, KeySpec
from thinkgate.gateway.passwords import MAX_LENGTH, MIN_LENGTH
from thinkgate.store.ledger import LedgerFilter

CHART_DAYS = 30
MAX_BUDGET_USD = Decimal(10**9)
STATUSES = ("completed", "incomplete", "failed", "cancelled")


@dataclass(slots=True, frozen=True)
class Totals:
    requests: int = 0
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)


def _totals(rows: Sequence[dict[str, Any]]) -> Totals:
    return Totals(
        requests=sum(int(r["requests"]) for r in rows),
        tokens=sum(int(r["input_tokens"]) + int(r["output_tokens"]) for r in rows),
        cost_usd=sum((Decimal(r["cost_usd"]) for r in rows), Decimal(0)),
    )


async def dashboard(admin: Admin, user_id: str | None) -> dict[str, Any]:
    """One user's figures, or everyone's (`user_id=None`)."""
    by_day = await admin.usage("day", user_id=user_id)
    by_model = await admin.usage("model", user_id=user_id)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    month = today[:7]
    days = [
        time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400 * back))
        for back in range(CHART_DAYS - 1, -1, -1)
    ]
    per_day = {row["day"]: row for row in by_day}
    chart = {
        "days": days,
        "day_cost": [float(per_day[d]["cost_usd"]) if d in per_day else 0 for d in days],
        "day_requests": [int(per_day[d]["requests"]) if d in per_day else 0 for d in days],
        "models": [row["model"] for row in by_model],
        "model_cost": [float(row["cost_usd"]) for row in by_model],
        "model_tokens": [int(row["input_tokens"]) + int(row["output_tokens"]) for row in by_model],
    }
    return {
        "today": _totals([r for r in by_day if r["day"] == today]),
        "month": _totals([r for r in by_day if str(r["day"]).startswith(month)]),
        "all_time": _totals(by_day),
        "by_model": by_model,
        "chart": chart,
    }


def _day_start(value: str) -> int | None:
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return calendar.timegm(parsed.timetuple())


@dataclass(slots=True)
class UsageQuery:
    """The usage log's filters as the form sent them (strings; bad values are ignored)."""

    key: str = ""
    model: str = ""
    status: str = ""
    since: str = ""
    until: str = ""
    page: int = 1
    scope: str = ""  # "all": every user's requests (admins only; checked by the page)

    def ledger_filter(self, user_id: str | None) -> LedgerFilter:
        until = _day_start(self.until)
        return LedgerFilter(
            user_id=user_id,
            key_id=self.key or None,
            model=self.model or None,
            status=self.status if self.status in STATUSES else None,
            since=_day_start(self.since),
            until=None if until is None else until + 86400,  # the whole `until` day
        )

    def link(self, page: int) -> dict[str, str]:
        """Query parameters for another page of the same filter."""
        params = {"key": self.key, "model": self.model, "status": self.status}
        params |= {"since": self.since, "until": self.until, "page": str(page)}
        params["scope"] = self.scope
        return {k: v for k, v in params.items() if v}


@dataclass(slots=True)
class KeyForm:
    """The Add Token form: parsed, with messages for what is wrong."""

    values: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    spec: KeySpec | None = None


def parse_key_form(
    fields: dict[str, str], models: list[str], known_models: Sequence[str], user_id: str
) -> KeyForm:
    form = KeyForm(values={**fields, "models": models})
    name = fields.get("name", "").strip()
    if not 1 <= len(name) <= 200:
        form.errors.append(_("Give the token a name (1 to 200 characters)."))
    unknown = [m for m in models if m not in known_models]
    if unknown:
        form.errors.append(_("Unknown model: %(models)s") % {"models": ", ".join(unknown)})
    budget = _money(form, fields.get("budget_usd", ""), _("Budget"))
    monthly = _money(form, fields.get("budget_monthly_usd", ""), _("Monthly budget"))
    rpm = _count(form, fields.get("rpm", ""), _("Requests per minute"))
    tpm = _count(form, fields.get("tpm", ""), _("Tokens per minute"))
    expires_at = _expiry(form, fields.get("expires", ""))
    if not form.errors:
        form.spec = KeySpec(
            name=name,
            user_id=user_id,
            models=tuple(models) or None,
            budget_usd=budget,
            budget_monthly_usd=monthly,
            rpm=rpm,
            tpm=tpm,
            expires_at=expires_at,
        )
    return form


def _money(form: KeyForm, raw: str, label: str) -> Decimal | None:
    if not raw.strip():
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = Decimal(-1)
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not 0 <= value <= MAX_BUDGET_USD or int(exponent) < -6:
        form.errors.append(
            _("%(field)s must be an amount in USD up to %(max)s (at most 6 decimals).")
            % {"field": label, "max": MAX_BUDGET_USD}
        )
        return None
    return value


def _count(form: KeyForm, raw: str, label: str) -> int | None:
    if not raw.strip():
        return None
    if not raw.strip().isdigit() or int(raw) < 1 or int(raw) > 10**9:
        form.errors.append(_("%(field)s must be a whole number from 1.") % {"field": label})
        return None
    return int(raw)


def _expiry(form: KeyForm, raw: str) -> int | None:
    if not raw.strip():
        return None
    start = _day_start(raw.strip())
    if start is None or start + 86400 <= time.time():
        form.errors.append(_("The expiry must be a date from today on."))
        return None
    return start + 86400  # valid through the whole chosen day (UTC)


def limits_line(user: Mapping[str, Any]) -> str | None:
    """A user's limits (as `user_view` shows them) in a few words (None: no limits), for
    the tokens and admin pages."""
    parts: list[str] = []
    if user["budget_usd"] is not None:
        parts.append(_("$%(amount)s in all") % {"amount": user["budget_usd"]})
    if user["budget_monthly_usd"] is not None:
        parts.append(_("$%(amount)s a month") % {"amount": user["budget_monthly_usd"]})
    if user["rpm"] is not None:
        parts.append(_("%(num)s requests a minute") % {"num": user["rpm"]})
    if user["tpm"] is not None:
        parts.append(_("%(num)s tokens a minute") % {"num": user["tpm"]})
    if user["models"] is not None:
        parts.append(_("models: %(models)s") % {"models": ", ".join(user["models"]) or _("none")})
    return _("; ").join(parts) or None


def password_rule() -> str:
    return _("The password needs %(min)s to %(max)s characters.") % {
        "min": MIN_LENGTH,
        "max": MAX_LENGTH,
    }


def key_status(key: dict[str, Any], now: int) -> str:
    if key["revoked_at"] is not None:
        return "revoked"
    if key["expires_at"] is not None and key["expires_at"] <= now:
        return "expired"
    return "active"
