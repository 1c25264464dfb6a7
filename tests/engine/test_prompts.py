"""Stored prompt templates: made and versioned through the admin API and the console, used
through the openai SDK's `prompt=` on the embedded model and the real store.

What the model saw is read from what is deterministic: the response's `instructions` echo
(the template's messages as the model received them), the token count of the prompt, and
the embedded model's own refusal of an image part. The weak model's words are never
asserted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.console_support import (
    ADMIN_PASSWORD,
    Browserless,
    add_key,
    add_user,
    admin_api,
    console_server,
)
from tests.support.server import ServerProcess, SharedServers, make_client
from thinkgate.core.request import CanonicalRequest
from thinkgate.engine.prompt_templates import apply_prompt
from thinkgate.protocol.prompts import PromptParam
from thinkgate.store.prompts import PromptVersion

MODEL = "gpt-5.1"
V1 = {
    "name": "city guide",
    "instructions": "You are terse. Talk only about {{city}}.",
    "messages": [{"role": "user", "content": "Tell me one fact about {{ city }}."}],
}
V2 = {
    "instructions": "You are a guide for {{city}}. Greet {{name}} by name.",
    "messages": [{"role": "user", "content": "Hello from {{name}}."}],
}
ASK: dict[str, Any] = {"model": MODEL, "max_output_tokens": 16, "temperature": 0}


@pytest.fixture(scope="module")
def server(shared_servers: SharedServers) -> ServerProcess:
    """The console's server, shared with the other console modules (each makes its own
    users)."""
    return shared_servers.get("console", console_server)


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    with admin_api(server) as api:
        yield api


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> OpenAI:
    return make_client(server.base_url)


@pytest.fixture(scope="module")
def prompt_id(admin: httpx.Client) -> str:
    """A prompt with two versions, made through the admin API."""
    created = admin.post("/admin/v1/prompts", json=V1)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("pmpt_") and body["latest_version"] == "1"
    assert body["versions"][0]["variables"] == ["city"]
    second = admin.post(f"/admin/v1/prompts/{body['id']}/versions", json=V2)
    assert second.status_code == 201, second.text
    assert second.json()["version"] == "2"
    assert second.json()["variables"] == ["city", "name"]
    return str(body["id"])


def _texts(instructions: Any) -> list[str]:
    return [part.text for message in instructions for part in message.content]


def test_admin_api_lists_retrieves_and_deletes(admin: httpx.Client, prompt_id: str) -> None:
    listed = admin.get("/admin/v1/prompts").json()["data"]
    assert any(p["id"] == prompt_id and p["latest_version"] == "2" for p in listed)
    shown = admin.get(f"/admin/v1/prompts/{prompt_id}").json()
    assert [v["version"] for v in shown["versions"]] == ["1", "2"]
    assert shown["versions"][0]["messages"][0] == {
        "role": "developer",
        "content": V1["instructions"],
    }
    doomed = admin.post("/admin/v1/prompts", json={"name": "doomed", "instructions": "x"}).json()
    gone = admin.delete(f"/admin/v1/prompts/{doomed['id']}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert admin.get(f"/admin/v1/prompts/{doomed['id']}").status_code == 404
    assert admin.delete(f"/admin/v1/prompts/{doomed['id']}").status_code == 404
    assert admin.post("/admin/v1/prompts/pmpt_nope/versions", json=V2).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "empty"},
        {"name": "bad role", "messages": [{"role": "tool", "content": "x"}]},
        {"instructions": "no name"},
        {"name": "extra", "instructions": "x", "model": "gpt-5.1"},
    ],
)
def test_admin_api_refuses_bad_templates(admin: httpx.Client, body: dict[str, Any]) -> None:
    reply = admin.post("/admin/v1/prompts", json=body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["type"] == "invalid_request_error"


def test_latest_version_is_used_and_echoed(client: OpenAI, prompt_id: str) -> None:
    variables = {"city": "Lisbon", "name": "Ada"}
    response = client.responses.create(prompt={"id": prompt_id, "variables": variables}, **ASK)
    assert response.prompt is not None
    assert (response.prompt.id, response.prompt.version) == (prompt_id, "2")
    assert response.prompt.variables == variables
    assert isinstance(response.instructions, list)
    assert _texts(response.instructions) == [
        "You are a guide for Lisbon. Greet Ada by name.",
        "Hello from Ada.",
    ]
    assert [m.role for m in response.instructions] == ["developer", "user"]
    assert response.status in ("completed", "incomplete")


def test_version_picks_an_older_one(client: OpenAI, prompt_id: str) -> None:
    prompt = {"id": prompt_id, "version": "1", "variables": {"city": "Porto"}}
    response = client.responses.create(prompt=prompt, input="Go on.", **ASK)
    assert response.prompt is not None and response.prompt.version == "1"
    assert _texts(response.instructions) == [
        "You are terse. Talk only about Porto.",
        "Tell me one fact about Porto.",
    ]


def test_the_model_reads_the_substituted_text(client: OpenAI, prompt_id: str) -> None:
    """A longer value makes a longer prompt: the template text reaches the model."""
    prompt: dict[str, Any] = {"id": prompt_id, "version": "1", "variables": {"city": "Rome"}}
    short = client.responses.create(prompt=prompt, **ASK)
    prompt["variables"] = {"city": "Rome " + "and the old harbour district " * 8}
    long = client.responses.create(prompt=prompt, **ASK)
    assert short.usage is not None and long.usage is not None
    # The value appears twice in version 1 (instructions and message).
    assert long.usage.input_tokens - short.usage.input_tokens >= 60


def test_request_instructions_come_with_the_template(client: OpenAI, prompt_id: str) -> None:
    prompt = {"id": prompt_id, "version": "1", "variables": {"city": "Oslo"}}
    response = client.responses.create(prompt=prompt, instructions="Answer in English.", **ASK)
    assert _texts(response.instructions)[0] == "Answer in English."
    assert len(response.instructions) == 3


def test_streaming_stored_and_continued(client: OpenAI, prompt_id: str) -> None:
    prompt = {"id": prompt_id, "variables": {"city": "Bergen", "name": "Lin"}}
    with client.responses.create(prompt=prompt, input="Hi.", stream=True, **ASK) as stream:
        events = list(stream)
    assert events[0].type == "response.created"
    assert events[0].response.prompt is not None
    final = events[-1].response
    assert final.prompt is not None and final.prompt.version == "2"
    stored = client.responses.retrieve(final.id)
    assert stored.prompt == final.prompt and stored.instructions == final.instructions
    # The template is not this turn's input, and (like `instructions`) not carried over.
    first_inputs = client.responses.input_items.list(final.id).data
    assert len(first_inputs) == 1
    follow = client.responses.create(previous_response_id=final.id, input="More.", **ASK)
    assert follow.prompt is None and follow.instructions is None
    chain = client.responses.input_items.list(follow.id, order="asc").data
    assert "Bergen" not in str([item.model_dump() for item in chain])


def test_background_and_websocket_echo_the_prompt(client: OpenAI, prompt_id: str) -> None:
    prompt = {"id": prompt_id, "version": "1", "variables": {"city": "Graz"}}
    queued = client.responses.create(prompt=prompt, background=True, **ASK)
    assert queued.prompt is not None and queued.prompt.version == "1"
    assert _texts(queued.instructions)[0] == "You are terse. Talk only about Graz."
    with client.responses.connect() as connection:
        connection.send({"type": "response.create", "prompt": prompt, **ASK})
        for event in connection:
            if event.type in ("response.completed", "response.incomplete", "error"):
                break
    assert event.type != "error", event
    assert event.response.prompt is not None  # type: ignore[union-attr]
    assert _texts(event.response.instructions)[1] == "Tell me one fact about Graz."  # type: ignore[union-attr]


def test_unknown_prompt_and_version_are_404(client: OpenAI, prompt_id: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(prompt={"id": "pmpt_missing"}, **ASK)
    assert caught.value.body["param"] == "prompt.id"  # type: ignore[index]
    assert "pmpt_missing" in caught.value.message
    for version in ("7", "latest", "01"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.responses.create(
                prompt={"id": prompt_id, "version": version, "variables": {"city": "x"}}, **ASK
            )
        assert caught.value.body["param"] == "prompt.version"  # type: ignore[index]


def test_missing_and_unknown_variables_are_400(client: OpenAI, prompt_id: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(prompt={"id": prompt_id, "variables": {"city": "Riga"}}, **ASK)
    body: Any = caught.value.body
    assert body["code"] == "missing_required_parameter" and body["param"] == "prompt.variables"
    assert "'name'" in body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            prompt={"id": prompt_id, "version": "1", "variables": {"city": "Riga", "name": "x"}},
            **ASK,
        )
    body = caught.value.body
    assert body["code"] == "unknown_parameter" and body["param"] == "prompt.variables.name"


def test_malformed_prompt_is_400(server: ServerProcess, admin: httpx.Client) -> None:
    for prompt in ({"version": "1"}, {"id": "p", "variables": {"x": {"type": "input_video"}}}):
        reply = admin.post("/v1/responses", json={"model": MODEL, "prompt": prompt})
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["param"].startswith("prompt")


def test_an_image_variable_becomes_a_content_part(admin: httpx.Client, client: OpenAI) -> None:
    """The embedded model reads text only: it refuses the image part exactly as it would
    refuse one sent in `input`, which shows the variable arrived as a part."""
    created = admin.post(
        "/admin/v1/prompts",
        json={"name": "photo", "messages": [{"role": "user", "content": "Describe {{photo}}."}]},
    ).json()
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(prompt={"id": created["id"], "variables": {"photo": image}}, **ASK)
    assert "input_image" in caught.value.message
    text = client.responses.create(
        prompt={
            "id": created["id"],
            "variables": {"photo": {"type": "input_text", "text": "a cat"}},
        },
        **ASK,
    )
    assert _texts(text.instructions) == ["Describe a cat."]


class _OneTemplate:
    """A prompt source holding one version (the store's `PromptVersion`), passed in."""

    def __init__(self, messages: list[dict[str, str]]) -> None:
        self.template = PromptVersion("pmpt_t", "1", messages)

    async def version(self, prompt_id: str, version: str | None) -> PromptVersion | None:
        return self.template if prompt_id == "pmpt_t" else None

    async def exists(self, prompt_id: str) -> bool:
        return prompt_id == "pmpt_t"


def test_media_parts_stand_where_their_placeholder_stands() -> None:
    anyio.run(_media_parts)


async def _media_parts() -> None:
    source = _OneTemplate(
        [
            {"role": "user", "content": "{{doc}}"},
            {"role": "user", "content": "Compare {{photo}} with {{doc}}, {{who}}."},
        ]
    )
    doc = {"type": "input_file", "file_url": "https://example.com/a.pdf"}
    photo = {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}
    param = PromptParam.model_validate(
        {"id": "pmpt_t", "variables": {"doc": doc, "photo": photo, "who": "Ann"}}
    )
    request = CanonicalRequest(model=MODEL, input_items=[])
    await apply_prompt(request, param, source)
    alone, mixed = request.context.prompt_items
    assert alone["content"] == [doc]
    assert mixed["content"] == [
        {"type": "input_text", "text": "Compare "},
        photo,
        {"type": "input_text", "text": " with "},
        doc,
        {"type": "input_text", "text": ", Ann."},
    ]
    assistant = _OneTemplate([{"role": "assistant", "content": "See {{doc}}"}])
    param = PromptParam.model_validate({"id": "pmpt_t", "variables": {"doc": doc}})
    with pytest.raises(Exception, match="assistant message"):
        await apply_prompt(CanonicalRequest(model=MODEL, input_items=[]), param, assistant)


def test_members_use_prompts_but_cannot_make_them(
    server: ServerProcess, admin: httpx.Client, prompt_id: str
) -> None:
    user_id = add_user(server, "prompt-member", "member-password-1")
    _, secret = add_key(server, user_id, "member key")
    member = httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=60
    )
    with member:
        assert member.post("/admin/v1/prompts", json=V1).status_code == 403
        assert member.get("/admin/v1/prompts").status_code == 403
        add = member.post(f"/admin/v1/prompts/{prompt_id}/versions", json=V2)
        assert add.status_code == 403
    used = make_client(server.base_url, secret).responses.create(
        prompt={"id": prompt_id, "version": "1", "variables": {"city": "Turku"}}, **ASK
    )
    assert used.prompt is not None and used.prompt.id == prompt_id
    assert admin.get(f"/admin/v1/prompts/{prompt_id}").json()["latest_version"] == "2"


def test_console_creates_a_prompt_and_a_version(server: ServerProcess, client: OpenAI) -> None:
    console = Browserless(server, "admin", ADMIN_PASSWORD)
    try:
        made = console.post_form(
            "/console/admin/prompts",
            {"name": "console prompt", "instructions": "Speak of {{topic}}.", "user_message": ""},
            from_page="/console/admin/prompts",
        )
        assert made.status_code == 200, made.text
        assert "Created prompt pmpt_" in made.text
        new_id = made.text.split("Created prompt ", 1)[1].split(".", 1)[0]
        added = console.post_form(
            f"/console/admin/prompts/{new_id}/versions",
            {"instructions": "Speak briefly of {{topic}}.", "user_message": "Go: {{topic}}"},
            from_page="/console/admin/prompts",
        )
        assert added.status_code == 200 and f"Added version 2 of {new_id}" in added.text
        empty = console.post_form(
            "/console/admin/prompts", {"name": "x"}, from_page="/console/admin/prompts"
        )
        assert empty.status_code == 400 and "needs &#39;instructions&#39;" in empty.text
        no_token = console.http.post(
            "/console/admin/prompts", data={"name": "y", "instructions": "z"}
        )
        assert no_token.status_code == 403
        assert "console prompt" in console.page("/console/admin/prompts").text
    finally:
        console.close()
    response = client.responses.create(prompt={"id": new_id, "variables": {"topic": "tea"}}, **ASK)
    assert _texts(response.instructions) == ["Speak briefly of tea.", "Go: tea"]


def test_members_get_no_console_prompt_page(server: ServerProcess) -> None:
    add_user(server, "prompt-viewer", "viewer-password-1")
    viewer = Browserless(server, "prompt-viewer", "viewer-password-1")
    try:
        assert viewer.page("/console/admin/prompts").status_code == 403
    finally:
        viewer.close()
