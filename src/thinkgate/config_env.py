"""`THINKGATE_…` environment variables for every setting, read by pydantic-settings.

A setting's variable is its name in capitals after the prefix (`THINKGATE_DATABASE_URL`); a
nested one joins the names with `__` (`THINKGATE_PROMPT_CACHE__RAM_BUDGET_BYTES`); lists
and tables are JSON (`THINKGATE_ALIASES='{"fast": "smollm2-135m-instruct"}'`). Empty
variables count as unset. Only the variables are read here: `config.load_settings` merges
them over the TOML file and under the command line's options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel
from pydantic_settings import BaseSettings, EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

PREFIX = "THINKGATE_"
NESTED_DELIMITER = "__"


class _Environment(EnvSettingsSource):
    """pydantic-settings' own environment source, reading a given mapping (tests pass one)
    instead of `os.environ`."""

    def __init__(self, model: type[BaseModel], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(
            cast("type[BaseSettings]", model),  # it reads only the fields and their types
            env_prefix=PREFIX,
            env_nested_delimiter=NESTED_DELIMITER,
            case_sensitive=False,
            env_ignore_empty=True,
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def environment_values(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings the environment sets, as nested values ready to merge."""
    return dict(_Environment(model, environ)())


def merged(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, tables merged key by key (a variable for one nested setting
    keeps the rest of its TOML table)."""
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result
