"""Hosted `code_interpreter` run by thinkgate's own tool loop in a bubblewrap sandbox, on loopback
only: the embedded model forced to run code, a scripted model (tests/support/code_standin.py)
that runs code through a chat-only and a Responses-native channel, and the Agents SDK's
`CodeInterpreterTool` unmodified. The openai SDK parses every item and event strictly; files the
code writes are container files, downloadable and cited; the sandbox refuses or cuts network
access, reads and writes outside the container, a fork bomb, memory exhaustion, an endless loop,
huge output and a full disk, while the server keeps serving; each container a response used is
billed once, a failed call not at all."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support.checks import check_stream_grammar
from tests.support.config import channel, write_config
from tests.support.gateway_support import admin_http
from tests.support.owners import other_user_client
from tests.support.server import ManagedProcess, ServerProcess, make_client
from tests.support.upstreams import serve_module

OUTPUTS = "code_interpreter_call.outputs"
KEY_ENV = "CODE_STANDIN_CHANNEL_KEY"
STREAM_EVENT: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)
AUTO = {"type": "code_interpreter", "container": {"type": "auto"}}
TIMEOUT_SECONDS = 4


def _bwrap_or_skip() -> None:
    """bubblewrap from Debian (`make test` installs it: scripts/test-sandbox.sh), and
    namespaces it may make here (the server checks the same at start-up)."""
    if shutil.which("bwrap") is None:
        subprocess.run(["bash", "scripts/test-sandbox.sh"], check=False)
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("bubblewrap (bwrap) cannot be installed here: no sandbox to test")
    user = [] if os.geteuid() == 0 else ["--unshare-user"]
    command = [bwrap, *user, "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/", "true"]
    tried = subprocess.run(command, capture_output=True, text=True, check=False)
    if tried.returncode != 0:
        pytest.skip(f"bubblewrap cannot make its namespaces here: {tried.stderr.strip()}")


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    _bwrap_or_skip()
    yield from serve_module(tmp_path_factory, "tests.support.code_standin")


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, standin: ManagedProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("code-front")
    sandbox = {"timeout_seconds": TIMEOUT_SECONDS, "cpu_seconds": TIMEOUT_SECONDS}
    sandbox |= {"max_processes": 16, "max_output_bytes": 16384, "max_file_bytes": 4194304}
    config = write_config(
        root / "thinkgate.toml",
        channel("code-chat", standin.base_url, {"coder-chat": "code-standin"}),
        channel(
            "code-responses",
            standin.base_url,
            {"coder-responses": "code-standin"},
            kind="openai-responses",
            api_key_env=KEY_ENV,
        ),
        code_interpreter={**sandbox, "max_container_bytes": 8388608},
    )
    process = ServerProcess(root / "data", config=config, extra_env={KEY_ENV: "sk-standin"})
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


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


def _calls(response: Response) -> list[Any]:
    return [item for item in response.output if item.type == "code_interpreter_call"]


def _run(client: OpenAI, code: str, model: str = "coder-chat", **extra: Any) -> Any:
    """One scripted call of `code`; the call item (with its outputs) and the response."""
    response = client.responses.create(
        model=model, input=f"run: {code}", tools=[AUTO], include=[OUTPUTS], **extra
    )
    (call,) = _calls(response)
    return call, response


def _logs(call: Any) -> str:
    return "".join(o.logs for o in call.outputs or [] if o.type == "logs")


# --- the embedded model -------------------------------------------------------------------


@pytest.mark.timeout(900)  # seconds when idle; minutes on a machine loaded by other work
def test_embedded_model_forced_to_run_code(client: OpenAI) -> None:
    events, final = _streamed(
        client.with_options(timeout=600),
        model="gpt-5.1",
        input="Use Python to compute 6 times 7.",
        tools=[AUTO],
        tool_choice={"type": "code_interpreter"},
        include=[OUTPUTS],
        max_tool_calls=1,
        max_output_tokens=80,
        temperature=0,
    )
    check_stream_grammar(events, validate=False)
    (call,) = _calls(final)
    assert call.code and call.container_id.startswith("cntr_")
    assert call.status in ("completed", "failed")  # the tiny model's code may not run
    assert call.outputs is not None and call.outputs[0].type == "logs"
    mine = [e for e in events if e.get("item_id") == call.id]
    assert [e["type"] for e in mine] == [
        "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call_code.delta",
        "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting",
        *(["response.code_interpreter_call.completed"] if call.status == "completed" else []),
    ]
    assert mine[1]["delta"] == call.code and mine[2]["code"] == call.code
    assert final.output[-1].type == "message"  # then the model answered


# --- scripted models on both channel kinds --------------------------------------------


@pytest.mark.parametrize("model", ["coder-chat", "coder-responses"])
def test_code_writes_a_file_that_is_listed_downloadable_and_cited(
    client: OpenAI, model: str
) -> None:
    code = "open('report.txt', 'w').write('forty-two')\n6 * 7"
    events, final = _streamed(
        client, model=model, input=f"run: {code}", tools=[AUTO], include=[OUTPUTS]
    )
    check_stream_grammar(events, validate=False)
    call, message = final.output
    assert call.type == "code_interpreter_call" and call.status == "completed"
    assert call.code == code and _logs(call) == "42\n"
    files = client.containers.files.list(call.container_id).data
    (written,) = [f for f in files if f.path == "/mnt/data/report.txt"]
    assert written.source == "assistant" and written.bytes == 9
    content = client.containers.files.content.retrieve(written.id, container_id=call.container_id)
    assert content.read() == b"forty-two"
    text = message.content[0].text
    assert text.startswith("Result: 42.")
    (citation,) = message.content[0].annotations
    assert citation.type == "container_file_citation"
    assert citation.file_id == written.id and citation.container_id == call.container_id
    assert citation.filename == "report.txt"
    assert text[citation.start_index : citation.end_index] == "report.txt"
    # stored and replayed as it was
    assert client.responses.retrieve(final.id).output == final.output
    with client.responses.retrieve(final.id, stream=True) as stream:
        replayed = [e.model_dump(mode="json", exclude_unset=True) for e in stream]
    for event in replayed:
        STREAM_EVENT.validate_python(event)


@pytest.mark.parametrize("model", ["coder-chat", "coder-responses"])
def test_a_stored_call_is_continued(client: OpenAI, standin: ManagedProcess, model: str) -> None:
    first = client.responses.create(
        model=model, input="run: print('seven' * 2)", tools=[AUTO], include=[OUTPUTS]
    )
    (call,) = _calls(first)
    before = len(httpx.get(f"{standin.base_url}/stats").json()["model"])
    follow = client.responses.create(
        model=model, previous_response_id=first.id, input="Thanks.", tools=[AUTO]
    )
    assert follow.status == "completed" and follow.output[-1].type == "message"
    (request,) = httpx.get(f"{standin.base_url}/stats").json()["model"][before:]
    assert "sevenseven" in str(request["body"])  # the earlier call's output came along
    again = client.responses.create(
        model=model, previous_response_id=follow.id, input="run: print(1)", tools=[AUTO]
    )
    assert _calls(again)[0].container_id == call.container_id  # the conversation's container


def test_outputs_only_with_include_and_images_inline(client: OpenAI) -> None:
    png = (
        "import base64\nopen('dot.png', 'wb').write(base64.b64decode("
        "'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='))"
    )
    call, _ = _run(client, png)
    (image,) = [o for o in call.outputs if o.type == "image"]
    assert image.url.startswith("data:image/png;base64,iVBOR")
    plain = client.responses.create(model="coder-chat", input="run: print(1)", tools=[AUTO])
    assert _calls(plain)[0].outputs is None  # not asked for


def test_a_named_container_keeps_its_files_across_responses(client: OpenAI) -> None:
    container = client.containers.create(name="workspace")
    client.containers.files.create(container.id, file=("data.csv", b"a,b\n1,2\n3,4\n"))
    tool = {"type": "code_interpreter", "container": container.id}
    code = "rows = open('data.csv').read().split()[1:]\nopen('sum.txt', 'w').write(str(len(rows)))"
    first = client.responses.create(model="coder-responses", input=f"run: {code}", tools=[tool])
    assert _calls(first)[0].container_id == container.id
    second = client.responses.create(
        model="coder-chat", input="run: print(open('sum.txt').read())", tools=[tool]
    )
    assert second.output[-1].content[0].text.startswith("Result: 2.")
    paths = {f.path for f in client.containers.files.list(container.id).data}
    assert paths == {"/mnt/data/data.csv", "/mnt/data/sum.txt"}


def test_an_auto_container_gets_the_files_named(client: OpenAI) -> None:
    stored = client.files.create(file=("numbers.txt", b"1 2 3 4"), purpose="user_data")
    tool = {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [stored.id]}}
    code = "print(sum(map(int, open('numbers.txt').read().split())))"
    final = client.responses.create(model="coder-chat", input=f"run: {code}", tools=[tool])
    assert final.output[-1].content[0].text.startswith("Result: 10.")
    with pytest.raises(openai.NotFoundError) as unknown:
        client.responses.create(
            model="coder-chat",
            input="run: 1",
            tools=[
                {"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file-x"]}}
            ],
        )
    assert unknown.value.body["param"] == "tools[0].container.file_ids[0]"  # type: ignore[index]


def test_two_calls_at_once_share_the_responses_container(client: OpenAI) -> None:
    final = client.responses.create(
        model="coder-chat", input="run twice: print('hi')", tools=[AUTO], include=[OUTPUTS]
    )
    calls = _calls(final)
    assert len(calls) == 2 and all(c.status == "completed" for c in calls)
    assert calls[0].container_id == calls[1].container_id


# --- the sandbox holds ------------------------------------------------------------------


ESCAPES = {
    "network": (
        "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)",
        "completed",
        "Network is unreachable",
    ),
    "read outside": ("print(open('/etc/shadow').read())", "completed", "Error"),
    "read the server's files": (
        "import os\nprint(os.listdir('/'))\nprint(open('/proc/1/environ').read())",
        "completed",
        "Error",
    ),
    "write outside": ("open('/usr/evil', 'w').write('x')", "completed", "Read-only file system"),
    "fork bomb": (
        "import os\nwhile True:\n    os.fork()",
        "completed",
        "at most 16 processes",
    ),
    "memory": ("x = bytearray(3 << 30)", "completed", "MiB of memory per process"),
    "namespaces": (  # where most container escapes start (seccomp)
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), os.strerror(ctypes.get_errno()))",
        "completed",
        "-1 Operation not permitted",
    ),
    "endless loop": ("while True:\n    pass", "failed", "time limit"),
    "huge output": ("while True:\n    print('x' * 1000)", "failed", "output limit"),
    "full disk": (
        "import os\nfor n in range(8):\n    open(f'big{n}', 'wb').write(os.urandom(3 << 20))",
        "failed",
        "quota",
    ),
}


@pytest.mark.parametrize("case", list(ESCAPES))
def test_the_sandbox_refuses_or_cuts(client: OpenAI, case: str) -> None:
    code, status, said = ESCAPES[case]
    call, response = _run(client, code)
    assert call.status == status, _logs(call)
    assert said in _logs(call), _logs(call)
    assert response.status == "completed"  # a failed call, not a failed response
    if case == "full disk":  # what broke the quota is gone
        paths = {f.path for f in client.containers.files.list(call.container_id).data}
        assert not any("big" in path for path in paths)


def test_the_sandbox_sees_only_its_container(client: OpenAI, front: ServerProcess) -> None:
    probe = "import os\nprint(sorted(os.listdir('/')), os.listdir('/mnt/data'), os.getuid())"
    call, _ = _run(client, probe)
    logs = _logs(call)
    assert "'work'" not in logs and "'root'" not in logs and "'home'" not in logs
    assert str(front.data_dir) not in logs
    assert ", 0\n" not in logs  # not root


def test_the_server_keeps_serving_while_code_loops(client: OpenAI) -> None:
    looping = threading.Event()
    finished: list[Any] = []  # the looping response, once it ends

    def loop() -> None:
        request = {"model": "coder-chat", "input": "run: while True: pass", "tools": [AUTO]}
        with client.responses.create(stream=True, **request) as stream:
            for event in stream:
                if event.type == "response.code_interpreter_call.interpreting":
                    looping.set()
                if event.type == "response.completed":
                    finished.append(event.response)

    worker = threading.Thread(target=loop)
    worker.start()
    assert looping.wait(120)
    assert client.models.list().data
    assert client.containers.list().data is not None
    quick = client.responses.create(model="coder-chat", input="run: print(5)", tools=[AUTO])
    assert quick.output[-1].content[0].text.startswith("Result: 5.")
    assert not finished  # all that was served while the other sandbox still looped
    worker.join(120)
    assert finished and _calls(finished[0])[0].status == "failed"


# --- bad input --------------------------------------------------------------------------


def test_unknown_or_anothers_container_is_refused(client: OpenAI, front: ServerProcess) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        client.responses.create(
            model="coder-chat",
            input="run: 1",
            tools=[{"type": "code_interpreter", "container": "cntr_nope"}],
        )
    assert unknown.value.body["param"] == "tools[0].container"  # type: ignore[index]
    theirs = client.containers.create(name="not yours")
    with admin_http(front.base_url) as http:
        stranger = other_user_client(front.base_url, http)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.create(
            model="coder-chat",
            input="run: print(open('secret').read())",
            tools=[{"type": "code_interpreter", "container": theirs.id}],
        )
    with pytest.raises(openai.BadRequestError):
        client.responses.create(
            model="coder-chat",
            input="run: 1",
            tools=[{"type": "code_interpreter"}],  # type: ignore[typeddict-item]
        )


def test_chat_completions_refuse_the_code_interpreter(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="gpt-5.1",
            messages=[{"role": "user", "content": "hi"}],
            tools=[AUTO],  # type: ignore[list-item]
        )
    assert refused.value.body["param"] == "tools[0].type"  # type: ignore[index]


# --- money ------------------------------------------------------------------------------


def test_each_container_a_response_used_is_billed_once(front: ServerProcess) -> None:
    with admin_http(front.base_url) as admin:
        user = admin.post("/admin/v1/users", json={"name": "coder", "role": "member"}).json()
        key = admin.post("/admin/v1/keys", json={"name": "c", "user_id": user["id"]}).json()
        sdk = make_client(front.base_url, key["key"])
        twice = sdk.responses.create(model="coder-chat", input="run twice: print(1)", tools=[AUTO])
        failed = sdk.responses.create(
            model="coder-chat", input="run: while True: pass", tools=[AUTO]
        )
        assert len(_calls(twice)) == 2 and _calls(failed)[0].status == "failed"
        rows = _ledger(admin, key["id"], 2)
        by_id = {row["request_id"]: row for row in rows}
        assert by_id[twice.id]["tool_calls"] == 1  # two calls, one container
        assert Decimal(by_id[twice.id]["tool_cost_usd"]) == Decimal("0.03")
        assert by_id[failed.id]["tool_calls"] == 0  # a failed call is free
        usage = sdk.get("/usage", cast_to=httpx.Response).json()
        (day,) = usage["data"]
        assert day["tool_calls"] == 1 and Decimal(day["tool_cost_usd"]) == Decimal("0.03")


def _ledger(admin: httpx.Client, key_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        rows: list[dict[str, Any]] = admin.get(
            "/admin/v1/requests", params={"key_id": key_id}
        ).json()["data"]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


# --- the Agents SDK ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def agents_code(front: ServerProcess) -> dict[str, dict[str, Any]]:
    from tests.clients.test_clients import run_client

    return run_client(front, "run_agents_code_interpreter.py")


@pytest.mark.parametrize("case", ["runs_code", "streamed"])
def test_agents_sdk_code_interpreter_tool(agents_code: dict[str, Any], case: str) -> None:
    result = agents_code[case]
    assert result["ok"], result.get("traceback") or result
