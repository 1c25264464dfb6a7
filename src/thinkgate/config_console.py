"""The console's accounts (`[console]` in the config file): sign-up mode, e-mail (SMTP),
session lifetimes and single sign-on providers. See docs/console.md.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class SmtpConfig(BaseModel):
    """`[console.smtp]`: where verification and password-reset mail is sent through."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(min_length=3, max_length=320)  # the From: address
    username: str | None = None
    password: SecretStr | None = None
    security: Literal["starttls", "tls", "none"] = "starttls"
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)


class SsoProviderConfig(BaseModel):
    """`[[console.sso]]`: an OpenID Connect issuer (any: Keycloak, Google, Azure AD, …,
    found by discovery) or GitHub (OAuth)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40)  # in URLs: /console/sso/<name>/…
    kind: Literal["oidc", "github"] = "oidc"
    label: str | None = Field(default=None, max_length=80)  # the button: "Sign in with …"
    issuer: str | None = None  # oidc: https://issuer (its /.well-known/openid-configuration)
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: SecretStr | None = None  # oidc public clients rely on PKCE alone
    scopes: str = "openid email profile"
    # A claim (oidc; a list or a string) whose values make a user admin or member. Users
    # with neither value keep their role (new ones are members).
    role_claim: str | None = None
    admin_values: list[str] = Field(default_factory=lambda: ["admin"])
    member_values: list[str] = Field(default_factory=list)
    # GitHub: its API (GitHub Enterprise: https://github.example.com/api/v3); tests: loopback
    github_api: str = "https://api.github.com"
    github_web: str = "https://github.com"

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
            raise ValueError("an SSO provider's name is lowercase letters, digits, - and _")
        return value


class ConsoleConfig(BaseModel):
    """`[console]`."""

    model_config = ConfigDict(extra="forbid")

    # closed: the admin creates users; open: anyone registers; invite: with an invite code;
    # approval: anyone registers, an admin approves before the first sign-in
    signup: Literal["closed", "open", "invite", "approval"] = "closed"
    verify_email: bool = False  # registration asks for an e-mail and a link must be opened
    # The console's address as users reach it (links in mail, SSO redirect URIs); else
    # the address of the request
    public_url: str | None = None
    session_hours: float = Field(default=12.0, gt=0, le=24 * 90)  # absolute lifetime
    idle_minutes: float = Field(default=60.0, gt=0, le=24 * 60 * 90)  # ends an unused session
    token_hours: float = Field(default=24.0, gt=0, le=24 * 30)  # mail links and invites' default
    smtp: SmtpConfig | None = None
    sso: list[SsoProviderConfig] = Field(default_factory=list)

    @field_validator("sso")
    @classmethod
    def _unique(cls, value: list[SsoProviderConfig]) -> list[SsoProviderConfig]:
        names = [p.name for p in value]
        if len(names) != len(set(names)):
            raise ValueError("two [[console.sso]] providers have the same name")
        return value
