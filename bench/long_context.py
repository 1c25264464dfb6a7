"""The embedded model past its trained context: what RoPE scaling does to SmolLM2 at 10K.

SmolLM2-135M-Instruct was trained to 8,192 positions (GGUF `llama.context_length`, RoPE
base 100,000). Codex's first request is about 8,700 of its tokens, so the embedded
default needs a longer window; llama.cpp can stretch RoPE. This measures, on the same
text, the mean negative log-likelihood (nats/token, lower is better) of the last
`--tail` tokens of a ~10,500-token document read with:

  trained window  only the last 7,600 tokens (inside 8K: the quality to hope for);
  none            all of it, RoPE unscaled (positions past 8K extrapolated);
  linear x2       all of it, RoPE positions halved (rope_freq_scale 0.5);
  yarn x2         all of it, YaRN with factor 2 over the 8,192 trained positions.

Plus, per setting, the prompt evaluation time of the whole document (in thinkgate's
64-token aligned chunks, 2 threads), the time per token of the tail read one token at a
time (decoding at ~10K positions), both as wall and as CPU seconds (on a shared machine
the CPU seconds / 2 threads approximate an idle 2-core machine; the load is recorded),
and 40 greedily generated tokens after a question about the document, to read by eye.
thinkgate serves a prompt past 8K with "yarn x2" (docs/long-context.md).
The document: this repository's own docs (README, DESIGN, docs/*.md). Results:
`bench/results/long_context.json`.

    .venv/bin/python -m bench.long_context [--tokens 10500] [--tail 512] [--threads 2]
        [--settings "none,linear x2,yarn x2"]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from thinkgate.backends.model_files import default_gguf_path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "long_context.json"
THREADS = 2
CHUNK = 64  # thinkgate's prompt-cache chunk: prompts are evaluated in aligned 64-token steps
TRAINED = 8192
SETTINGS: dict[str, dict[str, Any]] = {
    "none": {"rope_scaling_type": 0},
    "linear x2": {"rope_scaling_type": 1, "rope_freq_scale": 0.5},
    "yarn x2": {"rope_scaling_type": 2, "rope_freq_scale": 0.5, "yarn_orig_ctx": TRAINED},
}
QUESTION = "\n\nQuestion: in one sentence, what is thinkgate?\nAnswer:"


def document() -> str:
    paths = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return "\n\n".join(path.read_text() for path in paths if path.is_file())


def _open(n_ctx: int, threads: int = THREADS, **rope: Any) -> Any:
    from llama_cpp import Llama

    return Llama(
        model_path=str(default_gguf_path()),
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        n_batch=512,
        verbose=False,
        **rope,
    )


def tail_nll(llama: Any, tokens: list[int], tail: int) -> tuple[float, dict[str, float]]:
    """Mean NLL of the last `tail` tokens, and the seconds (wall, CPU) the prefix took to
    evaluate and the tail took per token."""
    prefix, rest = tokens[:-tail], tokens[-tail:]
    llama.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(prefix), CHUNK):  # as thinkgate evaluates a prompt
        llama.eval(prefix[start : start + CHUNK])
    times = {"prompt_eval_s": time.perf_counter() - wall, "prompt_eval_cpu_s": 0.0}
    times["prompt_eval_cpu_s"] = time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    total = 0.0
    for token in rest:
        pointer = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).astype(np.float64)
        peak = float(logits.max())
        total += peak + math.log(float(np.exp(logits - peak).sum())) - float(logits[token])
        llama.eval([token])
    times["decode_ms_per_token"] = 1000 * (time.perf_counter() - wall) / tail
    times["decode_cpu_ms_per_token"] = 1000 * (time.process_time() - cpu) / tail
    return total / tail, times


def continuation(llama: Any, tokens: list[int]) -> str:
    """(The context still holds the document from `tail_nll`: only the question is read.)"""
    out: list[int] = []
    for token in llama.generate(tokens, temp=0.0, top_k=1, reset=True):
        if token == llama.token_eos() or len(out) >= 40:
            break
        out.append(token)
    return str(llama.detokenize(out).decode("utf-8", errors="replace"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=10500)
    parser.add_argument("--tail", type=int, default=512)
    parser.add_argument("--threads", type=int, default=THREADS, help="llama.cpp threads")
    parser.add_argument(
        "--settings", default=",".join(SETTINGS), help="comma-separated: " + ", ".join(SETTINGS)
    )
    args = parser.parse_args()
    probe = _open(512)
    tokens = probe.tokenize(document().encode(), add_bos=False)[: args.tokens]
    asked = tokens + probe.tokenize(QUESTION.encode(), add_bos=False)
    probe.close()
    n_ctx = 16384
    rows: dict[str, Any] = {}
    trained = _open(TRAINED, args.threads)
    nll, times = tail_nll(trained, tokens[-(TRAINED - 592) :], args.tail)
    rows["trained window"] = {"tail_nll": round(nll, 4), "context_tokens": TRAINED - 592}
    rows["trained window"] |= {name: round(value, 2) for name, value in times.items()}
    trained.close()
    print("trained window", rows["trained window"], flush=True)
    for name in args.settings.split(","):
        llama = _open(n_ctx, args.threads, **SETTINGS[name])
        nll, times = tail_nll(llama, tokens, args.tail)
        rows[name] = {"tail_nll": round(nll, 4)}
        rows[name] |= {key: round(value, 2) for key, value in times.items()}
        rows[name]["prompt_tokens_per_cpu_s"] = round(
            (len(tokens) - args.tail) / times["prompt_eval_cpu_s"], 1
        )
        rows[name]["continuation"] = continuation(llama, asked)
        llama.close()
        print(name, rows[name], flush=True)
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "document_tokens": len(tokens),
        "tail": args.tail,
        "threads": args.threads,
        "loadavg_at_end": os.getloadavg(),
        "settings": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
