"""Opening the gateway at boot: key ring (with its pepper), counters (Redis or in-process),
ledger writer, and the bootstrap admin key."""

from __future__ import annotations

import functools
import os
import sys

from sqlalchemy.exc import IntegrityError

from thinkgate.backends.registry import ModelRegistry, channel_states
from thinkgate.config import Settings
from thinkgate.gateway.admin import Admin, KeySpec
from thinkgate.gateway.audit import record_config_changes
from thinkgate.gateway.billing import open_billing
from thinkgate.gateway.counters import Counters, MemoryCounters
from thinkgate.gateway.keys import KeyRing, load_pepper
from thinkgate.gateway.ledger import LedgerWriter
from thinkgate.gateway.pricing import PriceTable
from thinkgate.gateway.service import Gateway
from thinkgate.gateway.user_limits import UserBook
from thinkgate.store.database import Database
from thinkgate.store.keys import KeyRepository
from thinkgate.store.ledger import LedgerRepository
from thinkgate.store.users import UserRepository

ADMIN_KEY_FILE = "admin-key.txt"


def open_admin(settings: Settings, database: Database) -> tuple[Admin, KeyRing]:
    """What the CLI needs (no counters, no writer): keys, users and the ledger. With Redis,
    its revocations are announced to the running servers (over a connection of its own)."""
    pepper_secret = settings.key_pepper.get_secret_value() if settings.key_pepper else None
    key_repository = KeyRepository(database)
    keys = KeyRing(key_repository, load_pepper(pepper_secret, settings.data_dir))
    if settings.redis_url is not None:
        keys.announce_with(functools.partial(_announce_via, settings.redis_url))
    admin = Admin(keys, key_repository, UserRepository(database), LedgerRepository(database))
    return admin, keys


async def open_gateway(
    settings: Settings, database: Database, registry: ModelRegistry
) -> tuple[Gateway, Admin]:
    admin, keys = open_admin(settings, database)
    await keys.refresh()
    ledger_repository = LedgerRepository(database)
    writer = LedgerWriter(ledger_repository)
    counters = await _counters(settings, keys, writer)
    keys.announce_with(counters.publish_revoked)
    keys.start_refreshing()
    writer.start()
    users = UserBook(UserRepository(database))
    billing = open_billing(
        settings,
        database,
        counters,
        users,
        ledger_repository,
        lambda: channel_states(registry),
        writer.flush,
    )
    gateway = Gateway(
        keys=keys,
        ledger_repository=ledger_repository,
        ledger=writer,
        prices=PriceTable(settings.pricing, settings.tool_pricing),
        counters=counters,
        registry=registry,
        users=users,
        billing=billing,
    )
    await bootstrap_admin_key(settings, admin, keys)
    await record_config_changes(
        database,
        {
            "tokens": {m: p.model_dump(mode="json") for m, p in settings.pricing.items()},
            "tools": {t: f"{p:f}" for t, p in settings.tool_pricing.items()},
        },
        [c.model_dump(mode="json", exclude={"api_key_env"}) for c in settings.channels],
    )
    return gateway, admin


async def _counters(settings: Settings, keys: KeyRing, writer: LedgerWriter) -> Counters:
    if settings.redis_url is None:
        return MemoryCounters()
    from thinkgate.gateway.counter_outage import GuardedCounters

    counters = GuardedCounters(
        settings.redis_url, settings.redis_outage, settings.redis_outage_replicas, writer.flush
    )
    await counters.start(keys)  # Redis unreachable: starts in an outage, reconnecting
    return counters


async def _announce_via(url: str, key_id: str) -> None:
    from thinkgate.gateway.revocations import announce_via

    await announce_via(url, key_id)


async def bootstrap_admin_key(settings: Settings, admin: Admin, keys: KeyRing) -> None:
    """THINKGATE_ADMIN_KEY is stored (hashed); without it, the first start makes one and
    hands it over once (`_hand_over`), never through the log."""
    try:
        user_id = await admin.ensure_bootstrap_admin()
        if settings.admin_password is not None:  # the web console's admin sign-in
            await admin.ensure_password(user_id, settings.admin_password.get_secret_value())
        if settings.admin_key is not None:
            secret = settings.admin_key.get_secret_value()
            await admin.create_key(KeySpec(name="admin"), default_user=user_id, key=secret)
            return
        if await keys.has_admin():
            return
        created = await admin.create_key(KeySpec(name="admin"), default_user=user_id)
    except IntegrityError:  # another replica bootstrapped at the same moment
        await keys.refresh()
        return
    _hand_over(settings, created["key"])


def _hand_over(settings: Settings, secret: str) -> None:
    """A terminal sees the key once. Anything else (systemd, docker, a file) keeps what a
    process prints, so there the key goes to a 0600 file in the data dir instead."""
    if sys.stderr.isatty():
        shown = f"    {secret}"
    else:
        path = settings.data_dir / ADMIN_KEY_FILE
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secret + "\n")
        shown = f"    in {path} (readable by this user only): read it, then delete the file"
    print(
        f"\nthinkgate: created the admin API key (shown only this once, stored hashed):\n\n"
        f"{shown}\n\nUse it as `Authorization: Bearer <key>`.\n",
        file=sys.stderr,
        flush=True,
    )
