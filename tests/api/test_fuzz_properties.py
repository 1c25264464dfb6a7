"""hypothesis fuzzing of the pure parts the wire depends on: the SSE framer (decoded by the
openai SDK's own decoder), the V4A parser and patch applier, and the chat ↔ responses
translation. Properties: round trips hold, and arbitrary input raises nothing but our
typed errors (a ThinkgateError is a 4xx/5xx body; anything else would be a bare 500)."""

from __future__ import annotations

import contextlib
import itertools
import json
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from openai._streaming import SSEDecoder

from thinkgate.api.sse import DONE_FRAME, ChatFraming, frame, sse_response
from thinkgate.backends.upstream.chat_wire import chat_messages
from thinkgate.backends.upstream.sse_reader import SSEDecoder as UpstreamSSEDecoder
from thinkgate.engine.chat_request import chat_call_from_body
from thinkgate.engine.responses_request import canonical_from_responses
from thinkgate.errors import ThinkgateError
from thinkgate.protocol import parse_body
from thinkgate.protocol.chat import ChatCompletionRequest
from thinkgate.protocol.responses import CreateResponseRequest
from thinkgate.tools import Workspace, apply_patch, write_patch
from thinkgate.tools.errors import PatchError
from thinkgate.tools.seek import apply_chunks
from thinkgate.tools.v4a import AddFile, DeleteFile, UpdateFile, parse_patch, parse_update_diff

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# JSON values as a client could send them (orjson's range: 64-bit integers, finite floats).
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _decode(stream: bytes) -> list[Any]:
    return list(SSEDecoder().iter_bytes(iter([stream])))


# --- SSE -----------------------------------------------------------------------------------

_EVENT_TYPE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), min_size=1
)


@FUZZ
@given(st.dictionaries(st.text(max_size=10), JSON, max_size=5), _EVENT_TYPE)
def test_sse_frame_round_trips_through_the_sdk_decoder(fields: dict[str, Any], kind: str) -> None:
    event = {**fields, "type": kind}
    (named,) = _decode(frame(event))
    assert named.event == kind
    assert json.loads(named.data) == event
    (plain,) = _decode(frame(event, named=False))
    assert plain.event is None and plain.json() == event


@FUZZ
@given(
    st.dictionaries(st.text(max_size=10), JSON, max_size=3), st.sampled_from(["\n", "\r", "x\r\ny"])
)
def test_sse_refuses_to_frame_a_multi_line_event_name(fields: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError):
        frame({**fields, "type": name})


@FUZZ
@given(st.lists(st.dictionaries(st.text(max_size=6), JSON, max_size=3), max_size=6), st.booleans())
@example([{"id": 1}, {"error": None}, {"id": 2}], False)  # CI found it: a chunk keyed "error"
def test_chat_stream_is_chunks_then_done_or_an_error_last(
    chunks: list[dict[str, Any]], fail: bool
) -> None:
    sent = [*chunks, {"error": {"message": "boom"}}] if fail else chunks

    async def collect() -> bytes:
        """The real SSE writer (`sse_response`), one chunk per batch, its body kept."""

        async def source():  # type: ignore[no-untyped-def]
            for chunk in sent:
                yield [chunk]

        body: list[bytes] = []

        async def receive() -> dict[str, Any]:
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        response = sse_response(source(), framing=ChatFraming())
        await response({"type": "http", "extensions": {}}, receive, send)
        return b"".join(body)

    body = anyio.run(collect)
    events = _decode(body)
    cut = next((i for i, c in enumerate(sent) if "error" in c), None)  # generated keys too
    if cut is not None:
        assert not body.endswith(DONE_FRAME)
        assert [e.json() for e in events] == sent[: cut + 1]
    else:
        assert body.endswith(DONE_FRAME)
        assert [e.json() for e in events[:-1]] == sent and events[-1].data == "[DONE]"


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from([None, "delta", "done"]), st.lists(JSON, min_size=1, max_size=3)),
        max_size=5,
    ),
    st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_the_upstream_sse_reader_reads_as_the_sdk_does(
    events: list[tuple[str | None, list[Any]]], cuts: list[int], newline: bytes
) -> None:
    """Our reader of upstream streams (one-line and multi-line `data`, named events,
    comments, any line ending, cut at any byte) finds the events the SDK's decoder finds."""
    lines: list[bytes] = [b": a comment"]
    for name, parts in events:
        if name is not None:
            lines.append(b"event: " + name.encode())
        lines += [b"data: " + json.dumps(part).encode() for part in parts]
        lines.append(b"")
    stream = newline.join(lines) + newline
    reader, found = UpstreamSSEDecoder(), []
    for start, end in itertools.pairwise([0, *sorted(set(cuts)), len(stream)]):
        found += reader.feed(stream[start:end])
    found += reader.close()
    expected = _decode(stream)
    assert [(e.event, e.data.decode()) for e in found] == [
        (e.event or "message", e.data) for e in expected
    ]


# --- V4A -----------------------------------------------------------------------------------

_V4A_LINE = st.one_of(
    st.sampled_from(
        [
            "*** Begin Patch",
            "*** End Patch",
            "*** Add File: a.txt",
            "*** Update File: a.txt",
            "*** Delete File: a.txt",
            "*** Move to: b.txt",
            "*** End of File",
            "@@",
            "@@ def f():",
            "+new",
            "-old",
            " same",
            "",
            "<<'EOF'",
            "EOF",
            "*** Update File: ../escape.txt",
            "*** Add File: /etc/passwd",
        ]
    ),
    st.text(max_size=12),
)


@FUZZ
@given(st.lists(_V4A_LINE, max_size=14), st.sampled_from(["\n", "\r\n"]))
def test_v4a_parser_raises_only_patch_errors(lines: list[str], newline: str) -> None:
    with contextlib.suppress(PatchError):
        parse_patch(newline.join(lines))


@FUZZ
@given(st.lists(_V4A_LINE, max_size=10))
def test_v4a_update_parser_raises_only_patch_errors(lines: list[str]) -> None:
    with contextlib.suppress(PatchError):
        parse_update_diff("\n".join(lines), "a.txt")


_TEXT_FILE = st.lists(st.text(st.characters(blacklist_characters="\r\n"), max_size=8), max_size=8)


@FUZZ
@given(_TEXT_FILE, _TEXT_FILE)
def test_v4a_envelope_round_trip(old_lines: list[str], new_lines: list[str]) -> None:
    old = "".join(line + "\n" for line in old_lines)
    new = "".join(line + "\n" for line in new_lines)
    (added,) = parse_patch(write_patch("a.txt", None, new))
    assert isinstance(added, AddFile) and added.content == new
    (deleted,) = parse_patch(write_patch("a.txt", old, None))
    assert isinstance(deleted, DeleteFile) and deleted.path == "a.txt"
    assume(old != new)
    (updated,) = parse_patch(write_patch("a.txt", old, new))
    assert isinstance(updated, UpdateFile)
    assert apply_chunks(old, updated.chunks, "a.txt") == new


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_V4A_LINE, max_size=12))
def test_v4a_apply_never_escapes_and_raises_only_patch_errors(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    root = tmp_path_factory.mktemp("v4a") / "ws"
    root.mkdir()
    (root / "a.txt").write_text("same\nold\n")
    outside = root.parent / "escape.txt"
    with contextlib.suppress(PatchError):
        apply_patch(Workspace(root), "\n".join(lines))
    assert not outside.exists()


# --- chat ↔ responses ------------------------------------------------------------------------

_WORDS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=16)
_CALL_IDS = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
_NAMES = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@st.composite
def _conversation(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Valid chat messages: instructions, user turns, assistant text or answered tool calls."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(_WORDS)}
        )
    for _turn in range(draw(st.integers(1, 4))):
        messages.append({"role": "user", "content": draw(_WORDS)})
        if draw(st.booleans()):
            ids = draw(st.lists(_CALL_IDS, min_size=1, max_size=3, unique=True))
            calls = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": draw(_NAMES), "arguments": json.dumps(draw(JSON))},
                }
                for call_id in ids
            ]
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            messages += [{"role": "tool", "tool_call_id": i, "content": draw(_WORDS)} for i in ids]
        else:
            messages.append({"role": "assistant", "content": draw(_WORDS)})
    return messages


def _normalised(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a chat upstream must receive for these messages: developer is system there."""
    out = []
    for message in messages:
        message = {k: v for k, v in message.items() if v is not None or k == "content"}
        if message["role"] == "developer":
            message["role"] = "system"
        out.append(message)
    return out


@FUZZ
@given(_conversation())
def test_chat_to_canonical_to_chat_round_trip(messages: list[dict[str, Any]]) -> None:
    body = parse_body(
        json.dumps({"model": "m", "messages": messages}).encode(), ChatCompletionRequest
    )
    canonical = chat_call_from_body(body).request
    assert _normalised(chat_messages(canonical)) == _normalised(messages)


@FUZZ
@given(st.lists(JSON, max_size=4), st.dictionaries(st.text(max_size=10), JSON, max_size=3))
def test_chat_translation_raises_only_typed_errors(
    messages: list[Any], extra: dict[str, Any]
) -> None:
    raw = json.dumps({**extra, "model": "m", "messages": messages}).encode()
    with contextlib.suppress(ThinkgateError):
        chat_call_from_body(parse_body(raw, ChatCompletionRequest))


_ITEM = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["message", "function_call", "function_call_output", "reasoning", "x"]
        )
    },
    optional={
        "role": st.sampled_from(["user", "assistant", "system", "developer", "tool"]),
        "content": st.one_of(
            _WORDS,
            st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(
                            ["input_text", "output_text", "input_image", "refusal"]
                        )
                    },
                    optional={"text": JSON, "image_url": JSON, "refusal": JSON},
                ),
                max_size=3,
            ),
        ),
        "call_id": JSON,
        "name": JSON,
        "arguments": JSON,
        "output": JSON,
        "summary": JSON,
    },
)


@FUZZ
@given(
    st.lists(st.one_of(_ITEM, JSON), max_size=4),
    st.dictionaries(st.text(max_size=10), JSON, max_size=3),
)
def test_responses_translation_raises_only_typed_errors(
    items: list[Any], extra: dict[str, Any]
) -> None:
    raw = json.dumps({**extra, "model": "m", "input": items}).encode()
    try:
        canonical = canonical_from_responses(parse_body(raw, CreateResponseRequest))
        chat_messages(canonical)  # what an upstream chat channel would be sent
    except ThinkgateError:
        pass
