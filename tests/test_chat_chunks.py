"""Streamed chat text chunks written from their choice's JSON template are the chunk
OpenAI's shape asks for, key for key, whatever the text holds."""

from __future__ import annotations

import orjson
import pytest

from thinkgate.engine.chat_render import ChatAssembler, ChatHeader
from thinkgate.engine.deltas import TextDelta
from thinkgate.engine.request import CanonicalRequest

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
