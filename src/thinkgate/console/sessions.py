"""Sign-in sessions: a random token in an HttpOnly, SameSite=Strict cookie; the server keeps
only its hash, the user and the session's CSRF token (synchronizer pattern).

The cookie is `Secure` when the console is served over https (`console_secure_cookies =
"auto"`), always or never when configured: a loopback http test cannot use Secure cookies.
A session ends `[console] session_hours` after sign-in, or after `idle_minutes` unused
(its last use is written at most once a minute: not a database write per page).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from thinkgate.store.console_sessions import ConsoleSessionRepository, SessionRecord
from thinkgate.store.users import UserRecord

COOKIE = "tg_console"
LOGIN_COOKIE = "tg_console_login"  # the sign-in form's CSRF token, before any session
LIFETIME_S = 12 * 3600
IDLE_S = 3600
TOUCH_EVERY_S = 60
COOKIE_PATH = "/console"


@dataclass(slots=True, frozen=True)
class ConsoleSession:
    user: UserRecord
    csrf_token: str
    session_id: str

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"


class SessionManager:
    def __init__(
        self,
        repository: ConsoleSessionRepository,
        secure: str,
        lifetime_s: int = LIFETIME_S,
        idle_s: int = IDLE_S,
    ) -> None:
        self._repository = repository
        self._secure = secure  # "auto" | "always" | "never"
        self._lifetime_s = lifetime_s
        self._idle_s = idle_s

    async def start(self, user: UserRecord, response: Response, request: Request) -> None:
        """A fresh session (a new token on every sign-in: no session fixation)."""
        token = secrets.token_urlsafe(32)
        now = int(time.time())
        await self._repository.purge_expired(now)
        await self._repository.add(
            SessionRecord(
                _digest(token), user.id, secrets.token_urlsafe(32), now, now + self._lifetime_s
            )
        )
        self.set_cookie(response, request, COOKIE, token, self._lifetime_s)

    async def load(self, request: Request) -> SessionRecord | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        now = int(time.time())
        record = await self._repository.get(_digest(token), now, self._idle_s)
        if record is not None and now - (record.last_seen_at or record.created_at) >= min(
            TOUCH_EVERY_S, self._idle_s // 2
        ):
            await self._repository.touch(record.id, now)
        return record

    async def end(self, request: Request, response: Response) -> None:
        token = request.cookies.get(COOKIE)
        if token:
            await self._repository.delete(_digest(token))
        response.delete_cookie(COOKIE, path=COOKIE_PATH)

    def set_cookie(
        self, response: Response, request: Request, name: str, value: str, max_age: int
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=COOKIE_PATH,
            secure=self._is_secure(request),
            httponly=True,
            samesite="strict",
        )

    def _is_secure(self, request: Request) -> bool:
        if self._secure == "auto":
            return request.url.scheme == "https"
        return self._secure == "always"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; a missing token never matches."""
    if not expected or not presented:
        return False
    return secrets.compare_digest(expected.encode(), presented.encode())
