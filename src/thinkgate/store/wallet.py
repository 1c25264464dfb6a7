"""Wallets and redemption codes at rest.

A balance is the wallet's credits (redeemed codes, admins' adjustments) less what the
user's ledger rows cost since the wallet began. Redeeming is one conditional UPDATE
(`… WHERE redeemed_at IS NULL AND revoked_at IS NULL AND not expired`) and the credit in the
same transaction: of any number of concurrent attempts, on any replica, exactly one
matches the row.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from thinkgate.store.billing_tables import (
    RedemptionBatchRow,
    RedemptionCodeRow,
    WalletEntryRow,
    WalletRow,
)
from thinkgate.store.database import Database
from thinkgate.store.tables import LedgerRow

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand
CODE_GROUPS = 5  # TG-XXXX-XXXX-XXXX-XXXX-XXXX: 20 symbols of 32, 100 bits

Refusal = Literal["unknown", "used", "revoked", "expired"]


def new_code() -> str:
    symbols = "".join(secrets.choice(_ALPHABET) for _ in range(4 * CODE_GROUPS))
    return "TG-" + "-".join(symbols[i : i + 4] for i in range(0, len(symbols), 4))


def code_hash(code: str) -> str:
    """Codes are compared by SHA-256 of their normal form (upper case, no spaces)."""
    normal = "".join(code.split()).upper()
    return hashlib.sha256(normal.encode()).hexdigest()


@dataclass(slots=True, frozen=True)
class Balance:
    credit_pico: int
    spent_pico: int
    started_at: int | None  # None: no wallet yet (nothing ever credited)

    @property
    def balance_pico(self) -> int:
        return self.credit_pico - self.spent_pico


@dataclass(slots=True, frozen=True)
class Redeemed:
    amount_pico: int | None  # None: refused, `refusal` says why
    refusal: Refusal | None = None


class WalletRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def balance(self, user_id: str) -> Balance:
        async with self._db.session() as session:
            wallet = await session.get(WalletRow, user_id)
            if wallet is None:
                return Balance(0, 0, None)
            spent = await session.scalar(
                select(func.sum(LedgerRow.cost_pico)).where(
                    LedgerRow.user_id == user_id, LedgerRow.created_at >= wallet.started_at
                )
            )
            return Balance(wallet.credit_pico, int(spent or 0), wallet.started_at)

    async def adjust(
        self, user_id: str, amount_pico: int, *, reason: str, actor: str | None
    ) -> None:
        async with self._db.session() as session, session.begin():
            await _credit(session, user_id, amount_pico, "adjust", None, reason, actor)

    async def redeem(self, code: str, user_id: str) -> Redeemed:
        digest, now = code_hash(code), int(time.time())
        async with self._db.session() as session, session.begin():
            claimed = await session.execute(
                update(RedemptionCodeRow)
                .where(
                    RedemptionCodeRow.code_hash == digest,
                    RedemptionCodeRow.redeemed_at.is_(None),
                    RedemptionCodeRow.revoked_at.is_(None),
                    (RedemptionCodeRow.expires_at.is_(None)) | (RedemptionCodeRow.expires_at > now),
                )
                .values(redeemed_at=now, redeemed_by=user_id)
            )
            row = await session.scalar(
                select(RedemptionCodeRow).where(RedemptionCodeRow.code_hash == digest)
            )
            if getattr(claimed, "rowcount", 0) != 1 or row is None:
                return Redeemed(None, _why(row, now))
            await _credit(session, user_id, row.value_pico, "redeem", row.id, None, user_id)
            return Redeemed(row.value_pico)

    async def entries(self, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(WalletEntryRow)
                .where(WalletEntryRow.user_id == user_id)
                .order_by(WalletEntryRow.pk.desc())
                .limit(limit)
            )
            return [
                {
                    "created_at": r.created_at,
                    "amount_pico": r.amount_pico,
                    "kind": r.kind,
                    "reference": r.reference,
                    "reason": r.reason,
                    "actor_id": r.actor_id,
                }
                for r in rows
            ]

    # -- redemption codes ------------------------------------------------------------------

    async def create_batch(
        self,
        name: str,
        value_pico: int,
        count: int,
        expires_at: int | None,
        actor: str | None,
    ) -> tuple[str, list[str]]:
        """(batch id, the codes): the only time the codes are seen; stored as hashes."""
        batch_id = "rcb_" + secrets.token_hex(8)
        codes = [new_code() for _ in range(count)]
        async with self._db.session() as session, session.begin():
            session.add(
                RedemptionBatchRow(
                    id=batch_id,
                    name=name,
                    value_pico=value_pico,
                    count=count,
                    created_at=int(time.time()),
                    expires_at=expires_at,
                    created_by=actor,
                )
            )
            for code in codes:
                session.add(
                    RedemptionCodeRow(
                        id="rc_" + secrets.token_hex(8),
                        batch_id=batch_id,
                        code_hash=code_hash(code),
                        prefix=code[:7],
                        value_pico=value_pico,
                        expires_at=expires_at,
                    )
                )
        return batch_id, codes

    async def batches(self) -> list[dict[str, Any]]:
        redeemed = func.count(RedemptionCodeRow.redeemed_at)
        revoked = func.count(RedemptionCodeRow.revoked_at)
        query = (
            select(RedemptionBatchRow, redeemed, revoked)
            .outerjoin(RedemptionCodeRow, RedemptionCodeRow.batch_id == RedemptionBatchRow.id)
            .group_by(RedemptionBatchRow.id)
            .order_by(RedemptionBatchRow.created_at.desc(), RedemptionBatchRow.id)
        )
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return [
            {
                "id": b.id,
                "name": b.name,
                "value_pico": b.value_pico,
                "count": b.count,
                "created_at": b.created_at,
                "expires_at": b.expires_at,
                "created_by": b.created_by,
                "redeemed": int(used),
                "revoked": int(gone),
            }
            for b, used, gone in rows
        ]

    async def codes(self, batch_id: str) -> list[dict[str, Any]] | None:
        """The batch's codes (prefix and state, never the code); None: no such batch."""
        async with self._db.session() as session:
            if await session.get(RedemptionBatchRow, batch_id) is None:
                return None
            rows = await session.scalars(
                select(RedemptionCodeRow)
                .where(RedemptionCodeRow.batch_id == batch_id)
                .order_by(RedemptionCodeRow.id)
            )
            return [
                {
                    "id": r.id,
                    "prefix": r.prefix,
                    "value_pico": r.value_pico,
                    "expires_at": r.expires_at,
                    "redeemed_at": r.redeemed_at,
                    "redeemed_by": r.redeemed_by,
                    "revoked_at": r.revoked_at,
                }
                for r in rows
            ]

    async def revoke(self, batch_id: str, code_id: str | None = None) -> int:
        """Revoke the batch's codes not redeemed yet (or one of them); how many were."""
        query = update(RedemptionCodeRow).where(
            RedemptionCodeRow.batch_id == batch_id,
            RedemptionCodeRow.redeemed_at.is_(None),
            RedemptionCodeRow.revoked_at.is_(None),
        )
        if code_id is not None:
            query = query.where(RedemptionCodeRow.id == code_id)
        async with self._db.session() as session, session.begin():
            result = await session.execute(query.values(revoked_at=int(time.time())))
            return int(getattr(result, "rowcount", 0))


async def _credit(
    session: AsyncSession,
    user_id: str,
    amount: int,
    kind: str,
    reference: str | None,
    reason: str | None,
    actor: str | None,
) -> None:
    """Add to the wallet (made on first credit, in a savepoint: two first credits at once
    both land) and write the entry, in the caller's transaction."""
    now = int(time.time())
    if await session.get(WalletRow, user_id) is None:
        try:
            async with session.begin_nested():
                session.add(WalletRow(user_id=user_id, started_at=now, credit_pico=0))
        except IntegrityError:
            pass
    await session.execute(
        update(WalletRow)
        .where(WalletRow.user_id == user_id)
        .values(credit_pico=WalletRow.credit_pico + amount)
    )
    session.add(
        WalletEntryRow(
            user_id=user_id,
            created_at=now,
            amount_pico=amount,
            kind=kind,
            reference=reference,
            reason=reason,
            actor_id=actor,
        )
    )


def _why(row: RedemptionCodeRow | None, now: int) -> Refusal:
    if row is None:
        return "unknown"
    if row.redeemed_at is not None:
        return "used"
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if row.expires_at is not None and row.expires_at <= now else "used"
