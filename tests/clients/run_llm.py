"""Simon Willison's `llm` against thinkgate: its CLI and its Python API.

Configured as llm's docs say for an OpenAI-compatible server: models in
`extra-openai-models.yaml` under `LLM_USER_PATH`, with `api_base`, `api_key_name` (the key
itself set with `llm keys set thinkgate`) and, for the Responses API, `responses: true`
(built into llm itself: no plugin needed). Both models are driven.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import API_KEY, BASE_URL, CITY_SCHEMA, MAX_TOKENS, MODEL, check, run_cases

USER_DIR = Path(tempfile.mkdtemp(prefix="llm-user-"))
atexit.register(shutil.rmtree, USER_DIR, ignore_errors=True)
os.environ["LLM_USER_PATH"] = str(USER_DIR)
(USER_DIR / "extra-openai-models.yaml").write_text(
    f"""\
- model_id: thinkgate
  model_name: {MODEL}
  api_base: {BASE_URL}
  api_key_name: thinkgate
  supports_schema: true
  supports_tools: true
- model_id: thinkgate-responses
  model_name: {MODEL}
  api_base: {BASE_URL}
  api_key_name: thinkgate
  responses: true
  supports_schema: true
  supports_tools: true
"""
)
LLM = str(Path(sys.executable).parent / "llm")
subprocess.run([LLM, "keys", "set", "thinkgate", "--value", API_KEY], check=True)

import llm  # noqa: E402 - after LLM_USER_PATH is set

MODELS = {"chat": "thinkgate", "responses": "thinkgate-responses"}
OPTIONS = ["-o", "max_tokens", str(MAX_TOKENS), "-o", "temperature", "0"]


def cli(*args: str) -> str:
    done = subprocess.run([LLM, *args], capture_output=True, text=True, timeout=300)
    check(done.returncode == 0, f"llm {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def cli_prompt(model_id: str) -> dict[str, Any]:
    text = cli("-m", model_id, *OPTIONS, "Reply with just the word yes.")
    check(text.strip(), "no text")
    logged = json.loads(cli("logs", "-n", "1", "--json"))[0]
    check(logged["model"] == model_id and logged["response"].strip() == text.strip(), "log")
    return {"text": text}


def cli_schema(model_id: str) -> dict[str, Any]:
    prompt = "Name a large city and its rank by size."
    # --schema takes llm's DSL or a JSON schema: the JSON one, for its maxLength
    text = cli("-m", model_id, *OPTIONS, "--schema", json.dumps(CITY_SCHEMA), prompt)
    output = json.loads(text)
    check(set(output) == {"city", "rank"}, f"keys {sorted(output)}")
    check(isinstance(output["city"], str) and isinstance(output["rank"], int), f"{output}")
    return {"output": output}


def api_conversation(model_id: str) -> dict[str, Any]:
    model = llm.get_model(model_id)
    conversation = model.conversation()
    options = {"max_tokens": MAX_TOKENS, "temperature": 0}
    first = conversation.prompt("My name is Ada. Say hello.", **options)
    chunks = list(first)  # streamed, as llm streams by default
    check(len(chunks) > 1 and "".join(chunks) == first.text(), "streamed text differs")
    second = conversation.prompt("Reply with just the word yes.", **options)
    check(second.text().strip(), "no second reply")
    return {"first": first.text(), "second": second.text(), "chunks": len(chunks)}


def api_schema(model_id: str) -> dict[str, Any]:
    model = llm.get_model(model_id)
    schema = CITY_SCHEMA
    reply = model.prompt("Name a large city.", schema=schema, max_tokens=MAX_TOKENS, temperature=0)
    output = json.loads(reply.text())
    check(isinstance(output.get("city"), str) and isinstance(output.get("rank"), int), f"{output}")
    return {"output": output}


PATHS = {
    "cli": cli_prompt,
    "cli_schema": cli_schema,
    "conversation": api_conversation,
    "schema": api_schema,
}

if __name__ == "__main__":
    run_cases(
        {
            f"{path}_{api}": (lambda p=path_fn, m=model_id: p(m))
            for path, path_fn in PATHS.items()
            for api, model_id in MODELS.items()
        }
    )
