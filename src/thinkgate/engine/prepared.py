"""`generate: false` (WebSocket mode's warm-up): a response that prepares request state and
generates nothing.

OpenAI's WebSocket mode lets a client send `response.create` with `generate: false` ahead
of a turn; the reply is a response id to chain from with `previous_response_id`. Here the
request is checked and its state resolved exactly as for a generation (model, stored
history, item references, admission), then the response ends `completed` with no output
items and no tokens: no model ran, so nothing is billed (the prompt is counted, and billed,
by the turn that generates). It is stored (`store`) and joins its conversation like any
finished turn, so the chain holds its input.
"""

from __future__ import annotations

from thinkgate.core.backend import Batches
from thinkgate.core.deltas import FinishDelta, PromptDelta
from thinkgate.engine.assembler import Event, ResponseAssembler
from thinkgate.engine.response_object import snapshot


class PreparedAssembler(ResponseAssembler):
    """A `ResponseAssembler` whose finish adds no item: `response.completed`, `output: []`."""

    def finish(self, delta: FinishDelta) -> list[Event]:
        self.output_tokens, self.reasoning_tokens = delta.output_tokens, delta.reasoning_tokens
        self._settle("completed")
        return [self._event("response.completed", response=snapshot(self.response))]


class NoGeneration:
    """The `core.backend.Prepared` of a run in which no model runs: an empty prompt, then
    the finish."""

    prompt = PromptDelta(input_tokens=0)

    async def send(self) -> None:
        """Nothing to send."""

    async def stream(self) -> Batches:
        yield (FinishDelta(reason="stop", output_tokens=0),)

    async def aclose(self) -> None:
        """Nothing held."""
