"""Console accounts at rest (migration 0020): one-time tokens and single sign-on identities.

A one-time token (an invite code, an e-mail verification or password-reset link, a single
sign-on round trip's state) is kept only as its SHA-256: a leaked table cannot be used.
Taking one (`take`) is a single conditional UPDATE, so a token works once even when two
replicas are asked at the same moment; registering with an invite takes the code and adds
the user in one transaction, so a refused registration leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from thinkgate.store.database import Database
from thinkgate.store.tables import Base, UserRow
from thinkgate.store.users import UserRecord, _limit_columns

INVITE = "invite"
VERIFY = "verify_email"
RESET = "reset_password"
SSO = "sso_state"


class ConsoleTokenRow(Base):
    __tablename__ = "console_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    used_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SsoIdentityRow(Base):
    __tablename__ = "sso_identities"

    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[int] = mapped_column(Integer)


@dataclass(slots=True, frozen=True)
class TokenRecord:
    id: str
    purpose: str
    user_id: str | None
    data: dict[str, Any]
    created_at: int
    expires_at: int | None
    used_at: int | None

    def status(self, now: int) -> str:
        if self.used_at is not None:
            return "revoked" if self.data.get("revoked") else "used"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class EmailTaken(Exception):
    """Another user has this e-mail address."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _record(row: ConsoleTokenRow) -> TokenRecord:
    return TokenRecord(
        row.id,
        row.purpose,
        row.user_id,
        dict(row.data or {}),
        row.created_at,
        row.expires_at,
        row.used_at,
    )


class AccountRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def issue(
        self,
        purpose: str,
        *,
        now: int,
        ttl_s: int | None,
        user_id: str | None = None,
        data: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> str:
        """A new one-time token (returned once; only its hash is stored)."""
        token = token or secrets.token_urlsafe(32)
        async with self._db.session() as session, session.begin():
            session.add(
                ConsoleTokenRow(
                    id=digest(token),
                    purpose=purpose,
                    user_id=user_id,
                    data=data,
                    created_at=now,
                    expires_at=None if ttl_s is None else now + ttl_s,
                    used_at=None,
                )
            )
        return token

    async def peek(self, purpose: str, token: str, now: int) -> TokenRecord | None:
        """The token if it is usable now, without using it."""
        async with self._db.session() as session:
            row = await session.get(ConsoleTokenRow, digest(token[:200]))
        if row is None or row.purpose != purpose:
            return None
        record = _record(row)
        return record if record.status(now) == "active" else None

    async def take(self, purpose: str, token: str, now: int) -> TokenRecord | None:
        """Use the token (once: None if it is unknown, used, expired or another kind)."""
        async with self._db.session() as session, session.begin():
            return await _take(session, purpose, digest(token[:200]), now)

    async def register(
        self, user: UserRecord, password_hash: str | None, invite: str | None, now: int
    ) -> bool:
        """Add the user, taking the invite code (if any) in the same transaction; False:
        the code is not usable. Raises EmailTaken (nothing written)."""
        try:
            async with self._db.session() as session, session.begin():
                if invite is not None:
                    taken = await _take(session, INVITE, digest(invite[:200]), now)
                    if taken is None:
                        return False
                    await session.execute(
                        update(ConsoleTokenRow)
                        .where(ConsoleTokenRow.id == taken.id)
                        .values(data={**taken.data, "used_by": user.id})
                    )
                session.add(_user_row(user, password_hash))
        except IntegrityError as clash:
            raise EmailTaken() from clash
        return True

    async def remove_user(self, user_id: str) -> None:
        """Undo a registration whose confirmation mail could not be sent."""
        async with self._db.session() as session, session.begin():
            await session.execute(delete(ConsoleTokenRow).where(ConsoleTokenRow.user_id == user_id))
            await session.execute(delete(UserRow).where(UserRow.id == user_id))

    async def invites(self) -> list[TokenRecord]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(ConsoleTokenRow)
                .where(ConsoleTokenRow.purpose == INVITE)
                .order_by(ConsoleTokenRow.created_at.desc())
                .limit(200)
            )
            return [_record(row) for row in rows]

    async def revoke_invite(self, id_prefix: str, now: int) -> bool:
        """Revoke the unused invite whose hash starts so (the page lists 16 hex digits)."""
        async with self._db.session() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(ConsoleTokenRow).where(
                        ConsoleTokenRow.purpose == INVITE,
                        ConsoleTokenRow.id.startswith(id_prefix, autoescape=True),
                        ConsoleTokenRow.used_at.is_(None),
                    )
                )
            )
            if len(rows) != 1 or len(id_prefix) < 16:
                return False
            rows[0].used_at = now
            rows[0].data = {**(rows[0].data or {}), "revoked": True}
            return True

    async def identity(self, provider: str, subject: str) -> str | None:
        async with self._db.session() as session:
            row = await session.get(SsoIdentityRow, (provider, subject))
            return None if row is None else row.user_id

    async def link(
        self,
        provider: str,
        subject: str,
        user_id: str,
        email: str | None,
        now: int,
        new_user: UserRecord | None = None,
    ) -> None:
        """Link an identity to a user (`new_user`: created in the same transaction)."""
        try:
            async with self._db.session() as session, session.begin():
                if new_user is not None:
                    session.add(_user_row(new_user, None))
                    await session.flush()
                session.add(
                    SsoIdentityRow(
                        provider=provider,
                        subject=subject,
                        user_id=user_id,
                        email=email,
                        created_at=now,
                    )
                )
        except IntegrityError as clash:
            raise EmailTaken() from clash


async def _take(session: AsyncSession, purpose: str, token_id: str, now: int) -> TokenRecord | None:
    result = await session.execute(
        update(ConsoleTokenRow)
        .where(
            ConsoleTokenRow.id == token_id,
            ConsoleTokenRow.purpose == purpose,
            ConsoleTokenRow.used_at.is_(None),
            (ConsoleTokenRow.expires_at.is_(None)) | (ConsoleTokenRow.expires_at > now),
        )
        .values(used_at=now)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    row = await session.get(ConsoleTokenRow, token_id)
    return None if row is None else _record(row)


def _user_row(user: UserRecord, password_hash: str | None) -> UserRow:
    return UserRow(
        id=user.id,
        name=user.name,
        role=user.role,
        password_hash=password_hash,
        created_at=user.created_at,
        limits_rev=user.limits_rev,
        locale=user.locale,
        email=user.email,
        email_verified_at=user.email_verified_at,
        status=user.status,
        **_limit_columns(user.limits),
    )
