"""`thinkgate keys|users|usage`: the admin operations, straight on the database of a data dir.

They open the same database the server uses (SQLite under --data-dir, or
THINKGATE_DATABASE_URL) and print JSON. A key revoked here with THINKGATE_REDIS_URL set is
refused by every running server once the command returns (each confirms through Redis);
without Redis a server drops it at its next key refresh (`keys.REFRESH_INTERVAL_S`, 30 s),
so revoke through the admin API (`DELETE /admin/v1/keys/{id}`) for an immediate effect.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click

from thinkgate.cli.options import config_option, data_dir_option, settings_from
from thinkgate.config import Settings
from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.gateway.admin import BOOTSTRAP_USER, Admin, KeySpec
from thinkgate.gateway.passwords import MAX_LENGTH, MIN_LENGTH
from thinkgate.gateway.setup import open_admin
from thinkgate.store.database import Database
from thinkgate.store.users import UserLimits

T = TypeVar("T")


def _settings(data_dir: Path | None, config_file: Path | None) -> Settings:
    return settings_from(config_file, data_dir=data_dir)


def _run(settings: Settings, action: Callable[[Admin], Awaitable[T]]) -> T:
    async def go() -> T:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.resolved_database_url)
        try:
            await database.migrate()
            admin, keys = open_admin(settings, database)
            await keys.refresh()
            return await action(admin)
        finally:
            await database.aclose()

    return asyncio.run(go())


def _echo(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


@click.group()
def users() -> None:
    """Users who own keys (admin or member)."""


_LIMITS = {"models": "models", "budget": "budget_usd", "monthly-budget": "budget_monthly_usd"}
_LIMITS |= {"rpm": "rpm", "tpm": "tpm"}


def _usd(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise click.BadParameter(f"{value!r} is not an amount in USD") from None
    if not amount.is_finite() or amount < 0:
        raise click.BadParameter("an amount in USD is a number from 0")
    return amount


def _user_limit_options(command: Callable[..., None]) -> Callable[..., None]:
    """The limits all of a user's keys draw from together (each key's own apply too)."""
    options = [
        click.option("--model", "models", multiple=True, help="Allowed model (repeat)."),
        click.option("--budget-usd", callback=_usd, help="Budget in USD, all keys together."),
        click.option("--monthly-budget-usd", callback=_usd, help="Budget per month (UTC)."),
        click.option("--rpm", type=click.IntRange(min=1), help="Requests per minute, all keys."),
        click.option("--tpm", type=click.IntRange(min=1), help="Tokens per minute, all keys."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _given_limits(
    models: tuple[str, ...],
    budget_usd: Decimal | None,
    monthly_budget_usd: Decimal | None,
    rpm: int | None,
    tpm: int | None,
) -> dict[str, Any]:
    given: dict[str, Any] = {"models": models or None, "budget_usd": budget_usd}
    given |= {"budget_monthly_usd": monthly_budget_usd, "rpm": rpm, "tpm": tpm}
    return {name: value for name, value in given.items() if value is not None}


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "member"]), default="member")
@_user_limit_options
@data_dir_option
@config_option
def users_create(
    name: str,
    role: str,
    models: tuple[str, ...],
    budget_usd: Decimal | None,
    monthly_budget_usd: Decimal | None,
    rpm: int | None,
    tpm: int | None,
    data_dir: Path | None,
    config_file: Path | None,
) -> None:
    limits = UserLimits(**_given_limits(models, budget_usd, monthly_budget_usd, rpm, tpm))
    _echo(_run(_settings(data_dir, config_file), lambda a: a.create_user(name, role, None, limits)))


@users.command("set-limits")
@click.argument("user_id")
@_user_limit_options
@click.option(
    "--clear",
    "cleared",
    multiple=True,
    type=click.Choice(sorted(_LIMITS)),
    help="Remove this limit (repeat).",
)
@data_dir_option
@config_option
def users_set_limits(
    user_id: str,
    models: tuple[str, ...],
    budget_usd: Decimal | None,
    monthly_budget_usd: Decimal | None,
    rpm: int | None,
    tpm: int | None,
    cleared: tuple[str, ...],
    data_dir: Path | None,
    config_file: Path | None,
) -> None:
    """Change a user's limits (the ones not named stay); running servers apply it within
    seconds. The limits bind all of the user's keys, console tokens and playground included."""
    changes = {_LIMITS[name]: None for name in cleared}
    changes |= _given_limits(models, budget_usd, monthly_budget_usd, rpm, tpm)
    if not changes:
        raise click.UsageError("name a limit to set, or one to --clear")

    async def update(admin: Admin) -> dict[str, Any]:
        try:
            return await admin.update_user_limits(user_id, changes)
        except NotFoundError as exc:
            raise click.ClickException(exc.message) from exc

    _echo(_run(_settings(data_dir, config_file), update))


@users.command("show")
@click.argument("user_id")
@data_dir_option
@config_option
def users_show(user_id: str, data_dir: Path | None, config_file: Path | None) -> None:
    """A user, their limits, and what all their keys have spent."""
    _echo(_run(_settings(data_dir, config_file), lambda a: a.show_user(user_id)))


@users.command("set-password")
@click.argument("user_id")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from stdin (else: prompt twice)."
)
@data_dir_option
@config_option
def users_set_password(
    user_id: str, password_stdin: bool, data_dir: Path | None, config_file: Path | None
) -> None:
    """Set a user's web console password (hashed with argon2id). The admin is `usr_admin`."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise click.ClickException(f"the password needs {MIN_LENGTH} to {MAX_LENGTH} characters")

    async def set_password(admin: Admin) -> dict[str, Any]:
        if user_id == BOOTSTRAP_USER:
            await admin.ensure_bootstrap_admin()
        try:
            await admin.set_password(user_id, password)
        except NotFoundError as exc:
            raise click.ClickException(exc.message) from exc
        return {"id": user_id, "password_set": True}

    _echo(_run(_settings(data_dir, config_file), set_password))


@users.command("list")
@data_dir_option
@config_option
def users_list(data_dir: Path | None, config_file: Path | None) -> None:
    _echo(_run(_settings(data_dir, config_file), lambda a: a.list_users()))


@click.group()
def keys() -> None:
    """API keys: create (the key is printed once), list, show, revoke."""


@keys.command("create")
@click.argument("name")
@click.option("--user", "user_id", default=None, help="Owner (default: the bootstrap admin).")
@click.option("--model", "models", multiple=True, help="Allowed model (repeat; default: all).")
@click.option("--budget-usd", type=Decimal, default=None, help="Total budget in USD.")
@click.option("--monthly-budget-usd", type=Decimal, default=None, help="Budget per month.")
@click.option("--rpm", type=click.IntRange(min=1), default=None)
@click.option("--tpm", type=click.IntRange(min=1), default=None)
@click.option("--expires-at", type=int, default=None, help="Unix seconds.")
@click.option("--ip", "ips", multiple=True, help="Allowed address or CIDR (repeat).")
@data_dir_option
@config_option
def keys_create(
    name: str,
    user_id: str | None,
    models: tuple[str, ...],
    budget_usd: Decimal | None,
    monthly_budget_usd: Decimal | None,
    rpm: int | None,
    tpm: int | None,
    expires_at: int | None,
    ips: tuple[str, ...],
    data_dir: Path | None,
    config_file: Path | None,
) -> None:
    spec = KeySpec(
        name=name,
        user_id=user_id,
        models=models or None,
        budget_usd=budget_usd,
        budget_monthly_usd=monthly_budget_usd,
        rpm=rpm,
        tpm=tpm,
        expires_at=expires_at,
        ip_allow=ips or None,
    )

    async def create(admin: Admin) -> dict[str, Any]:
        default_user = await admin.ensure_bootstrap_admin()
        try:
            return await admin.create_key(spec, default_user=default_user)
        except InvalidRequestError as exc:  # no such user; models the user may not use
            raise click.ClickException(exc.message) from exc

    _echo(_run(_settings(data_dir, config_file), create))


@keys.command("list")
@click.option("--user", "user_id", default=None)
@data_dir_option
@config_option
def keys_list(user_id: str | None, data_dir: Path | None, config_file: Path | None) -> None:
    _echo(_run(_settings(data_dir, config_file), lambda a: a.list_keys(user_id)))


@keys.command("show")
@click.argument("key_id")
@data_dir_option
@config_option
def keys_show(key_id: str, data_dir: Path | None, config_file: Path | None) -> None:
    _echo(_run(_settings(data_dir, config_file), lambda a: a.show_key(key_id)))


@keys.command("revoke")
@click.argument("key_id")
@data_dir_option
@config_option
def keys_revoke(key_id: str, data_dir: Path | None, config_file: Path | None) -> None:
    settings = _settings(data_dir, config_file)

    async def revoke(admin: Admin) -> dict[str, Any]:
        await admin.show_key(key_id)
        return {"id": key_id, "revoked": await admin.revoke_key(key_id)}

    _echo(_run(settings, revoke))


@click.command()
@click.option("--group-by", type=click.Choice(["day", "model", "key"]), default="day")
@click.option("--key", "key_id", default=None)
@data_dir_option
@config_option
def usage(
    group_by: str, key_id: str | None, data_dir: Path | None, config_file: Path | None
) -> None:
    """Tokens, requests and cost (USD) from the ledger's daily roll-up."""
    by: Any = group_by
    _echo(_run(_settings(data_dir, config_file), lambda a: a.usage(by, key_id)))


def register(main: click.Group) -> None:
    for command in (users, keys, usage):
        main.add_command(command)
