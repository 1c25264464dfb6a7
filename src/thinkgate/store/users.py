"""Users: who owns keys, whether they may administer the gateway, and the limits an admin
set on them (drawn on by every key of theirs: see `gateway/user_limits.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, select, update

from thinkgate.store.database import Database
from thinkgate.store.tables import ConsoleSessionRow, UserRow


@dataclass(slots=True, frozen=True)
class UserLimits:
    """What an admin allows a user across all of their keys together (None: no limit).

    The same shape as a key's limits; money is USD, the monthly budget per calendar month
    (UTC).
    """

    models: tuple[str, ...] | None = None
    budget_usd: Decimal | None = None
    budget_monthly_usd: Decimal | None = None
    rpm: int | None = None
    tpm: int | None = None

    @property
    def any(self) -> bool:
        return (
            self.models is not None
            or self.budget_usd is not None
            or self.budget_monthly_usd is not None
            or self.rpm is not None
            or self.tpm is not None
        )


NO_LIMITS = UserLimits()


@dataclass(slots=True, frozen=True)
class UserRecord:
    id: str
    name: str
    role: str
    created_at: int
    limits: UserLimits = NO_LIMITS
    # Bumped when a budget is set where there was none: budget counters are named by it, so
    # a budget removed and set again starts from the ledger, not from a counter left behind
    # (a budget changed from one amount to another keeps its counter: nothing is missed).
    limits_rev: int = 0
    # Console accounts (migration 0020): language, e-mail, sign-up state ("active",
    # "pending_approval", "unverified": only active users may sign in)
    locale: str | None = None
    email: str | None = None
    email_verified_at: int | None = None
    status: str = "active"


class UserRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, user: UserRecord, password_hash: str | None = None) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                UserRow(
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
            )

    async def get(self, user_id: str) -> UserRecord | None:
        async with self._db.session() as session:
            row = await session.get(UserRow, user_id)
            return None if row is None else _record(row)

    async def listing(self) -> list[UserRecord]:
        async with self._db.session() as session:
            rows = await session.scalars(select(UserRow).order_by(UserRow.created_at))
            return [_record(row) for row in rows]

    async def by_login(self, login: str) -> tuple[UserRecord, str | None] | None:
        """A user and their password hash, by id, by a name no other user has, or by their
        e-mail address (names never contain "@")."""
        async with self._db.session() as session:
            row = await session.get(UserRow, login)
            if row is None and "@" in login:
                row = await session.scalar(select(UserRow).where(UserRow.email == login.lower()))
            if row is None:
                rows = list(await session.scalars(select(UserRow).where(UserRow.name == login)))
                row = rows[0] if len(rows) == 1 else None
            return None if row is None else (_record(row), row.password_hash)

    async def set_password_hash(
        self, user_id: str, password_hash: str, *, sign_out: bool = True
    ) -> bool:
        """Store a new hash; False: no such user. A new password (`sign_out`) ends the
        user's console sessions in the same transaction, on every replica at once: whoever
        knew the old password is signed out. Re-hashing the same password keeps them."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash)
            )
            if sign_out:
                await session.execute(
                    delete(ConsoleSessionRow).where(ConsoleSessionRow.user_id == user_id)
                )
            return bool(getattr(result, "rowcount", 0))

    async def update_account(self, user_id: str, **values: object) -> bool:
        """Set console account columns (`locale`, `email`, `email_verified_at`, `status`,
        `role`, `name`); False: no such user."""
        allowed = {"locale", "email", "email_verified_at", "status", "role", "name"}
        assert set(values) <= allowed, values
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(UserRow).where(UserRow.id == user_id).values(**values)
            )
            return bool(getattr(result, "rowcount", 0))

    async def by_email(self, email: str) -> UserRecord | None:
        async with self._db.session() as session:
            row = await session.scalar(select(UserRow).where(UserRow.email == email))
            return None if row is None else _record(row)

    async def set_limits(self, user_id: str, limits: UserLimits, *, new_rev: bool) -> bool:
        """Replace the user's limits (`new_rev`: and bump `limits_rev`); False: no such user."""
        values = _limit_columns(limits)
        if new_rev:
            values["limits_rev"] = UserRow.limits_rev + 1
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(UserRow).where(UserRow.id == user_id).values(**values)
            )
            return bool(getattr(result, "rowcount", 0))


def _limit_columns(limits: UserLimits) -> dict[str, object]:
    return {
        "models": list(limits.models) if limits.models is not None else None,
        "budget_usd": _text(limits.budget_usd),
        "budget_monthly_usd": _text(limits.budget_monthly_usd),
        "rpm": limits.rpm,
        "tpm": limits.tpm,
    }


def _record(row: UserRow) -> UserRecord:
    limits = UserLimits(
        models=tuple(row.models) if row.models is not None else None,
        budget_usd=Decimal(row.budget_usd) if row.budget_usd is not None else None,
        budget_monthly_usd=(
            Decimal(row.budget_monthly_usd) if row.budget_monthly_usd is not None else None
        ),
        rpm=row.rpm,
        tpm=row.tpm,
    )
    return UserRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        limits=limits if limits.any else NO_LIMITS,
        limits_rev=row.limits_rev or 0,
        locale=row.locale,
        email=row.email,
        email_verified_at=row.email_verified_at,
        status=row.status or "active",
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
