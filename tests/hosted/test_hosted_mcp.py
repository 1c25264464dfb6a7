"""Remote MCP (`type: "mcp"`) run by thinkgate's hosted tool loop, on loopback only: a
stand-in MCP server built with the `mcp` SDK (tests/support/mcp_standin.py: `add`, `echo`, a slow
and a failing tool, a bearer token required), the embedded model forced to call a tool, a
scripted model on a chat-only and a Responses-native channel, the approval flow end to end
with the openai SDK, the allow-list and SSRF guard, credentials never stored or logged."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support.config import channel, write_config
from tests.support.gateway_support import admin_http
from tests.support.server import ADMIN_KEY, ManagedProcess, ServerProcess, free_port, make_client
from tests.support.upstreams import serve_module

STREAM_EVENT: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)
TOKEN = "mcp-secret-token"  # tests/support/mcp_standin.py's
OPS_ENV = "OPS_MCP_AUTH"
CLIENTS = Path(__file__).resolve().parents[2] / ".clients" / "py"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    yield from serve_module(tmp_path_factory, "tests.support.mcp_standin", "--auth")


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, standin: ManagedProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("mcp-front")
    mcp = {
        "allowed_urls": [
            "http://127.0.0.1:*/mcp/",
            "http://127.0.0.1:*/sse",
            "http://169.254.169.254/*",  # allowed here, refused by the SSRF guard
        ],
        "list_timeout": 20,
        "call_timeout": 3,
        "servers": [
            {
                "label": "ops",
                "url": f"{standin.base_url}/mcp/",
                "headers_env": {"Authorization": OPS_ENV},
                "require_approval": "never",
                "access": {"usr_admin": ["echo"]},  # the admin's keys: `echo` only
            }
        ],
    }
    config = write_config(
        root / "thinkgate.toml",
        channel("mcp-chat", standin.base_url, {"mcp-chat": "mcp-standin"}),
        channel(
            "mcp-responses",
            standin.base_url,
            {"mcp-responses": "mcp-standin"},
            kind="openai-responses",
        ),
        mcp=mcp,
        security={"allowed_networks": ["127.0.0.0/8"]},  # the stand-in is on loopback
    )
    env = {OPS_ENV: f"Bearer {TOKEN}"}
    process = ServerProcess(root / "data", config=config, extra_env=env)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


def _calc(standin: ManagedProcess, **fields: Any) -> dict[str, Any]:
    tool = {
        "type": "mcp",
        "server_label": "calc",
        "server_url": f"{standin.base_url}/mcp/",
        "authorization": TOKEN,
        "require_approval": "never",
    }
    return {**tool, **fields}


def _streamed(client: OpenAI, **request: Any) -> tuple[list[dict[str, Any]], Response]:
    events, final = [], None
    with client.responses.create(stream=True, **request) as stream:
        for event in stream:
            raw = event.model_dump(mode="json", exclude_unset=True)
            STREAM_EVENT.validate_python(raw)  # the SDK builds stream events unvalidated
            events.append(raw)
            if event.type in ("response.completed", "response.incomplete"):
                final = Response.model_validate(raw["response"])
    assert final is not None
    return events, final


def _items(response: Any, kind: str) -> list[Any]:
    return [item for item in response.output if item.type == kind]


def _about(event: dict[str, Any]) -> str | None:
    """The id of the item an event is about."""
    return event.get("item_id") or (event.get("item") or {}).get("id")


def _stats(standin: ManagedProcess) -> dict[str, Any]:
    return dict(httpx.get(f"{standin.base_url}/stats").json())


def _raw(front: ServerProcess, response_id: str) -> str:
    reply = admin_http(front.base_url).get(f"/v1/responses/{response_id}")
    assert reply.status_code == 200, reply.text
    return reply.text


# --- the embedded model -------------------------------------------------------------------


@pytest.mark.timeout(900)
def test_embedded_model_forced_to_call_an_mcp_tool(
    client: OpenAI, front: ServerProcess, standin: ManagedProcess
) -> None:
    events, final = _streamed(
        client.with_options(timeout=600),
        model="gpt-5.1",
        input="Add 2 and 3.",
        tools=[_calc(standin, allowed_tools=["add"])],
        tool_choice={"type": "mcp", "server_label": "calc", "name": "add"},
        max_tool_calls=1,
        max_output_tokens=60,
        temperature=0,
    )
    (listed,) = _items(final, "mcp_list_tools")
    assert listed.server_label == "calc" and listed.error is None
    assert [tool.name for tool in listed.tools] == ["add"]  # as `allowed_tools` says
    (call,) = _items(final, "mcp_call")
    assert call.name == "add" and call.server_label == "calc"
    assert call.status == "completed", call.error
    arguments = json.loads(call.arguments)
    assert call.output == f"The sum is {arguments['a'] + arguments['b']}."
    assert final.output[-1].type == "message"  # then the model answered
    kinds = [e["type"] for e in events if _about(e) == call.id]
    assert kinds == [
        "response.output_item.added",
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    kinds = [e["type"] for e in events if _about(e) == listed.id]
    assert kinds == [
        "response.output_item.added",
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.output_item.done",
    ]
    # the credential was used for the call, and is neither echoed, stored nor logged
    assert f"Bearer {TOKEN}" in _stats(standin)["auth"]
    (declared,) = final.tools
    assert declared.type == "mcp" and declared.authorization is None
    assert TOKEN not in _raw(front, final.id)
    assert TOKEN not in front.log_path.read_text(errors="replace")


# --- scripted models on both channel kinds --------------------------------------------


@pytest.mark.parametrize("model", ["mcp-chat", "mcp-responses"])
def test_upstream_model_calls_the_tool_and_the_list_is_cached_along_the_chain(
    client: OpenAI, standin: ManagedProcess, model: str
) -> None:
    tool = _calc(standin, headers={"Authorization": f"Bearer {TOKEN}"})
    tool.pop("authorization")
    _, first = _streamed(client, model=model, input="Add.", tools=[tool])
    listed, call, message = first.output
    assert listed.type == "mcp_list_tools" and call.type == "mcp_call"
    assert call.status == "completed" and call.output == "The sum is 5."
    assert message.content[0].text == "Result: The sum is 5."
    before = len(_stats(standin)["model"])
    follow = client.responses.create(
        model=model, previous_response_id=first.id, input="Again.", tools=[tool]
    )
    assert not _items(follow, "mcp_list_tools")  # the chain already holds the list
    (call,) = _items(follow, "mcp_call")
    assert call.status == "completed"
    sent = json.dumps(_stats(standin)["model"][before])
    assert "mcp__calc__add" in sent and "The sum is 5." in sent  # the earlier call, replayed
    assert TOKEN not in json.dumps(client.responses.retrieve(first.id).model_dump())


def test_approval_flow_end_to_end(client: OpenAI, standin: ManagedProcess) -> None:
    tool = _calc(standin, require_approval={"never": {"tool_names": ["echo"]}})
    events, first = _streamed(client, model="mcp-chat", input="Add.", tools=[tool])
    assert first.status == "completed"
    (request,) = _items(first, "mcp_approval_request")
    assert [e["type"] for e in events if _about(e) == request.id] == [
        "response.output_item.added",
        "response.output_item.done",
    ]
    assert request.name == "add" and json.loads(request.arguments) == {"a": 2, "b": 3}
    assert not _items(first, "mcp_call") and first.output[-1].type == "mcp_approval_request"
    calls = len(_stats(standin)["calls"])
    answer = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    second = client.responses.create(
        model="mcp-chat", previous_response_id=first.id, input=[answer], tools=[tool]
    )
    call, message = second.output
    assert call.type == "mcp_call" and call.approval_request_id == request.id
    assert call.status == "completed" and message.content[0].text == "Result: The sum is 5."
    assert len(_stats(standin)["calls"]) == calls + 1
    # the same approval again (a replay) is refused, and runs nothing
    with pytest.raises(openai.BadRequestError) as replay:
        client.responses.create(
            model="mcp-chat", previous_response_id=first.id, input=[answer], tools=[tool]
        )
    assert replay.value.body["code"] == "invalid_mcp_approval"
    # an approval request changed on its way back (stateless replay) is refused
    altered = {**request.model_dump(), "arguments": json.dumps({"a": 200, "b": 3})}
    with pytest.raises(openai.BadRequestError) as changed:
        client.responses.create(
            model="mcp-chat", input=[altered, {**answer}], tools=[tool], store=False
        )
    assert "does not match" in changed.value.body["message"]
    # an approval for a request that does not exist
    unknown = {**answer, "approval_request_id": "mcpr_doesnotexist"}
    with pytest.raises(openai.BadRequestError) as missing:
        client.responses.create(model="mcp-chat", input=[unknown], tools=[tool])
    assert missing.value.body["param"] == "input"
    assert len(_stats(standin)["calls"]) == calls + 1
    # a declined call is not run; the model goes on
    third = client.responses.create(model="mcp-chat", input="Add.", tools=[tool])
    (request,) = _items(third, "mcp_approval_request")
    no = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": False}
    fourth = client.responses.create(
        model="mcp-chat", previous_response_id=third.id, input=[no], tools=[tool]
    )
    assert not _items(fourth, "mcp_call") and fourth.output[-1].type == "message"
    assert len(_stats(standin)["calls"]) == calls + 1


# --- failures: a failed item, or a 400; never a 500, never a hang ---------------------------


@pytest.mark.parametrize(
    ("name", "code"), [("broken", None), ("slow", -32001)], ids=["failing", "slow"]
)
def test_failing_and_slow_tools_fail_the_call_not_the_response(
    client: OpenAI, standin: ManagedProcess, name: str, code: int | None
) -> None:
    tool = _calc(standin, allowed_tools={"tool_names": [name]})
    events, final = _streamed(client, model="mcp-responses", input="Go.", tools=[tool])
    assert final.status == "completed" and final.output[-1].type == "message"
    (call,) = _items(final, "mcp_call")
    assert call.status == "failed" and call.output is None
    if code is None:
        assert call.error.type == "mcp_tool_execution_error"
    else:
        assert call.error.type == "mcp_protocol_error" and call.error.code == code
    kinds = [e["type"] for e in events if e.get("item_id") == call.id]
    assert "response.mcp_call.failed" in kinds and "response.mcp_call.completed" not in kinds


def test_unreachable_server_fails_the_list(client: OpenAI) -> None:
    port = free_port()  # nothing listens there
    tool = {"type": "mcp", "server_label": "gone", "server_url": f"http://127.0.0.1:{port}/mcp/"}
    final = client.responses.create(model="mcp-chat", input="Hi.", tools=[tool])
    listed, message = final.output
    assert listed.type == "mcp_list_tools" and listed.error and listed.tools == []
    assert message.type == "message"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://mcp.example.com/mcp", "not allowed"),
        ("http://169.254.169.254/latest", "non-public"),
    ],
    ids=["outside-allow-list", "private-address"],
)
def test_server_urls_outside_the_allow_list_or_private_are_refused(
    client: OpenAI, url: str, words: str
) -> None:
    tool = {"type": "mcp", "server_label": "x", "server_url": url}
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="mcp-chat", input="Hi.", tools=[tool])
    assert words in refused.value.body["message"]
    assert refused.value.body["code"] == "invalid_url"


def test_operator_server_by_label_with_per_user_permissions(
    client: OpenAI, front: ServerProcess
) -> None:
    tool = {"type": "mcp", "server_label": "ops"}  # no URL: the operator's server
    final = client.responses.create(model="mcp-chat", input="Hi.", tools=[tool])
    (listed,) = _items(final, "mcp_list_tools")
    assert [t.name for t in listed.tools] == ["echo"]  # the admin may call `echo` only
    (call,) = _items(final, "mcp_call")  # the operator's credential, from its environment
    assert call.name == "echo" and call.output == "echo: hi" and call.status == "completed"
    gateway = admin_http(front.base_url)
    user = gateway.post("/admin/v1/users", json={"name": "mcp-member"}).json()["id"]
    reply = gateway.post("/admin/v1/keys", json={"name": "m", "user_id": user})
    member = make_client(front.base_url, reply.json()["key"])
    with pytest.raises(openai.PermissionDeniedError):
        member.responses.create(model="mcp-chat", input="Hi.", tools=[tool])
    with pytest.raises(openai.BadRequestError) as unknown:
        client.responses.create(
            model="mcp-chat", input="Hi.", tools=[{"type": "mcp", "server_label": "nope"}]
        )
    assert unknown.value.body["param"] == "tools.server_url"


def test_sse_transport(client: OpenAI, standin: ManagedProcess) -> None:
    tool = _calc(standin, server_url=f"{standin.base_url}/sse")
    final = client.responses.create(model="mcp-responses", input="Add.", tools=[tool])
    (call,) = _items(final, "mcp_call")
    assert call.status == "completed" and call.output == "The sum is 5."


def test_chat_completions_and_background_refuse_mcp(
    client: OpenAI, standin: ManagedProcess
) -> None:
    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(
            model="gpt-5.1",
            messages=[{"role": "user", "content": "Hi."}],
            tools=[_calc(standin)],  # type: ignore[list-item]
        )
    assert chat.value.body["param"] == "tools[0].type"
    with pytest.raises(openai.BadRequestError) as background:
        client.responses.create(
            model="mcp-chat", input="Hi.", tools=[_calc(standin)], background=True
        )
    assert background.value.body["param"] == "background"


# --- the Agents SDK's HostedMCPTool, unmodified ----------------------------------------


@pytest.fixture(scope="module")
def agents_mcp(front: ServerProcess, standin: ManagedProcess) -> dict[str, Any]:
    python = CLIENTS / "bin" / "python"
    if not python.exists() or not list(CLIENTS.glob(".installed-*")):
        pytest.skip("the Python clients are not installed: run scripts/install-clients.sh")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THINKGATE_", "OPENAI_"))}
    env |= {"THINKGATE_BASE_URL": f"{front.base_url}/v1", "THINKGATE_API_KEY": ADMIN_KEY}
    env |= {"THINKGATE_MODEL": "mcp-responses", "MCP_TOKEN": TOKEN}
    env |= {"MCP_URL": f"{standin.base_url}/mcp/"}
    script = Path(__file__).resolve().parents[1] / "clients" / "run_agents_mcp.py"
    done = subprocess.run(
        [str(python), str(script)],
        env=env,
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        pytest.fail(f"run_agents_mcp.py exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return dict(json.loads(lines[-1]))


@pytest.mark.parametrize("case", ["never", "approval"])
def test_agents_sdk_hosted_mcp_tool(agents_mcp: dict[str, Any], case: str) -> None:
    result = agents_mcp[case]
    assert result["ok"], f"{case}: {result['error']}\n{result['traceback']}"
    assert "mcp_call" in result["items"] and "The sum is 5." in result["answer"]


@pytest.mark.parametrize("model", ["mcp-chat", "mcp-responses", "gpt-5.1"])
def test_a_turn_without_the_tool_replays_the_calls_and_refuses_approvals(
    client: OpenAI, standin: ManagedProcess, model: str
) -> None:
    first = client.responses.create(model="mcp-chat", input="Add.", tools=[_calc(standin)])
    assert _items(first, "mcp_call")
    follow = client.responses.create(
        model=model, previous_response_id=first.id, input="Thanks.", max_output_tokens=16
    )
    assert follow.status in ("completed", "incomplete")
    answer = {"type": "mcp_approval_response", "approval_request_id": "mcpr_x", "approve": True}
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=model, previous_response_id=first.id, input=[answer])
    assert refused.value.body["code"] == "invalid_mcp_approval"
