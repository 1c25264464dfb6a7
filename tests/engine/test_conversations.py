"""The Conversations API and `conversation` on responses: real server, real SDK, real model."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.owners import other_user_client, same_user_client
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(300)


def user(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": text}


def texts(items: list[object]) -> list[str]:
    out = []
    for item in items:
        content = item.content  # type: ignore[attr-defined]
        out.append("".join(part.text for part in content))
    return out


def test_create_retrieve_update_delete(client: OpenAI) -> None:
    made = client.conversations.create(
        metadata={"topic": "demo"}, items=[user("Hello"), user("Are you there?")]
    )
    assert made.id.startswith("conv_") and made.object == "conversation"
    assert made.metadata == {"topic": "demo"} and made.created_at > 0
    got = client.conversations.retrieve(made.id)
    assert got == made
    updated = client.conversations.update(made.id, metadata={"topic": "other", "k": "v"})
    assert updated.metadata == {"topic": "other", "k": "v"} and updated.id == made.id
    assert client.conversations.retrieve(made.id).metadata == {"topic": "other", "k": "v"}
    cleared = client.conversations.update(made.id, metadata=None)
    assert cleared.metadata == {}
    deleted = client.conversations.delete(made.id)
    assert deleted.id == made.id and deleted.deleted is True
    assert deleted.object == "conversation.deleted"
    with pytest.raises(openai.NotFoundError) as caught:
        client.conversations.retrieve(made.id)
    assert caught.value.body["param"] == "conversation_id"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.conversations.delete(made.id)


def test_items_create_list_retrieve_delete(client: OpenAI) -> None:
    conversation = client.conversations.create(items=[user("one"), user("two")])
    added = client.conversations.items.create(
        conversation.id,
        items=[user("three"), {"type": "message", "role": "assistant", "content": "four"}],
    )
    assert added.object == "list" and len(added.data) == 2 and added.has_more is False
    assert added.first_id == added.data[0].id and added.last_id == added.data[1].id
    assert texts(added.data) == ["three", "four"]
    assert added.data[1].role == "assistant"  # type: ignore[union-attr]
    newest_first = client.conversations.items.list(conversation.id)
    assert texts(newest_first.data) == ["four", "three", "two", "one"]
    assert newest_first.has_more is False and newest_first.last_id == newest_first.data[-1].id
    page = client.conversations.items.list(conversation.id, limit=3, order="asc")
    assert texts(page.data) == ["one", "two", "three"] and page.has_more is True
    every = list(client.conversations.items.list(conversation.id, limit=1, order="asc"))
    assert texts(every) == ["one", "two", "three", "four"]
    after = client.conversations.items.list(conversation.id, after=page.data[1].id, order="asc")
    assert texts(after.data) == ["three", "four"]
    item = client.conversations.items.retrieve(page.data[1].id, conversation_id=conversation.id)
    assert item == page.data[1]
    left = client.conversations.items.delete(page.data[1].id, conversation_id=conversation.id)
    assert left.id == conversation.id and left.object == "conversation"
    assert texts(client.conversations.items.list(conversation.id, order="asc").data) == [
        "one",
        "three",
        "four",
    ]
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(page.data[1].id, conversation_id=conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.delete(page.data[1].id, conversation_id=conversation.id)


def test_conversation_grows_across_three_responses(client: OpenAI) -> None:
    conversation = client.conversations.create(metadata={"kind": "chat"})
    prompts = ["My name is Ada.", "I live in Paris.", "What is my name?"]
    responses = []
    for number, prompt in enumerate(prompts, start=1):
        response = client.responses.create(
            model="gpt-5.1",
            input=prompt,
            conversation=conversation.id if number % 2 else {"id": conversation.id},
            temperature=0,
            max_output_tokens=24,
        )
        assert response.status in ("completed", "incomplete")
        assert response.conversation is not None and response.conversation.id == conversation.id
        responses.append(response)
        items = client.conversations.items.list(conversation.id, order="asc", limit=100).data
        assert len(items) == 2 * number  # this turn's input and output were appended
        assert items[-1].id == response.output[0].id
        assert texts(items)[-2] == prompt
    usages = [response.usage for response in responses]
    assert all(usage is not None for usage in usages)
    first, second, third = (usage.input_tokens for usage in usages if usage is not None)
    assert first < second < third  # every turn saw the whole conversation before it
    items = client.conversations.items.list(conversation.id, order="asc", limit=100).data
    assert [item.role for item in items] == [  # type: ignore[union-attr]
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    stored = client.responses.retrieve(responses[2].id)
    assert stored.conversation is not None and stored.conversation.id == conversation.id
    # input_items: every item the turn was generated from (the conversation before it,
    # then its own input), as for a `previous_response_id` chain; not its own answer
    used = client.responses.input_items.list(responses[2].id, order="asc").data
    assert [item.id for item in used] == [item.id for item in items[:5]]
    assert texts(used)[-1] == prompts[2]


def test_conversation_with_previous_response_id_is_refused(client: OpenAI) -> None:
    conversation = client.conversations.create()
    first = client.responses.create(
        model="gpt-5.1", input="Hi", temperature=0, max_output_tokens=16
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="gpt-5.1",
            input="Again",
            conversation=conversation.id,
            previous_response_id=first.id,
        )
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == "conversation"
    assert "previous_response_id" in body["message"] and "conversation" in body["message"]
    assert client.conversations.items.list(conversation.id).data == []


def test_unknown_conversation_is_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-5.1", input="Hi", conversation="conv_missing")
    assert caught.value.body["param"] == "conversation"  # type: ignore[index]
    for call in (
        lambda: client.conversations.retrieve("conv_missing"),
        lambda: client.conversations.update("conv_missing", metadata={"a": "b"}),
        lambda: client.conversations.items.list("conv_missing"),
        lambda: client.conversations.items.create("conv_missing", items=[user("x")]),
        lambda: client.conversations.items.retrieve("msg_x", conversation_id="conv_missing"),
    ):
        with pytest.raises(openai.NotFoundError):
            call()


@pytest.mark.parametrize(
    ("method", "path", "payload", "param"),
    [
        ("POST", "/v1/conversations", {"items": [{"role": "user", "content": "x"}] * 21}, "items"),
        ("POST", "/v1/conversations", {"items": [{"type": "nope"}]}, "items[0].type"),
        ("POST", "/v1/conversations", {"items": [{"role": "robot", "content": "x"}]}, None),
        ("POST", "/v1/conversations", {"metadata": {"k": "v" * 513}}, "metadata"),
        ("POST", "/v1/conversations", {"metadata": {"k": 1}}, None),
        ("POST", "/v1/conversations", {"unknown": 1}, "unknown"),
        ("POST", "/v1/conversations/{id}", {}, "metadata"),
        ("POST", "/v1/conversations/{id}/items", {"items": []}, "items"),
        ("POST", "/v1/conversations/{id}/items", {}, "items"),
        ("GET", "/v1/conversations/{id}/items?limit=0", None, "limit"),
        ("GET", "/v1/conversations/{id}/items?order=up", None, "order"),
        ("GET", "/v1/conversations/{id}/items?include=bogus", None, None),
    ],
)
def test_bad_inputs_are_400_with_param(
    http: httpx.Client, method: str, path: str, payload: object, param: str | None
) -> None:
    conversation = http.post("/v1/conversations", json={}).json()
    reply = http.request(method, path.format(id=conversation["id"]), json=payload)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    if param is not None:
        assert error["param"] == param


def test_other_owner_sees_nothing(
    client: OpenAI, server: ServerProcess, http: httpx.Client
) -> None:
    other = other_user_client(server.base_url, http)
    conversation = client.conversations.create(items=[user("secret")])
    [item] = client.conversations.items.list(conversation.id).data
    for call in (
        lambda: other.conversations.retrieve(conversation.id),
        lambda: other.conversations.update(conversation.id, metadata={}),
        lambda: other.conversations.delete(conversation.id),
        lambda: other.conversations.items.list(conversation.id),
        lambda: other.conversations.items.create(conversation.id, items=[user("x")]),
        lambda: other.conversations.items.retrieve(item.id, conversation_id=conversation.id),
        lambda: other.conversations.items.delete(item.id, conversation_id=conversation.id),
        lambda: other.responses.create(
            model="gpt-5.1", input="Hi", conversation=conversation.id, max_output_tokens=16
        ),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert len(client.conversations.items.list(conversation.id).data) == 1  # untouched
    mine = other.conversations.create()
    assert other.conversations.retrieve(mine.id).id == mine.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(mine.id)


def test_keys_of_one_user_share_conversations(
    client: OpenAI, server: ServerProcess, http: httpx.Client
) -> None:
    colleague = same_user_client(server.base_url, http)
    conversation = client.conversations.create(metadata={"shared": "yes"})
    assert colleague.conversations.retrieve(conversation.id).metadata == {"shared": "yes"}


def test_input_tokens_count_the_conversation(client: OpenAI, http: httpx.Client) -> None:
    conversation = client.conversations.create(items=[user("A long remembered story. " * 20)])
    alone = http.post("/v1/responses/input_tokens", json={"model": "gpt-5.1", "input": "Hi"})
    within = http.post(
        "/v1/responses/input_tokens",
        json={"model": "gpt-5.1", "input": "Hi", "conversation": conversation.id},
    )
    assert alone.status_code == within.status_code == 200, within.text
    assert within.json()["input_tokens"] > alone.json()["input_tokens"] + 80
    missing = http.post(
        "/v1/responses/input_tokens",
        json={"model": "gpt-5.1", "input": "Hi", "conversation": "conv_missing"},
    )
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "conversation"
