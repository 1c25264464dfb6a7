"""Codex's session headers (an allow-list) and upstream-sealed reasoning sent back.

End to end, through a real Responses-native channel: tests/clients/test_codex_upstreams.py.
"""

from __future__ import annotations

import pytest

from thinkgate.core.deltas import ReasoningDoneDelta
from thinkgate.core.request import CanonicalRequest, RequestContext
from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.client_headers import session_headers
from thinkgate.reasoning.sealing import Sealer


def test_only_allowed_session_headers_are_kept() -> None:
    sent = [
        ("Session-Id", "019a-session"),
        ("session_id", "019a-old-style"),
        ("x-codex-turn-state", "opaque-routing-token"),
        ("thread-id", "019a-thread"),
        ("x-client-request-id", "019a-request"),
        ("Authorization", "Bearer sk-client-secret"),
        ("cookie", "tg_session=abc"),
        ("x-codex-turn-metadata", '{"workspaces": {"/home/me/secret-project": {}}}'),
        ("x-codex-window-id", "x" * 2000),  # too long to be an id
        ("x-openai-subagent", "review\x7f"),  # not printable
    ]
    assert session_headers(sent) == {
        "session-id": "019a-session",
        "session_id": "019a-old-style",
        "x-codex-turn-state": "opaque-routing-token",
        "thread-id": "019a-thread",
        "x-client-request-id": "019a-request",
    }


def test_an_upstreams_sealed_reasoning_goes_back_to_it_unchanged() -> None:
    sealer = Sealer.ephemeral()
    done = sealer.seal_upstream(ReasoningDoneDelta("", (), "upstream-own-blob"))
    assert done.encrypted_content not in (None, "upstream-own-blob")  # the client sees ours
    item = {"type": "reasoning", "summary": [], "encrypted_content": done.encrypted_content}
    request = CanonicalRequest(
        model="m", input_items=[item], context=RequestContext(history=[dict(item)])
    )
    sealer.unseal_inputs(request)
    assert request.input_items[0]["encrypted_content"] == "upstream-own-blob"
    assert "content" not in request.input_items[0]  # nothing for another model to read
    assert request.context.history[0]["encrypted_content"] == "upstream-own-blob"
    assert sealer.seal_upstream(ReasoningDoneDelta("thought")).encrypted_content is None


def test_a_foreign_blob_is_still_refused() -> None:
    item = {"type": "reasoning", "summary": [], "encrypted_content": "upstream-own-blob"}
    with pytest.raises(InvalidRequestError) as caught:
        Sealer.ephemeral().unseal_inputs(CanonicalRequest(model="m", input_items=[item]))
    assert caught.value.param == "input[0].encrypted_content"
