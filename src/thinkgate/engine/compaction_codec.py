"""The `encrypted_content` of a `compaction` item: the summary a compaction wrote, sealed.

Sealed like reasoning items (`reasoning.sealing.Sealer`, kind `compaction`): encrypted
and authenticated with the server's key, so a client can neither read the summary nor
forge or alter one (a summary is put in the model's context as a system note). What does
not open is the client's error: a 400 naming the item, before any generation.

The pipeline opens every compaction item of a request once, in `prepare`, into
`RequestContext.summaries` (keyed by the sealed text); prompt rendering reads it there.
"""

from __future__ import annotations

from thinkgate.core.request import CanonicalRequest
from thinkgate.reasoning.sealing import Sealer

KIND = "compaction"


def seal_summary(sealer: Sealer, summary: str) -> str:
    return sealer.seal(summary, kind=KIND)


def open_summaries(sealer: Sealer, request: CanonicalRequest) -> None:
    """Every compaction item's summary into `request.context.summaries`; one that does not open
    (forged, altered, sealed by another server) is a 400 naming it."""
    history_param = "conversation" if request.conversation_id else "previous_response_id"
    items = [(item, history_param) for item in request.context.history]
    input_param = request.context.param_names.get("input", "input")
    items += [
        (item, f"{input_param}[{index}].encrypted_content")
        for index, item in enumerate(request.input_items)
    ]
    for item, param in items:
        blob = str(item.get("encrypted_content") or "")
        if item.get("type") == KIND and blob not in request.context.summaries:
            request.context.summaries[blob] = sealer.open(blob, param=param, kind=KIND)
