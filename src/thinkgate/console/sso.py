"""Single sign-on with Authlib: OpenID Connect (authorization code with PKCE, any issuer,
found by discovery; the ID token's signature checked against the issuer's JWKS and its
`iss`, `aud`, `exp` and `nonce` claims with joserfc) and GitHub OAuth (PKCE too; the user
and their verified primary e-mail from GitHub's API).

Nothing here decides who may sign in: it turns a provider's answer into an `Identity` or a
`ProviderError` with a message for the reader (`sso_routes` does the rest).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from authlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from thinkgate.config_console import SsoProviderConfig
from thinkgate.console.i18n import _

TIMEOUT_S = 20.0
DISCOVERY_TTL_S = 3600.0
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
MAX_CLAIM = 320

_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


class ProviderError(Exception):
    """The provider could not be reached, or its answer is not to be trusted."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(slots=True, frozen=True)
class Identity:
    subject: str
    email: str | None  # only a verified address
    name: str
    roles: tuple[str, ...] | None  # the role claim's values (None: the claim is absent)


async def _get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            reply = await http.get(url, headers=headers)
            reply.raise_for_status()
            return reply.json()
    except (httpx.HTTPError, ValueError) as failed:
        raise ProviderError(
            _("The identity provider could not be reached (%(why)s).")
            % {"why": type(failed).__name__},
            502,
        ) from failed


async def metadata(provider: SsoProviderConfig) -> dict[str, Any]:
    """The issuer's OpenID configuration (discovery), kept for an hour."""
    assert provider.issuer is not None
    issuer = provider.issuer.rstrip("/")
    cached = _discovered.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL_S:
        return cached[1]
    found = await _get_json(f"{issuer}/.well-known/openid-configuration")
    if not isinstance(found, dict) or str(found.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderError(
            _("The identity provider's discovery document names another issuer."), 502
        )
    _discovered[issuer] = (time.monotonic(), found)
    return found


def _client(provider: SsoProviderConfig, redirect_uri: str) -> AsyncOAuth2Client:
    secret = provider.client_secret.get_secret_value() if provider.client_secret else None
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=secret,
        scope=provider.scopes if provider.kind == "oidc" else "read:user user:email",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        timeout=TIMEOUT_S,
    )


async def authorization_url(
    provider: SsoProviderConfig, redirect_uri: str, state: str, nonce: str, verifier: str
) -> str:
    if provider.kind == "github":
        endpoint = f"{provider.github_web.rstrip('/')}/login/oauth/authorize"
        extra: dict[str, str] = {}
    else:
        endpoint = str((await metadata(provider))["authorization_endpoint"])
        extra = {"nonce": nonce}
    async with _client(provider, redirect_uri) as client:
        url, _state = client.create_authorization_url(
            endpoint, state=state, code_verifier=verifier, **extra
        )
    return str(url)


async def identity(
    provider: SsoProviderConfig, code: str, redirect_uri: str, nonce: str, verifier: str
) -> Identity:
    if provider.kind == "github":
        endpoint = f"{provider.github_web.rstrip('/')}/login/oauth/access_token"
    else:
        endpoint = str((await metadata(provider))["token_endpoint"])
    try:
        async with _client(provider, redirect_uri) as client:
            token = await client.fetch_token(
                endpoint,
                code=code,
                code_verifier=verifier,
                headers={"Accept": "application/json"},
            )
    except OAuth2Error as refused:
        raise ProviderError(
            _("The identity provider refused the sign-in (%(why)s).") % {"why": refused.error}
        ) from refused
    except httpx.HTTPError as failed:
        raise ProviderError(
            _("The identity provider could not be reached (%(why)s).")
            % {"why": type(failed).__name__},
            502,
        ) from failed
    if provider.kind == "github":
        return await _github_identity(provider, str(token.get("access_token", "")))
    return await _oidc_identity(provider, token, nonce)


async def _oidc_identity(
    provider: SsoProviderConfig, token: dict[str, Any], nonce: str
) -> Identity:
    raw = token.get("id_token")
    if not isinstance(raw, str):
        raise ProviderError(_("The identity provider sent no ID token."))
    meta = await metadata(provider)
    keys = await _get_json(str(meta["jwks_uri"]))
    try:
        decoded = jwt.decode(raw, KeySet.import_key_set(keys), algorithms=ID_TOKEN_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": str(meta["issuer"])},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError) as bad:
        raise ProviderError(
            _("The ID token is not valid for this console (%(why)s).") % {"why": _why(bad)}
        ) from bad
    claims = decoded.claims
    email = claims.get("email") if claims.get("email_verified") is True else None
    roles = _roles(claims.get(provider.role_claim)) if provider.role_claim else None
    return Identity(
        subject=str(claims["sub"])[:255],
        email=_email(email),
        name=str(claims.get("name") or claims.get("preferred_username") or email or claims["sub"]),
        roles=roles,
    )


async def _github_identity(provider: SsoProviderConfig, access_token: str) -> Identity:
    api = provider.github_api.rstrip("/")
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/vnd.github+json"}
    user = await _get_json(f"{api}/user", headers)
    emails = await _get_json(f"{api}/user/emails", headers)
    if not isinstance(user, dict) or "id" not in user:
        raise ProviderError(_("GitHub sent no user."))
    primary = [
        e.get("email")
        for e in (emails if isinstance(emails, list) else [])
        if isinstance(e, dict) and e.get("primary") and e.get("verified")
    ]
    email = primary[0] if primary else None
    return Identity(
        subject=str(user["id"]),
        email=_email(email),
        name=str(user.get("name") or user.get("login") or user["id"]),
        roles=None,
    )


def _email(value: object) -> str | None:
    if not isinstance(value, str) or "@" not in value or len(value) > MAX_CLAIM:
        return None
    return value.strip().lower()


def _roles(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return None


def _why(error: Exception) -> str:
    text = getattr(error, "description", None) or str(error) or type(error).__name__
    return str(text)[:200]


def role_for(provider: SsoProviderConfig, roles: tuple[str, ...] | None) -> str | None:
    """admin or member by the role claim; None: the claim says nothing (keep the role)."""
    if roles is None:
        return None
    if any(role in provider.admin_values for role in roles):
        return "admin"
    if not provider.member_values or any(role in provider.member_values for role in roles):
        return "member"
    return None
