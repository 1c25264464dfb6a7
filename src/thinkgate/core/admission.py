"""The gateway's hook into a run, as the engine sees it: admission before generation
(keys, limits, budget: it may refuse) and settlement after, whatever the outcome. The
gateway's `Account` and `Bill` provide them; the engine runs without one (tests of the
engine alone)."""

from __future__ import annotations

from typing import Any, Protocol

from thinkgate.core.request import CanonicalRequest, ResponseDict
from thinkgate.errors import ThinkgateError


class Settlement(Protocol):
    """One admitted run's bill: told the final response once, however the run ended."""

    async def settle(
        self, response: ResponseDict, usage: dict[str, Any], *, channel: str | None = None
    ) -> None: ...

    def settle_now(
        self, response: ResponseDict, usage: dict[str, Any], *, channel: str | None = None
    ) -> bool:
        """`settle` at once where nothing needs waiting for; False: not settled."""
        ...

    async def withdraw(
        self,
        response_id: str,
        error: ThinkgateError | None,
        *,
        channel: str | None,
    ) -> None:
        """Admitted, then the backend failed before generating (every upstream channel
        failed, or one refused the request; `error` None: the request was cancelled):
        nothing is billed, what was reserved goes back, and the attempt is recorded."""
        ...


class Admission(Protocol):
    """The gateway's hook (keys, budgets, limits): it may refuse a prompt before generation.

    Optional: the pipeline runs without one (tests of the engine alone).
    """

    @property
    def upstream_detail(self) -> bool:
        """Whether upstream failures may name their channel and quote the upstream."""
        ...

    async def admit(
        self, request: CanonicalRequest, input_tokens: int, max_output_tokens: int
    ) -> Settlement: ...

    def failed_early(
        self,
        request: CanonicalRequest,
        response_id: str,
        error: ThinkgateError,
        *,
        channel: str | None,
    ) -> None:
        """The backend failed before its first Delta (every upstream channel failed, or
        one refused the request): nothing was generated, but the attempt is recorded."""
        ...
