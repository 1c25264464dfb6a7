"""One value per query parameter: `?limit=1&limit=2` is a 400, not a silent "the last one
wins" (Starlette's rule), so that what a client meant is never guessed."""

from __future__ import annotations

from fastapi import Request

from thinkgate.api.deps import get_services, require_key
from thinkgate.errors import InvalidRequestError

LIST_PARAMETERS = frozenset({"include"})  # declared as arrays: repeating them is the syntax
_API = ("/v1/", "/admin/v1/")  # the console's pages keep the browser's form rules


async def single_valued_query(request: Request) -> None:
    """App-wide dependency; costs nothing without a query string. The key is checked
    first, so that a caller without one learns only that (401)."""
    if not request.url.query or not request.url.path.startswith(_API):
        return
    keys = [key for key, _ in request.query_params.multi_items() if key not in LIST_PARAMETERS]
    repeated = next((key for key in keys if keys.count(key) > 1), None)
    if repeated is None:
        return
    await require_key(request, await get_services(request))
    raise InvalidRequestError(
        f"Invalid '{repeated}': expected a single value, but it was given {keys.count(repeated)} "
        "times.",
        param=repeated,
        code="invalid_value",
    )
