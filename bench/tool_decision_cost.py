"""What the calibrated tool decision adds to a request, in milliseconds: for three
`tool_choice: "auto"` requests, the prompt evaluation, the decision without the argument
read (relevance only, the previous rule) and the decision as shipped (relevance and
grounding), each the best of `--repeat` on a fresh context: wall-clock ms and the
process's CPU ms (all llama.cpp threads), with the load average recorded (the machine is
shared: on a loaded one the CPU ms are what carries over).

    .venv/bin/python -m bench.tool_decision_cost [--threads 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import orjson

from bench.tool_decision_prompts import TOOLS
from thinkgate.backends.llama_prompt import PromptEvaluation
from thinkgate.backends.local import LocalBackend
from thinkgate.backends.tool_decision import argument_heads, measure, neutral_items
from thinkgate.backends.tool_decision_rule import DecisionRule
from thinkgate.config import DEFAULT_LOCAL_MODEL, LocalModelConfig
from thinkgate.engine.responses_request import canonical_from_responses
from thinkgate.protocol import parse_body
from thinkgate.protocol.responses import CreateResponseRequest

WEATHER = {  # the Open Responses scenario's tool
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a location",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "The city and state"}},
        "required": ["location"],
    },
}
REQUESTS = [
    ("weather scenario, 1 tool", "What's the weather like in San Francisco?", ("weather",)),
    ("Agents SDK add, 1 tool", "use the add tool to add 2 and 3", ("add",)),
    (
        "a calendar request, 3 tools",
        "Schedule a team standup for Friday at 9am.",
        ("create_event", "send_email", "get_weather"),
    ),
]


def timed(
    backend: LocalBackend, prompt: str, tools: tuple[str, ...], repeat: int
) -> dict[str, Any]:
    llama = backend._llama
    body = {
        "model": "gpt-5.1",
        "input": prompt,
        "tools": [WEATHER if name == "weather" else TOOLS[name] for name in tools],
    }
    request = canonical_from_responses(parse_body(orjson.dumps(body), CreateResponseRequest))
    tokens = backend._tokenize(request, request.all_items)
    neutral = backend._tokenize(request, neutral_items(request.all_items))
    names = [str(tool["name"]) for tool in request.tools]
    heads = argument_heads(tuple(request.tools))
    best = {"prompt": 1e9, "relevance_only": 1e9, "shipped": 1e9}
    cpu = dict(best)
    scores: Any = None
    for _ in range(repeat):
        for key, with_heads in (("relevance_only", None), ("shipped", heads)):
            prompt_evaluation = PromptEvaluation(tokens=tokens, chunk=64)
            started, used = time.perf_counter(), time.process_time()
            prompt_evaluation.evaluate(llama, lambda: False)
            best["prompt"] = min(best["prompt"], time.perf_counter() - started)
            cpu["prompt"] = min(cpu["prompt"], time.process_time() - used)
            started, used = time.perf_counter(), time.process_time()
            found = measure(llama, prompt_evaluation, neutral, names, with_heads)
            best[key] = min(best[key], time.perf_counter() - started)
            cpu[key] = min(cpu[key], time.process_time() - used)
            scores = found if with_heads else scores
    return {
        "prompt_tokens": len(tokens),
        **{f"{key}_ms": round(seconds * 1000) for key, seconds in best.items()},
        **{f"{key}_cpu_ms": round(seconds * 1000) for key, seconds in cpu.items()},
        "extra_ms_for_grounding": round((best["shipped"] - best["relevance_only"]) * 1000),
        "extra_cpu_ms_for_grounding": round((cpu["shipped"] - cpu["relevance_only"]) * 1000),
        "relevance": round(scores.relevance, 2),
        "grounding": round(scores.grounding, 2),
        "argument": scores.argument,
        "calls": DecisionRule().calls(scores),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    backend = LocalBackend(LocalModelConfig(name=DEFAULT_LOCAL_MODEL, threads=args.threads))
    await backend.load()
    results: dict[str, Any] = {"threads": args.threads, "load_before": os.getloadavg()}
    for label, prompt, tools in REQUESTS:
        results[label] = timed(backend, prompt, tools, args.repeat)
        print(label, results[label], flush=True)
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=1))
    await backend.aclose()


if __name__ == "__main__":
    asyncio.run(main())
