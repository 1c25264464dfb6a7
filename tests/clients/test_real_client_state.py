"""What real clients keep across requests (docs/clients.md): `service_tier` mapped to a
channel's tiers, Codex's turn state passed back, `item_reference` to conversation items,
and `input_items` of a `conversation` response.

Upstreams are stand-ins: tests/support/codex_standin.py (Responses and chat; it records what it
was sent, answers with a turn state and reports the tier that served) and
tests/support/standin_upstream.py (`ok`: a fixed text answer, for the stored-state tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from pydantic import ValidationError

from tests.support.config import channel, write_config
from tests.support.owners import other_user_client
from tests.support.server import ADMIN_KEY, ManagedProcess, ServerProcess, make_client
from tests.support.upstreams import UpstreamProcess, serve_module
from thinkgate.config import ChannelConfig

SHELL = {
    "type": "function",
    "name": "shell_command",
    "description": "Runs a shell command.",
    "parameters": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}
TURN_STATE = "x-codex-turn-state"


@pytest.fixture(scope="module")
def coder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    yield from serve_module(tmp_path_factory, "tests.support.codex_standin")


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, coder: ManagedProcess, standin: UpstreamProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("state-front")
    config = write_config(
        root / "thinkgate.toml",
        channel("resp", coder.base_url, {"coder": "codex-standin"}, kind="openai-responses"),
        channel(
            "resp-tiers",
            coder.base_url,
            {"coder-tiers": "codex-standin"},
            kind="openai-responses",
            service_tiers={"fast": "priority", "ultrafast": "priority"},
        ),
        channel("chat", coder.base_url, {"coder-chat": "codex-standin"}),
        channel(
            "chat-tiers",
            coder.base_url,
            {"coder-chat-tiers": "codex-standin"},
            service_tiers={"fast": "priority"},
        ),
        channel("text", standin.base_url, {"ok": "ok"}),
    )
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


@pytest.fixture(scope="module")
def raw(front: ServerProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=front.base_url, headers=headers, timeout=120) as client:
        yield client


def _received(coder: ManagedProcess) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = httpx.get(f"{coder.base_url}/stats").json()["requests"]
    return requests


# --- service_tier ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "asked", "sent", "shown"),
    [
        ("coder-tiers", "fast", "priority", "priority"),  # the channel's tier for it
        ("coder-tiers", "ultrafast", "priority", "priority"),
        ("coder-tiers", "flex", None, "default"),  # declared tiers only: flex is not one
        ("coder", "fast", None, "default"),  # not OpenAI's own name: not sent
        ("coder", "priority", "priority", "priority"),  # OpenAI's own: passed as it is
        ("coder", "scale", "scale", "default"),  # the upstream's report wins
        ("coder", "auto", None, "default"),  # the default: never sent
        ("coder-chat", "ultrafast", None, "default"),
        ("coder-chat", "flex", "flex", "flex"),
        ("coder-chat-tiers", "fast", "priority", "priority"),  # no report: what was sent
    ],
)
def test_service_tier_is_mapped_to_the_channels_tiers(
    api: OpenAI, coder: ManagedProcess, model: str, asked: str, sent: str | None, shown: str
) -> None:
    before = len(_received(coder))
    response = api.responses.create(
        model=model, input="Fix greeting.py.", tools=[SHELL], service_tier=asked, store=False
    )  # type: ignore[call-overload]
    [received] = _received(coder)[before:]
    assert received["body"].get("service_tier") == sent
    assert response.service_tier == shown


def test_chat_completions_show_fast_as_priority(api: OpenAI) -> None:
    completion = api.chat.completions.create(
        model="ok", messages=[{"role": "user", "content": "Hi."}], service_tier="fast"
    )
    assert completion.service_tier == "priority"  # OpenAI's name for it


def test_a_channels_tiers_are_checked_at_boot() -> None:
    base = {"name": "c", "kind": "openai-chat", "base_url": "http://x/v1", "models": {"a": "b"}}
    ChannelConfig.model_validate(base | {"service_tiers": {"fast": "on_demand"}})
    for tiers in ({"turbo": "priority"}, {"fast": ""}, {"fast": "two words"}):
        with pytest.raises(ValidationError):
            ChannelConfig.model_validate(base | {"service_tiers": tiers})


# --- x-codex-turn-state ----------------------------------------------------------------


def _post(raw: httpx.Client, model: str, state: str | None, **body: Any) -> httpx.Response:
    headers = {} if state is None else {TURN_STATE: state}
    payload = {"model": model, "input": "Fix greeting.py.", "tools": [SHELL], "store": False}
    return raw.post("/v1/responses", json=payload | body, headers=headers)


def test_an_upstreams_turn_state_reaches_the_client(
    raw: httpx.Client, coder: ManagedProcess
) -> None:
    first = _post(raw, "coder", None)
    assert first.status_code == 200, first.text
    state = first.headers[TURN_STATE]
    assert state.startswith("standin-turn-")  # minted by the upstream, passed back
    second = _post(raw, "coder", state)  # Codex repeats it for the rest of the turn
    assert second.headers[TURN_STATE] == state
    assert _received(coder)[-1]["headers"][TURN_STATE] == state
    payload = {"model": "coder", "input": "Fix it.", "tools": [SHELL], "stream": True}
    with raw.stream("POST", "/v1/responses", json=payload) as streamed:
        assert streamed.status_code == 200
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert streamed.headers[TURN_STATE].startswith("standin-turn-")
        streamed.read()


def test_without_an_upstream_token_the_clients_own_is_echoed(
    raw: httpx.Client, coder: ManagedProcess
) -> None:
    echoed = _post(raw, "coder-chat", "client-turn-7")
    assert echoed.status_code == 200, echoed.text
    assert echoed.headers[TURN_STATE] == "client-turn-7"
    assert TURN_STATE not in _received(coder)[-1]["headers"]  # never to chat-only upstreams
    assert TURN_STATE not in _post(raw, "coder-chat", None).headers  # none minted here


# --- item_reference to conversation items ---------------------------------------------


def _conversation(api: OpenAI, *texts: str) -> tuple[str, list[str]]:
    items = [{"type": "message", "role": "user", "content": text} for text in texts]
    conversation = api.conversations.create(items=items)  # type: ignore[arg-type]
    listed = api.conversations.items.list(conversation.id, order="asc").data
    return conversation.id, [item.id for item in listed if item.id is not None]


def test_item_references_resolve_to_conversation_items(api: OpenAI) -> None:
    conversation_id, [item_id] = _conversation(api, "Remember: the colour is blue.")
    stored = api.conversations.items.retrieve(item_id, conversation_id=conversation_id)
    reference = {"type": "item_reference", "id": item_id}
    response = api.responses.create(
        model="ok", input=[reference, {"role": "user", "content": "Which colour?"}]
    )  # type: ignore[list-item]
    [resolved, asked] = api.responses.input_items.list(response.id, order="asc").data
    assert resolved.model_dump(exclude_none=True) == stored.model_dump(exclude_none=True)
    assert asked.type == "message"
    with pytest.raises(openai.BadRequestError) as caught:  # already in the conversation
        api.responses.create(model="ok", conversation=conversation_id, input=[reference])  # type: ignore[list-item]
    assert caught.value.param == "input"
    assert caught.value.body["message"] == (  # type: ignore[index]
        f"Duplicate item found with id {item_id}. Remove duplicate items from your "
        "input and try again."
    )


def test_another_users_conversation_item_is_not_found(
    api: OpenAI, raw: httpx.Client, front: ServerProcess
) -> None:
    _, [item_id] = _conversation(api, "A secret of mine.")
    stranger = other_user_client(front.base_url, raw)
    with pytest.raises(openai.NotFoundError) as caught:
        stranger.responses.create(model="ok", input=[{"type": "item_reference", "id": item_id}])  # type: ignore[list-item]
    assert caught.value.param == "input"
    assert caught.value.body["message"] == f"Item with id '{item_id}' not found."  # type: ignore[index]


# --- input_items of a conversation response --------------------------------------------


def test_input_items_of_a_conversation_response_list_the_earlier_items(api: OpenAI) -> None:
    conversation_id, _ = _conversation(api, "My name is Ada.")
    first = api.responses.create(model="ok", conversation=conversation_id, input="Hello.")
    second = api.responses.create(model="ok", conversation=conversation_id, input="Who am I?")
    everything = [
        item.id for item in api.conversations.items.list(conversation_id, order="asc").data
    ]
    used = 2 + len(first.output) + 1  # the first item, turn one, then turn two's input
    assert len(everything) == used + len(second.output)
    first_ids = [i.id for i in api.responses.input_items.list(first.id, order="asc").data]
    assert first_ids == everything[:2]
    listed = api.responses.input_items.list(second.id, order="asc").data
    assert [item.id for item in listed] == everything[:used]  # not its own answer
    newest = api.responses.input_items.list(second.id, limit=2)  # desc, paged
    assert [item.id for item in newest.data] == everything[used - 1 : used - 3 : -1]
    assert newest.has_more
    rest = api.responses.input_items.list(second.id, after=everything[1])
    assert [item.id for item in rest.data] == [everything[0]]
