"""The chat hot path's shortcuts give what the general path gives: streamed text chunks
written from their choice's JSON template are the chunk OpenAI's shape asks for, key for
key, whatever the text holds; a plain message skips validation yet parses the same."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from thinkgate.core.deltas import TextDelta
from thinkgate.core.request import CanonicalRequest
from thinkgate.engine.chat_render import ChatAssembler, ChatHeader
from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.chat_messages import parse_messages

TEXTS = [
    "Hello",
    ' say "hi" \\ back',
    "é中😀",
    "\n\t\x00\x1f",
    "</script>",
]  # (empty text sends no chunk)


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("obfuscate", [False, True])
@pytest.mark.parametrize("model", ["gpt-5.1", 'odd "model" \x00text\x00 name', "\x00text\x00"])
def test_text_chunks_are_the_chunk_objects(
    include_usage: bool, obfuscate: bool, model: str
) -> None:
    header = ChatHeader.for_request(CanonicalRequest(model=model, input_items=[]))
    choice = ChatAssembler(
        header, 1, stream=True, logprobs=False, include_usage=include_usage, obfuscate=obfuscate
    )
    paddings = set()
    for text in TEXTS * 20:
        (chunk,) = choice.feed(TextDelta(text))
        parsed = orjson.loads(chunk) if isinstance(chunk, bytes) else chunk
        expected = {
            "id": header.id,
            "object": "chat.completion.chunk",
            "created": header.created,
            "model": model,
            "service_tier": header.service_tier,
            "system_fingerprint": header.system_fingerprint,
            **({"usage": None} if include_usage else {}),
            "choices": [
                {"index": 1, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
            ],
        }
        if obfuscate:
            padding = parsed.pop("obfuscation")
            assert 1 <= len(padding) <= 16 and padding.isalnum()
            paddings.add(padding)
        assert list(parsed) == list(expected) and parsed == expected
    assert len(paddings) > 4 if obfuscate else not paddings  # its length varies per chunk
    assert choice.choice()["message"]["content"] == "".join(TEXTS * 20)


@given(
    role=st.sampled_from(["system", "developer", "user", "assistant"]),
    text=st.text(max_size=40),
)
def test_a_plain_message_parses_as_a_validated_one(role: str, text: str) -> None:
    """`{"role", "content": "…"}` (the short way in) is the message the full validation
    makes of the same message with an unused `name`."""
    plain = parse_messages([{"role": role, "content": text}])
    validated = parse_messages([{"role": role, "content": text, "name": "n"}])
    assert plain == validated
    assert plain[0].parts[0].text == text


@pytest.mark.parametrize(
    "message",
    [["user", "hi"], "hi", {"role": "tool", "content": "x"}, {"role": "user", "content": 1}],
)
def test_messages_outside_the_short_way_are_still_refused(message: Any) -> None:
    with pytest.raises(InvalidRequestError):
        parse_messages([message])
