"""Loopback stand-ins for the console's accounts tests: an SMTP server (aiosmtpd) that keeps
what it is sent, and an OpenID Connect provider with GitHub's OAuth endpoints (discovery,
JWKS, authorize, token with PKCE checked, RS256-signed ID tokens made with joserfc), both on
127.0.0.1; and a console server started with a `[console]` config."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from aiosmtpd.controller import Controller
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support.console_support import ADMIN_PASSWORD
from tests.support.server import ServerProcess, free_port

CLIENT_ID = "thinkgate-console"
CLIENT_SECRET = "oidc-client-secret-1"


class Mailbox:
    """aiosmtpd handler: every message delivered, as (to, subject, body)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        for to in envelope.rcpt_tos:
            self.messages.append((to, str(parsed["subject"]), text))
        return "250 OK"

    def link_for(self, to: str, timeout: float = 30.0) -> str:
        """The last console link mailed to `to` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for address, _subject, text in reversed(self.messages):
                found = re.search(r"https?://\S+/console/\S+", text)
                if address == to and found:
                    return found.group(0)
            time.sleep(0.1)
        raise AssertionError(f"no mail with a link reached {to}: {self.messages}")


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    """An OpenID Connect issuer and a GitHub look-alike. `user` is who signs in next;
    `tamper` changes the next ID token's claims (a forged `aud` or `nonce`)."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.user: dict[str, Any] = {}
        self.tamper: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.authorize_params: list[dict[str, str]] = []
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()

    def id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **grant["user"],
            **self.tamper,
        }
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, body: Any, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(
                        {
                            "issuer": provider.issuer,
                            "authorization_endpoint": f"{provider.issuer}/authorize",
                            "token_endpoint": f"{provider.issuer}/token",
                            "jwks_uri": f"{provider.issuer}/jwks",
                            "response_types_supported": ["code"],
                            "code_challenge_methods_supported": ["S256"],
                        }
                    )
                elif url.path == "/jwks":
                    self._json({"keys": [provider.key.as_dict(private=False)]})
                elif url.path in ("/authorize", "/login/oauth/authorize"):
                    provider.authorize_params.append(query)
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {**query, "user": dict(provider.user)}
                    target = (
                        query["redirect_uri"]
                        + "?"
                        + urlencode({"code": code, "state": query.get("state", "")})
                    )
                    self.send_response(302)
                    self.send_header("location", target)
                    self.end_headers()
                elif url.path == "/api/user":
                    self._json({"id": provider.user["id"], "login": provider.user["login"]})
                elif url.path == "/api/user/emails":
                    self._json(provider.user.get("emails", []))
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                grant = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                challenge = _b64(hashlib.sha256(verifier.encode()).digest())
                basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if (
                    grant is None
                    or grant.get("code_challenge") != challenge
                    or grant.get("redirect_uri") != form.get("redirect_uri")
                ):
                    self._json({"error": "invalid_grant"}, 400)
                elif (
                    self.path == "/token" and self.headers.get("authorization") != f"Basic {basic}"
                ):
                    self._json({"error": "invalid_client"}, 401)
                elif self.path == "/token":
                    token = {"access_token": "at-" + secrets.token_hex(8), "token_type": "Bearer"}
                    self._json({**token, "id_token": provider.id_token(grant)})
                else:  # GitHub's /login/oauth/access_token
                    self._json(
                        {"access_token": "gho_" + secrets.token_hex(8), "token_type": "bearer"}
                    )

        return Handler


def accounts_server(
    data_dir: Path, console: str, extra_env: dict[str, str] | None = None
) -> ServerProcess:
    """A server whose config file holds `console` (TOML lines of the [console] table and
    its sub-tables)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir.parent / f"{data_dir.name}-config.toml"
    config.write_text(console)
    env = {"THINKGATE_ADMIN_PASSWORD": ADMIN_PASSWORD, "THINKGATE_CONSOLE_SECURE_COOKIES": "never"}
    return ServerProcess(data_dir, config=config, extra_env={**env, **(extra_env or {})})


def smtp_table(smtp: SmtpServer) -> str:
    return (
        "[console.smtp]\n"
        'host = "127.0.0.1"\n'
        f"port = {smtp.port}\n"
        'sender = "thinkgate@example.test"\n'
        'security = "none"\n'
    )


def sso_tables(provider: Provider) -> str:
    return (
        "[[console.sso]]\n"
        'name = "corp"\nlabel = "Corp SSO"\n'
        f'issuer = "{provider.issuer}"\n'
        f'client_id = "{CLIENT_ID}"\nclient_secret = "{CLIENT_SECRET}"\n'
        'role_claim = "groups"\nadmin_values = ["thinkgate-admins"]\n'
        "[[console.sso]]\n"
        'name = "github"\nkind = "github"\n'
        f'client_id = "gh-client"\nclient_secret = "gh-secret"\n'
        f'github_web = "{provider.issuer}"\ngithub_api = "{provider.issuer}/api"\n'
    )
