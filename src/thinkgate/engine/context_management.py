"""Server-side compaction: `context_management: [{"type": "compaction", "compact_threshold": N}]`
on `POST /v1/responses`.

Before generation the request's input is counted as the model will read it (history,
input, instructions, tools). Past the threshold (unset: 90% of the model's context window,
the `auto_compact_token_limit` of `/v1/models`), the older turns are summarised by the
compaction machinery (engine.compaction: admitted, limited and billed as its own ledger
row, under the compaction item's id) and the answer is generated from the summary and the
latest turn. The compaction item comes first in `output`, announced like any item:

    input  [u1 a1 u2 a2 u3]          model reads [summary(u1..a2), u3]
    output [compaction, message]     compaction = summary(u1..a2) + u3 verbatim, sealed

As OpenAI documents, the latest compaction item stands for everything before it: the next
request may send the whole list again (or only what follows the compaction item, or use
`previous_response_id`), and what precedes that item is dropped (`supersede`). That is
why the output item also seals the turn kept verbatim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinkgate.backends.catalog import AUTO_COMPACT_SHARE
from thinkgate.core.backend import Backend
from thinkgate.core.request import CanonicalRequest, Item
from thinkgate.engine.compaction import Compactor, SummaryPipeline, split_turns, transcript
from thinkgate.engine.compaction_codec import KIND, seal_summary
from thinkgate.ids import new_id

if TYPE_CHECKING:
    from thinkgate.core.admission import Admission


def supersede(request: CanonicalRequest) -> None:
    """Drop what comes before the latest compaction item: its summary stands for it."""
    items = _conversation(request)
    latest = max((i for i, item in enumerate(items) if item.get("type") == KIND), default=0)
    if latest == 0:
        return
    split = len(request.context.history)
    request.context.history = request.context.history[latest:]
    request.input_items = request.input_items[max(0, latest - split) :]


async def compact_before_generation(
    pipeline: SummaryPipeline,
    backend: Backend,
    request: CanonicalRequest,
    admission: Admission | None,
) -> Item | None:
    """The compaction output item, with `request` rewritten to read from it; None when
    compaction is off, the input is within the threshold or there is nothing older."""
    if request.compact_threshold is None:
        return None
    window = backend.capabilities().context_window
    threshold = request.compact_threshold or int(window * AUTO_COMPACT_SHARE)
    if await backend.count_tokens(request) <= threshold:
        return None
    older, recent = split_turns(_conversation(request))
    if not older:  # one turn alone over the threshold: nothing to fold away
        return None
    item_id = new_id("cmp")
    summary, _ = await Compactor(pipeline).summarise(request, older, admission, item_id)
    sealer = pipeline.sealer
    kept = transcript(recent, request.context.summaries)
    carried = f"{summary}\nThe latest turn, verbatim:\n{kept}"
    inner = {"id": new_id("cmp"), "type": KIND, "encrypted_content": seal_summary(sealer, summary)}
    output = {"id": item_id, "type": KIND, "encrypted_content": seal_summary(sealer, carried)}
    request.context.summaries[inner["encrypted_content"]] = summary
    request.context.summaries[output["encrypted_content"]] = carried
    _read_from(request, inner, len(older))
    return output


def _read_from(request: CanonicalRequest, compaction: Item, folded: int) -> None:
    """The first `folded` items (history first, then input) give way to `compaction`."""
    split = len(request.context.history)
    if folded < split:
        request.context.history = [compaction, *request.context.history[folded:]]
    else:
        request.context.history = [compaction]
        request.input_items = request.input_items[folded - split :]


def _conversation(request: CanonicalRequest) -> list[Item]:
    """History then input: what compaction folds (a prompt template's messages stay)."""
    return [*request.context.history, *request.input_items]
