"""Engine overhead: thinkgate's streamed `/v1/responses` against raw llama-cpp-python.

Both paths run the same GGUF with the same constructor arguments (the raw `Llama` is
opened by `LocalBackend._open`, the server's own code), on the same prompt tokens (rendered
by `LocalBackend._tokenize` from the very request body that is sent to the server), greedy
(temperature 0), 2 threads, the same number of output tokens (checked on every run: the
server's `usage.output_tokens` and the raw token count must agree, and so must the text).
Runs are interleaved (raw, generate-loop, server, raw, …) and never overlap: the raw
`Llama` lives in this process, the server in its own, and each waits for the other.

Paths:
  raw       `Llama.create_completion(prompt=tokens, stream=True)`, in this process.
  generate  the bare `Llama.generate` token loop (EOG check + detokenize per token): the
            floor any Python consumer of llama-cpp-python pays; a second reference.
  server    `POST /v1/responses` with `stream: true` to a `thinkgate serve` subprocess,
            read with httpx; only `output_text.delta` and terminal events are parsed.

Two situations, each with its own interleaved runs (`--situations`):
  repeat    the same prompt every run: raw llama-cpp-python reuses the evaluated prefix
            left in its context (it evaluates the last prompt token again); the server
            has seen the prompt (warm-up) and serves it from its prompt cache.
  cold      a prompt neither has seen: a new one each run ("<prompt> Draft <n>."), raw
            and the generate loop after `Llama.reset()` (a full evaluation), the server
            with that prompt for the first time. Each prompt is calibrated on raw first.

Per run: TTFT (request sent → first text delta received; raw: call → first streamed chunk
with text) and decode tokens/s ((tokens - 1) / (last token time - first token time)). The
table reports medians over the runs, and the median of the per-run TTFT differences
(server - raw, same prompt, adjacent runs); `bench/results/engine.json` keeps every run,
each with the 1-minute load average when it started.

Where the server's time goes (issue 27, measured with timestamps through the path and
py-spy, 2026-12-06) is in docs/benchmarks.md, "Embedded engine".

Other users of the CPU wreck the numbers (llama.cpp's threads spin at barriers, so losing
a core costs far more than its share). Each run records the CPU seconds used by everything
else on the machine (from /proc/stat); before a run the bench waits for quiet, and a run
during which others used more than `--max-foreign` cores is repeated (`--retries`).

    .venv/bin/python -m bench.engine [--runs 5] [--max-tokens 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import llama_cpp
import orjson

from bench.engine_paths import (
    BenchError,
    Render,
    Stream,
    calibrate,
    cold_generate_stream,
    cold_raw_stream,
    generate_stream,
    open_raw,
    raw_stream,
    request_body,
    server_stream,
    write_config,
)
from bench.engine_report import (
    RAW,
    CpuMeter,
    Sample,
    diagnostics,
    order_effects,
    summarise,
    table,
    to_sample,
)
from tests.support.server import ADMIN_KEY, ServerProcess

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "engine.json"
DEFAULT_PROMPT = "Write a long story about a lighthouse keeper."
GENERATE = "raw Llama.generate loop"
SERVER = "thinkgate server"


# --- checks and setup ---------------------------------------------------------------------


def check(path: str, stream: Stream, reference: str, expected: int, prompt_tokens: int) -> None:
    """Refuse a comparison where the paths did not generate the same tokens."""
    if stream.tokens != expected:
        raise BenchError(f"{path}: {stream.tokens} output tokens, expected {expected}")
    if stream.input_tokens is not None and stream.input_tokens != prompt_tokens:
        raise BenchError(f"{path}: {stream.input_tokens} prompt tokens, raw has {prompt_tokens}")
    if stream.text != reference:
        raise BenchError(f"{path}: the generated text differs from the raw reference")
    if stream.tokens < 2 or stream.last <= stream.first:
        raise BenchError(f"{path}: too few tokens to time decoding ({stream.tokens})")


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip()


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model or platform.processor() or "unknown",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "llama_cpp_python": llama_cpp.__version__,
        "thinkgate_commit": _git("rev-parse", "--short", "HEAD") + ("+dirty-src" if dirty else ""),
        "loadavg_start": list(os.getloadavg()),
    }


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine",
        description="thinkgate's streamed /v1/responses against raw llama-cpp-python.",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per path (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per path (default 1)")
    parser.add_argument("--max-tokens", type=int, default=256, help="output tokens (default 256)")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (default 2)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument(
        "--situations",
        default="repeat,cold",
        help="comma-separated: repeat (a prompt just seen), cold (one never seen)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument(
        "--no-generate-loop", action="store_true", help="skip the bare Llama.generate path"
    )
    parser.add_argument(
        "--max-foreign",
        type=float,
        default=0.1,
        help="repeat a run during which other processes used more cores than this (0.1)",
    )
    parser.add_argument("--retries", type=int, default=3, help="repeats of a noisy run (3)")
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="longest wait for quiet before a run, s"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([sys.executable, "-m", "bench.engine", *sys.argv[1:]])
    info = machine_info()
    started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"$ {command}")
    print(
        f"machine: nproc={info['nproc']}, CPU: {info['cpu_model']}, kernel {info['kernel']}, "
        f"Python {info['python']}, llama-cpp-python {info['llama_cpp_python']}, "
        f"thinkgate {info['thinkgate_commit']}, {started_at}",
        flush=True,
    )

    situations = [name.strip() for name in args.situations.split(",") if name.strip()]
    if not situations or set(situations) - {"repeat", "cold"}:
        raise SystemExit("--situations: a comma-separated list of repeat, cold")
    body = request_body(args.prompt, args.max_tokens)
    llama, render, config = open_raw(args.threads)
    tokens = render(body)
    model_path = str(llama.model_path)
    log(f"prompt: {len(tokens)} tokens; calibrating on the raw path…")
    reference, expected = calibrate(llama, tokens, args.max_tokens)
    log(f"reference: {expected} tokens")
    names = [RAW] + ([] if args.no_generate_loop else [GENERATE]) + [SERVER]
    results: dict[str, dict[str, list[Sample]]] = {}
    discarded: list[Sample] = []
    prompts: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="thinkgate-bench-") as tmp:
        directory = Path(tmp)
        server = ServerProcess(directory / "data", config=write_config(directory, config))
        meter = CpuMeter(server.process.pid)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
        try:
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=600) as client:
                for situation in situations:
                    first = Case(args.prompt, orjson.dumps(body), tokens, reference, expected)
                    cases = plan_cases(situation, args, llama, render, first)
                    prompts[situation] = [
                        {"prompt": c.prompt, "tokens": len(c.tokens), "output": c.expected}
                        for c in cases
                    ]
                    results[situation] = run_situation(
                        situation, cases, names, args, llama, client, meter, discarded
                    )
        finally:
            server.stop()
            llama.close()

    summaries = {
        situation: {name: summarise(runs, samples[RAW]) for name, runs in samples.items()}
        for situation, samples in results.items()
    }
    markdown = table(summaries)
    info["loadavg_end"] = list(os.getloadavg())
    print()
    print(markdown)
    print()
    print(diagnostics(summaries))
    effects = {situation: order_effects(samples, names) for situation, samples in results.items()}
    for situation, effect in effects.items():
        print(f"\n{situation}: TTFT by the run just before\n{effect}")
    print()
    for situation, summary in summaries.items():
        server_stats, raw_stats = summary[SERVER], summary[RAW]
        ratio = server_stats["decode_tok_s_median"] / raw_stats["decode_tok_s_median"]
        print(
            f"{situation}: server decode {ratio:.3f}x "
            f"raw on medians ({server_stats['decode_ratio_vs_raw_paired_median']:.3f} paired; "
            f"target ≥ 0.97); TTFT {server_stats['ttft_ms_median']:.1f} vs "
            f"{raw_stats['ttft_ms_median']:.1f} ms, "
            f"{server_stats['ttft_ms_added_vs_raw_paired_median']:+.1f} ms paired (target ≤ +20)."
        )
    print(
        f"{args.runs} interleaved runs per path and situation after {args.warmup} warm-up; "
        f"{expected} output tokens, {len(tokens)} prompt tokens, greedy, {args.threads} threads. "
        f"Runs repeated for foreign CPU load: {len(discarded)}; loadavg "
        f"{info['loadavg_start'][0]:.2f} → {info['loadavg_end'][0]:.2f}."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "command": command,
        "date": started_at,
        "machine": info,
        "settings": {
            "model_file": model_path,
            "prompt": args.prompt,
            "prompt_tokens": len(tokens),
            "max_tokens": args.max_tokens,
            "output_tokens": expected,
            "threads": args.threads,
            "n_ctx": config.n_ctx,
            "n_batch": config.n_batch,
            "runs": args.runs,
            "warmup": args.warmup,
            "max_foreign_cores": args.max_foreign,
            "retries": args.retries,
            "situations": situations,
        },
        "summary": summaries,
        "table_markdown": markdown,
        "diagnostics_markdown": diagnostics(summaries),
        "order_effects_markdown": effects,
        "runs": {
            situation: {name: [asdict(s) for s in runs] for name, runs in samples.items()}
            for situation, samples in results.items()
        },
        "prompts": prompts,
        "discarded_noisy_runs": [asdict(s) for s in discarded],
        "reference_text": reference,
    }
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"results: {args.out}")
    return 0


@dataclass(slots=True)
class Case:
    """One run's prompt: its body, tokens and calibrated answer."""

    prompt: str
    body: bytes
    tokens: list[int]
    reference: str
    expected: int


def plan_cases(
    situation: str,
    args: argparse.Namespace,
    llama: Any,
    render: Render,
    first: Case,
) -> list[Case]:
    """repeat: the one prompt every run; cold: a new prompt per run, calibrated here."""
    count = args.warmup + args.runs
    if situation == "repeat":
        return [first] * count
    cases = []
    for index in range(count):
        prompt = f"{args.prompt} Draft {index + 1}."
        variant = request_body(prompt, args.max_tokens)
        variant_tokens = render(variant)
        text, produced = calibrate(llama, variant_tokens, args.max_tokens)
        cases.append(Case(prompt, orjson.dumps(variant), variant_tokens, text, produced))
    log(f"cold: {count} prompts calibrated")
    return cases


def situation_runners(
    cold: bool, case: Case, max_tokens: int, llama: Any, client: httpx.Client
) -> dict[str, Callable[[], Stream]]:
    if cold:
        return {
            RAW: lambda: cold_raw_stream(llama, case.tokens, max_tokens, case.expected),
            GENERATE: lambda: cold_generate_stream(llama, case.tokens, max_tokens),
            SERVER: lambda: server_stream(client, case.body),
        }
    return {
        RAW: lambda: raw_stream(llama, case.tokens, max_tokens, case.expected),
        GENERATE: lambda: generate_stream(llama, case.tokens, max_tokens),
        SERVER: lambda: server_stream(client, case.body),
    }


def run_situation(
    situation: str,
    cases: list[Case],
    names: list[str],
    args: argparse.Namespace,
    llama: Any,
    client: httpx.Client,
    meter: CpuMeter,
    discarded: list[Sample],
) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    cold = situation == "cold"
    for index in range(-args.warmup, args.runs):
        case = cases[index + args.warmup]
        label = f"{situation} " + ("warm-up" if index < 0 else f"{index + 1}/{args.runs}")
        runners = situation_runners(cold, case, args.max_tokens, llama, client)
        # ABBA order (raw, …, server, then server, …, raw): a slow drift in the machine's
        # speed then biases no path. A cold prompt is new to each path once: no retries.
        for name in names if index % 2 == 0 else names[::-1]:
            for attempt in range(1 if cold else args.retries + 1):
                quiet = 0.0
                if args.quiet_wait > 0:
                    quiet = meter.wait_for_quiet(args.max_foreign, args.quiet_wait)
                load = os.getloadavg()[0]
                before = meter.read()
                stream = runners[name]()
                cpu = meter.between(before, meter.read())
                check(name, stream, case.reference, case.expected, len(case.tokens))
                sample = to_sample(name, stream, cpu)
                sample.quiet_before_cores, sample.loadavg_1m = quiet, load
                sample.noisy = sample.foreign_cores > args.max_foreign
                log(
                    f"{label:>14} {name.split()[-1][:9]:<9} "
                    f"TTFT {sample.ttft_ms:7.1f} ms  "
                    f"decode {sample.decode_tok_s:6.1f} tok/s  "
                    f"cpu own {cpu.own:5.2f}s server {cpu.server:5.2f}s "
                    f"others {sample.foreign_cores:4.2f} cores  load {load:.1f}"
                    + ("  NOISY" if sample.noisy else "")
                )
                if index < 0 or not sample.noisy or attempt == args.retries:
                    break
                discarded.append(sample)
            if index >= 0:
                samples[name].append(sample)
    return samples


if __name__ == "__main__":
    sys.exit(main())
