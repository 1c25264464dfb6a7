"""Prompt cache: time to first token for a ~2,000-token shared prefix, thinkgate against
llama-cpp-python's own server with its RAM and disk caches, same prompts, same run.

Each server gets the same sequence of streamed chat requests (temperature 0, 8 output
tokens), all sharing one ~2,000-token system message and differing in the question:

  miss         the first request: the whole prompt is evaluated;
  RAM hit      after one unrelated request (llama.cpp's own reuse of the previous
               request's prefix cannot help then: only a cache can);
  disk hit     after a restart on the same data (thinkgate: `prompt_cache_retention: 24h`;
               llama-cpp-python: `--cache_type disk`, whose cache lives in its cwd);
  disk hit, no restart (llama-cpp-python disk only): after one unrelated request.

TTFT is request sent → first streamed content received. Servers run one at a time with
the same model file and 2 threads. The load of other processes is recorded (loadavg):
on a shared machine llama.cpp's spinning threads make absolute numbers noisy, so read
the ratios. Results: `bench/results/cache.json`.

    .venv/bin/python -m bench.cache [--rules 110]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.engine.test_prompt_cache import long_instructions
from tests.support.server import ADMIN_KEY, ServerProcess, free_port
from thinkgate.backends.model_files import default_gguf_path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "cache.json"
THREADS = 2


class LlamaServer:
    """`python -m llama_cpp.server` with a cache, in a working directory of its own."""

    def __init__(self, cwd: Path, cache_type: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path())]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "8192"]
        command += ["--n_threads", str(THREADS), "--n_threads_batch", str(THREADS)]
        command += ["--cache", "true", "--cache_type", cache_type]
        self._log = (cwd / f"llama-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            command, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/v1/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("llama_cpp.server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._log.close()


def ttft(base_url: str, question: str, system: str, extra: dict[str, Any]) -> tuple[float, int]:
    """Seconds to the first content delta, and the prompt's cached tokens if reported."""
    body = {
        "model": "gpt-5.1",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
        "temperature": 0,
        "max_tokens": 8,
        "stream": True,
        "stream_options": {"include_usage": True},
        **extra,
    }
    first: float | None = None
    cached = 0
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    started = time.perf_counter()
    with httpx.stream(
        "POST", f"{base_url}/v1/chat/completions", json=body, headers=headers, timeout=1800
    ) as reply:
        reply.raise_for_status()
        for line in reply.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            choices = chunk.get("choices") or []
            if first is None and choices and (choices[0].get("delta") or {}).get("content"):
                first = time.perf_counter() - started
            usage = chunk.get("usage") or {}
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or cached
    assert first is not None, "no content streamed"
    return first, int(cached)


def measure(
    name: str, url: Callable[[], str], system: str, extra: dict[str, Any]
) -> dict[str, Any]:
    row: dict[str, Any] = {"server": name, "load_before": os.getloadavg()[0]}
    row["miss"], _ = ttft(url(), "Which rule mentions a violin?", system, extra)
    ttft(url(), "Say hello.", "Be brief.", extra)  # unrelated traffic
    row["ram_hit"], row["ram_hit_cached"] = ttft(
        url(), "Which rule mentions a lantern?", system, extra
    )
    return row


def run_thinkgate(root: Path, system: str) -> dict[str, Any]:
    extra = {"prompt_cache_retention": "24h"}
    server = ServerProcess(root / "data")
    try:
        row = measure("thinkgate", lambda: server.base_url, system, extra)
        row["miss_cached"] = 0
    finally:
        server.stop()
    server = ServerProcess(root / "data")
    try:
        row["disk_hit"], row["disk_hit_cached"] = ttft(
            server.base_url, "Which rule mentions a harbour?", system, extra
        )
    finally:
        server.stop()
    return row


def run_llama(root: Path, system: str, cache_type: str) -> dict[str, Any]:
    server = LlamaServer(root, cache_type)
    try:
        row = measure(f"llama_cpp.server {cache_type}", lambda: server.base_url, system, {})
    finally:
        server.stop()
    if cache_type == "disk":
        server = LlamaServer(root, cache_type)
        try:
            row["disk_hit"], _ = ttft(server.base_url, "Which rule mentions a harbour?", system, {})
        finally:
            server.stop()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=110, help="~18 tokens each")
    args = parser.parse_args()
    system = long_instructions(7, args.rules)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in (
            ("thinkgate", lambda d: run_thinkgate(d, system)),
            ("ram", lambda d: run_llama(d, system, "ram")),
            ("disk", lambda d: run_llama(d, system, "disk")),
        ):
            directory = Path(tmp) / name
            directory.mkdir()
            try:
                rows.append(run(directory))
            except Exception as exc:  # one server failing should not lose the others' figures
                print(f"{name}: failed: {exc!r}", flush=True)
                continue
            print(json.dumps(rows[-1]), flush=True)
    for row in rows:
        row["ram_speedup"] = row["miss"] / row["ram_hit"]
        if "disk_hit" in row:
            row["disk_speedup"] = row["miss"] / row["disk_hit"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"date": dt.datetime.now(dt.UTC).isoformat(), "rules": args.rules, "rows": rows},
            indent=2,
        )
    )
    print(f"{'server':28} {'miss s':>8} {'RAM hit s':>10} {'x':>6} {'disk hit s':>11} {'x':>6}")
    for row in rows:
        disk = f"{row['disk_hit']:11.3f} {row['disk_speedup']:6.1f}" if "disk_hit" in row else ""
        ram = f"{row['ram_hit']:10.3f} {row['ram_speedup']:6.1f}"
        print(f"{row['server']:28} {row['miss']:8.3f} {ram} {disk}")


if __name__ == "__main__":
    main()
