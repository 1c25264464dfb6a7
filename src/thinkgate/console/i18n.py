"""The console's languages: gettext message catalogues (Babel), dates and money per locale.

A language is a folder `locales/<code>/LC_MESSAGES/messages.po`; adding one is adding a
catalogue. The `.po` files are read directly at first use (compiled in memory with Babel),
so there is no build step and a clean clone works as it is. A message missing from a
catalogue (or left empty, or fuzzy) falls back to its English text.

The language of a request lives in a context variable: set by `LocaleMiddleware` from
`?lang=`, the `tg_lang` cookie or `Accept-Language`, and by the session from the user's own
setting. `gettext` / `ngettext` (also as `_` in every template) read it, so Python code
builds its messages in the reader's language without passing a request around.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

LOCALES = Path(__file__).parent / "locales"
DEFAULT = "en"
DOMAIN = "messages"
LANG_COOKIE = "tg_lang"
LANG_PARAM = "lang"
LANG_COOKIE_AGE_S = 365 * 86400
MONEY_PATTERN = "¤#,##0.00####"  # cents always, up to micro-dollars (token prices are tiny)

_current: ContextVar[str] = ContextVar("console_locale", default=DEFAULT)


@cache
def languages() -> dict[str, str]:
    """Every language the console speaks: code → its own name (English first)."""
    codes = sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    found = {DEFAULT: "English"}
    for code in codes:
        found[code] = Locale.parse(code).get_display_name(code) or code
    return found


@cache
def _translations(code: str) -> NullTranslations:
    path = LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if code == DEFAULT or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=code)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy and empty entries are left out: English shows
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def normalize(value: str | None) -> str | None:
    """A language tag (`zh-CN`, `zh_hans`, `en-US`, `zh`) → a code we have, or None."""
    if not value or len(value) > 35 or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        return None
    tag = value.replace("-", "_")
    known = {code.lower(): code for code in languages()}
    if tag.lower() in known:
        return known[tag.lower()]
    try:
        asked = Locale.parse(tag)
    except (ValueError, UnknownLocaleError):
        return None
    if asked.language == "zh" and "zh_Hans" in languages():
        return "zh_Hans"  # Simplified covers zh, zh-CN, zh-SG (and is read in zh-TW/HK)
    return known.get(asked.language)


def from_accept_language(header: str | None) -> str | None:
    """The best language of ours in an `Accept-Language` header (q-values respected)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag.strip()))
    for negative, _index, tag in sorted(ranked):
        code = normalize(tag) if negative < 0 else None
        if code is not None:
            return code
    return None


def set_locale(code: str) -> None:
    _current.set(code if code in languages() else DEFAULT)


def current_locale() -> str:
    return _current.get()


def html_lang() -> str:
    """The `<html lang>` value: BCP 47 (`zh-Hans`)."""
    return current_locale().replace("_", "-")


def gettext(message: str) -> str:
    return _translations(current_locale()).ugettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations(current_locale()).ungettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Marks a string for extraction; translated later, where it is shown."""
    return message


def when(value: int | None) -> str:
    """A moment (Unix seconds) as date and time, in UTC, the reader's way."""
    if not value:
        return "—"
    moment = datetime.fromtimestamp(value, UTC)
    locale = current_locale()
    date_part = format_skeleton("yMMMd", moment, tzinfo=UTC, locale=locale)
    return f"{date_part} {format_skeleton('Hm', moment, tzinfo=UTC, locale=locale)} UTC"


def day(value: int | None) -> str:
    if not value:
        return "—"
    moment = datetime.fromtimestamp(value, UTC)
    return format_skeleton("yMMMd", moment, tzinfo=UTC, locale=current_locale())


def money(value: Decimal | str | float | None, currency: str = "USD") -> str:
    """An amount of money the reader's way (`$1,234.50`, `US$1,234.50`), never rounded
    below a micro-unit."""
    if value is None or value == "":
        return "—"
    return format_currency(
        Decimal(str(value)),
        currency,
        format=MONEY_PATTERN,
        locale=current_locale(),
        currency_digits=False,
    )


def number(value: int | Decimal | float) -> str:
    return format_decimal(value, locale=current_locale())


class LocaleMiddleware:
    """Sets the language of each console request: `?lang=` (remembered in a cookie), else
    the `tg_lang` cookie, else `Accept-Language`, else English. The signed-in user's own
    setting overrides the last two (`deps.current_session`). A language we do not have is
    never an error: the page comes in the fallback language, saying so."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith("/console"):
            set_locale(_choose(Request(scope)))
        await self.app(scope, receive, send)


def _choose(request: Request) -> str:
    state = request.scope.setdefault("state", {})
    asked = request.query_params.get(LANG_PARAM)
    if asked is not None:
        code = normalize(asked)
        if code is not None:
            state["lang_chosen"] = code
            return code
        state["lang_unknown"] = asked[:40]
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie is not None and asked is None:
        code = normalize(cookie)
        if code is not None:
            state["lang_cookie"] = code
            return code
        state["lang_unknown"] = cookie[:40]
        state["lang_bad_cookie"] = True
    return from_accept_language(request.headers.get("accept-language")) or DEFAULT


def chosen(request: Request) -> str | None:
    """The language this request asked for explicitly (`?lang=`), if we have it."""
    value = request.scope.get("state", {}).get("lang_chosen")
    return value if isinstance(value, str) else None


def notice(request: Request) -> str | None:
    """What to tell the reader when they asked for a language we do not have."""
    unknown = request.scope.get("state", {}).get("lang_unknown")
    if not isinstance(unknown, str):
        return None
    return gettext("The language “%(asked)s” is not available; this page is in %(shown)s.") % {
        "asked": unknown,
        "shown": languages()[current_locale()],
    }


def remember_choice(request: Request, response: Response) -> None:
    """A language chosen with `?lang=` is kept in a cookie; a bad cookie is dropped."""
    state = request.scope.get("state", {})
    code = state.get("lang_chosen")
    if isinstance(code, str) and state.get("lang_cookie") != code:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=LANG_COOKIE_AGE_S,
            path="/console",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
    elif state.get("lang_bad_cookie"):
        response.delete_cookie(LANG_COOKIE, path="/console")
