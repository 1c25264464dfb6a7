"""Server configs for the tests, built instead of hand-written: `channel(...)` is one
`[[channels]]` entry, `server_config(...)` the TOML text of settings sections and channels,
`write_config(...)` that text in a file for `ServerProcess(config=...)`. tomlkit (a runtime
dependency) writes the TOML, so quoting and nesting are never a test's concern."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import tomlkit

Kind = Literal["openai-chat", "openai-responses"]


def channel(
    name: str,
    upstream: str,
    models: Mapping[str, str] | None = None,
    *,
    kind: Kind = "openai-chat",
    **extra: Any,
) -> dict[str, Any]:
    """One upstream channel: `upstream` is the server's root URL (its `/v1` is added),
    `models` maps the names clients ask for to the upstream's, `extra` is any other
    channel setting (`priority=2`, `api_key_env="KEY"`, `timeouts={"first_byte": 1.0}`)."""
    entry: dict[str, Any] = {"name": name, "kind": kind, "base_url": f"{upstream}/v1"}
    entry |= extra
    if models is not None:
        entry["models"] = dict(models)
    return entry


def server_config(
    *channels: Mapping[str, Any], preamble: str = "", **sections: Mapping[str, Any] | Any
) -> str:
    """The TOML text: the top-level settings among `sections` (`log_format="json"`), then
    `preamble` (raw TOML a test keeps as written), then the table sections
    (`security={"allowed_networks": [...]}`) and the channels in order. Top-level keys come
    first because TOML puts a key after a table header inside that table."""
    tables = {key: value for key, value in sections.items() if _is_table(value)}
    scalars = {key: value for key, value in sections.items() if key not in tables}
    document: dict[str, Any] = dict(tables)
    if channels:
        document["channels"] = [dict(entry) for entry in channels]
    parts = [tomlkit.dumps(scalars) if scalars else "", preamble.strip(), tomlkit.dumps(document)]
    return "\n\n".join(part.strip("\n") for part in parts if part.strip()) + "\n"


def _is_table(value: Any) -> bool:
    """A table or an array of tables: TOML writes either under a header."""
    if isinstance(value, Mapping):
        return True
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def write_config(
    path: Path, *channels: Mapping[str, Any], preamble: str = "", **sections: Any
) -> Path:
    """`server_config` written to `path` (returned, for `ServerProcess(config=...)`)."""
    path.write_text(server_config(*channels, preamble=preamble, **sections))
    return path
