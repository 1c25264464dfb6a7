"""Ready-to-copy examples for the API docs page (curl, Python SDK, JavaScript SDK), filled
in with this server's base URL. The key is read from `THINKGATE_API_KEY`, never pasted in.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from thinkgate.console.i18n import N_

KEY_ENV = "THINKGATE_API_KEY"


@dataclass(slots=True, frozen=True)
class Example:
    id: str
    title: str
    method: str
    path: str
    description: str
    curl: str
    python: str
    javascript: str


def _curl(base: str, method: str, path: str, body: dict[str, Any] | None) -> str:
    lines = [f"curl {shlex.quote(base + path)}"]
    if method != "GET":
        lines.append(f"-X {method}")
    lines.append(f'-H "Authorization: Bearer ${KEY_ENV}"')
    if body is not None:
        lines.append('-H "Content-Type: application/json"')
        lines.append("-d " + shlex.quote(json.dumps(body)))
    return " \\\n  ".join(lines)


def _python(base: str, call: str) -> str:
    return (
        "import os\nfrom openai import OpenAI\n\n"
        f'client = OpenAI(base_url={json.dumps(base)}, api_key=os.environ["{KEY_ENV}"])\n\n' + call
    )


def _javascript(base: str, call: str) -> str:
    return (
        'import OpenAI from "openai";\n\n'
        f"const client = new OpenAI({{ baseURL: {json.dumps(base)}, "
        f"apiKey: process.env.{KEY_ENV} }});\n\n" + call
    )


def examples(base: str, model: str) -> list[Example]:
    """`base` ends in `/v1`."""
    m = json.dumps(model)
    respond = {
        "model": model,
        "input": "Write one sentence about the sea.",
        "max_output_tokens": 64,
    }
    stream = {**respond, "stream": True}
    chat = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_completion_tokens": 64,
    }
    return [
        Example(
            "responses",
            N_("Create a response"),
            "POST",
            "/responses",
            N_(
                "Generate a reply: the SDK gives the text as output_text, "
                "the JSON has it in output."
            ),
            _curl(base, "POST", "/responses", respond),
            _python(
                base,
                "response = client.responses.create(\n"
                f'    model={m}, input="Write one sentence about the sea.", max_output_tokens=64\n'
                ")\nprint(response.output_text)\nprint(response.usage)\n",
            ),
            _javascript(
                base,
                "const response = await client.responses.create({\n"
                f'  model: {m}, input: "Write one sentence about the sea.",\n'
                "  max_output_tokens: 64,\n"
                "});\nconsole.log(response.output_text);\n",
            ),
        ),
        Example(
            "responses-stream",
            N_("Stream a response"),
            "POST",
            "/responses",
            N_("Server-sent events as the answer is written (response.output_text.delta)."),
            _curl(base, "POST", "/responses", stream).replace("curl ", "curl -N ", 1),
            _python(
                base,
                f'with client.responses.stream(model={m}, input="Say hello.") as stream:\n'
                "    for event in stream:\n"
                '        if event.type == "response.output_text.delta":\n'
                '            print(event.delta, end="", flush=True)\n',
            ),
            _javascript(
                base,
                "const stream = await client.responses.create({\n"
                f'  model: {m}, input: "Say hello.", stream: true,\n'
                "});\nfor await (const event of stream) {\n"
                '  if (event.type === "response.output_text.delta") {\n'
                "    process.stdout.write(event.delta);\n  }\n"
                "}\n",
            ),
        ),
        Example(
            "chat",
            N_("Chat Completions"),
            "POST",
            "/chat/completions",
            N_("The older chat format, served by the same pipeline."),
            _curl(base, "POST", "/chat/completions", chat),
            _python(
                base,
                "completion = client.chat.completions.create(\n"
                f'    model={m}, messages=[{{"role": "user", "content": "Say hello."}}]\n'
                ")\nprint(completion.choices[0].message.content)\n",
            ),
            _javascript(
                base,
                "const completion = await client.chat.completions.create({\n"
                f'  model: {m}, messages: [{{ role: "user", content: "Say hello." }}],\n'
                "});\nconsole.log(completion.choices[0].message.content);\n",
            ),
        ),
        Example(
            "models",
            N_("List models"),
            "GET",
            "/models",
            N_("Every model this server serves, with its reasoning efforts."),
            _curl(base, "GET", "/models", None),
            _python(base, "for model in client.models.list():\n    print(model.id)\n"),
            _javascript(
                base, "for await (const model of client.models.list()) console.log(model.id);\n"
            ),
        ),
        Example(
            "usage",
            N_("Your usage"),
            "GET",
            "/usage",
            N_("Requests, tokens and cost (USD) of your keys, by day, model or key."),
            _curl(base, "GET", "/usage?group_by=model", None),
            _python(
                base,
                'usage = client.get("/usage", cast_to=object, options={"params": '
                '{"group_by": "model"}})\nprint(usage)\n',
            ),
            _javascript(
                base,
                'const usage = await client.get("/usage?group_by=model");\nconsole.log(usage);\n',
            ),
        ),
    ]
