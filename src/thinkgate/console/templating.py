"""Jinja2 rendering for the console: autoescaped templates, a few filters, security headers.

Every page is rendered here, so every user-supplied string goes through autoescaping and
every response carries the same Content-Security-Policy (scripts from our own origin only:
no inline script, so an injected `<script>` could not run even if it escaped escaping).
Every template has `_()` / `ngettext()` / `{% trans %}` (jinja2's i18n extension, new-style:
`_("Hi %(name)s", name=x)`, a literal percent sign written `%%`) in the reader's language
(`console.i18n`), and the `when`, `day`, `money` and `number` filters format the reader's way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from thinkgate import __version__
from thinkgate.console import i18n

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# Words the pages show from data (request, token and channel states): translated for the
# reader, anything else shown as it is.
LABELS = frozenset(
    (
        i18n.N_("completed"),
        i18n.N_("incomplete"),
        i18n.N_("failed"),
        i18n.N_("cancelled"),
        i18n.N_("in_progress"),
        i18n.N_("active"),
        i18n.N_("revoked"),
        i18n.N_("expired"),
        i18n.N_("healthy"),
        i18n.N_("probing"),
        i18n.N_("failing"),
        i18n.N_("backing off"),
        i18n.N_("ready"),
        i18n.N_("admin"),
        i18n.N_("member"),
        i18n.N_("pending_approval"),
        i18n.N_("unverified"),
        i18n.N_("used"),
    )
)


def label(value: str) -> str:
    return i18n.gettext(value) if value in LABELS else value


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # {% trans %} text as one line
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = i18n.when
    env.filters["day"] = i18n.day
    env.filters["money"] = i18n.money
    env.filters["number"] = i18n.number
    env.globals["label"] = label
    env.globals["version"] = __version__
    env.globals["languages"] = i18n.languages
    env.globals["current_locale"] = i18n.current_locale
    env.globals["html_lang"] = i18n.html_lang
    return env


_ENV = _environment()


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    context.setdefault("lang_notice", i18n.notice(request))
    html = _ENV.get_template(template).render(request=request, **context)
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    i18n.remember_choice(request, response)
    return response
