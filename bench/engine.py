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
import itertools
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import llama_cpp
import orjson

from tests.support.server import ADMIN_KEY, ServerProcess
from thinkgate.backends.local import LocalBackend
from thinkgate.config import DEFAULT_LOCAL_MODEL, LocalModelConfig
from thinkgate.engine.responses_request import canonical_from_responses
from thinkgate.protocol import parse_body
from thinkgate.protocol.responses import CreateResponseRequest

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "engine.json"
DEFAULT_PROMPT = "Write a long story about a lighthouse keeper."
TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
DELTA_EVENT = "response.output_text.delta"
RAW = "raw llama-cpp-python"
GENERATE = "raw Llama.generate loop"
SERVER = "thinkgate server"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """The paths did not do the same work: the comparison would be meaningless."""


@dataclass(slots=True)
class Stream:
    """What one streamed generation produced, with the times of its first and last text."""

    started: float
    first: float
    last: float
    ended: float
    text: str
    tokens: int
    input_tokens: int | None = None
    times: list[float] = field(default_factory=list)  # arrival of each piece of text


@dataclass(slots=True)
class Cpu:
    """CPU seconds over one run: this process, the server process, everyone else, steal."""

    own: float = 0.0
    server: float = 0.0
    foreign: float = 0.0
    steal: float = 0.0


@dataclass(slots=True)
class Sample:
    path: str
    ttft_ms: float
    decode_tok_s: float
    itl_p50_ms: float  # median gap between consecutive pieces of text: robust to stalls
    tokens: int
    wall_s: float
    cpu: Cpu = field(default_factory=Cpu)
    foreign_cores: float = 0.0
    loadavg_1m: float = 0.0  # when the run started
    quiet_before_cores: float = 0.0
    noisy: bool = False


# --- CPU accounting ---------------------------------------------------------------------


def _machine_cpu_s() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot; busy excludes steal."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def _process_cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            stat = handle.read()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


class CpuMeter:
    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def read(self) -> tuple[float, float, float, float]:
        times = os.times()
        busy, steal = _machine_cpu_s()
        return (times.user + times.system, _process_cpu_s(self.server_pid), busy, steal)

    def between(
        self, before: tuple[float, float, float, float], after: tuple[float, float, float, float]
    ) -> Cpu:
        own, server, busy, steal = (a - b for a, b in zip(after, before, strict=True))
        return Cpu(own=own, server=server, foreign=max(0.0, busy - own - server), steal=steal)

    def foreign_cores(self, seconds: float = 0.5) -> float:
        """Cores used by other processes over a short window."""
        before = self.read()
        time.sleep(seconds)
        return self.between(before, self.read()).foreign / seconds

    def wait_for_quiet(self, threshold: float, max_wait_s: float) -> float:
        """Wait (up to `max_wait_s`) until other processes use under `threshold` cores."""
        deadline = time.monotonic() + max_wait_s
        load = self.foreign_cores()
        while load > threshold and time.monotonic() < deadline:
            load = self.foreign_cores()
        return load


# --- the paths ----------------------------------------------------------------------------


def raw_stream(llama: Any, tokens: list[int], max_tokens: int, expected_tokens: int) -> Stream:
    """One streamed `create_completion`. Its chunks carry no usage, so the token count is
    the calibrated one, valid because the text must match the reference (checked)."""
    pieces: list[str] = []
    times: list[float] = []
    started = time.perf_counter()
    for chunk in llama.create_completion(
        prompt=tokens,
        max_tokens=max_tokens,
        temperature=0.0,
        top_p=1.0,
        top_k=0,
        min_p=0.0,
        repeat_penalty=1.0,
        stream=True,
    ):
        text = chunk["choices"][0]["text"]
        if text:
            times.append(time.perf_counter())
            pieces.append(text)
    ended = time.perf_counter()
    return _stream(started, ended, times, "".join(pieces), expected_tokens)


def cold_raw_stream(llama: Any, tokens: list[int], max_tokens: int, expected: int) -> Stream:
    """The raw path on a prompt its context does not hold: `reset()` first."""
    llama.reset()
    return raw_stream(llama, tokens, max_tokens, expected)


def cold_generate_stream(llama: Any, tokens: list[int], max_tokens: int) -> Stream:
    llama.reset()
    return generate_stream(llama, tokens, max_tokens)


def calibrate(llama: Any, tokens: list[int], max_tokens: int) -> tuple[str, int]:
    """The reference text and token count of a prompt (raw, evaluated from scratch)."""
    llama.reset()
    done = llama.create_completion(
        prompt=tokens,
        max_tokens=max_tokens,
        temperature=0.0,
        top_p=1.0,
        top_k=0,
        min_p=0.0,
        repeat_penalty=1.0,
    )
    return str(done["choices"][0]["text"]), int(done["usage"]["completion_tokens"])


def generate_stream(llama: Any, tokens: list[int], max_tokens: int) -> Stream:
    """The bare token loop, with the sampler settings thinkgate passes at temperature 0."""
    vocab = llama._model.vocab
    pieces: list[bytes] = []
    times: list[float] = []
    started = time.perf_counter()
    for token in llama.generate(
        tokens, top_k=0, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True
    ):
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        pieces.append(llama.detokenize([token]))
        times.append(time.perf_counter())
        if len(pieces) >= max_tokens:
            break
    ended = time.perf_counter()
    text = b"".join(pieces).decode("utf-8", errors="replace")
    return _stream(started, ended, times, text, len(pieces))


def server_stream(client: httpx.Client, body: bytes) -> Stream:
    """One streamed request; only `output_text.delta` and the terminal event are parsed."""
    pieces: list[str] = []
    times: list[float] = []
    event = ""
    final: dict[str, Any] | None = None
    started = time.perf_counter()
    with client.stream("POST", "/v1/responses", content=body) as response:
        if response.status_code != 200:
            response.read()
            raise BenchError(f"server answered {response.status_code}: {response.text}")
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == DELTA_EVENT:
                    times.append(time.perf_counter())
                    pieces.append(orjson.loads(line[6:])["delta"])
                elif event in TERMINAL_EVENTS:
                    final = orjson.loads(line[6:])["response"]
    ended = time.perf_counter()
    if final is None or final["status"] == "failed":
        raise BenchError(f"the stream did not end well: {final}")
    usage = final["usage"]
    stream = _stream(started, ended, times, "".join(pieces), int(usage["output_tokens"]))
    stream.input_tokens = int(usage["input_tokens"])
    return stream


def _stream(started: float, ended: float, times: list[float], text: str, tokens: int) -> Stream:
    first, last = (times[0], times[-1]) if times else (ended, ended)
    return Stream(started, first, last, ended, text, tokens, times=times)


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


def to_sample(path: str, stream: Stream, cpu: Cpu) -> Sample:
    wall = stream.ended - stream.started
    return Sample(
        path=path,
        ttft_ms=(stream.first - stream.started) * 1000.0,
        decode_tok_s=(stream.tokens - 1) / (stream.last - stream.first),
        itl_p50_ms=1000.0 * statistics.median(b - a for a, b in itertools.pairwise(stream.times)),
        tokens=stream.tokens,
        wall_s=wall,
        cpu=cpu,
        foreign_cores=cpu.foreign / wall,
    )


# --- setup --------------------------------------------------------------------------------


def request_body(prompt: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": DEFAULT_LOCAL_MODEL,
        "input": prompt,
        "temperature": 0,
        "max_output_tokens": max_tokens,
        "stream": True,
    }


Render = Callable[[dict[str, Any]], list[int]]


def open_raw(threads: int) -> tuple[Any, Render, LocalModelConfig]:
    """The raw `Llama`, opened with the server's constructor arguments, and a function
    giving the prompt tokens of a body by the server's own request parsing and template."""
    config = LocalModelConfig(name=DEFAULT_LOCAL_MODEL, threads=threads)
    backend = LocalBackend(config)
    windows, formatter = backend._open()
    llama = windows.base.llama  # the trained window (the bench's prompts fit in it)

    def render(body: dict[str, Any]) -> list[int]:
        backend._llama, backend._formatter = llama, formatter
        request = canonical_from_responses(parse_body(orjson.dumps(body), CreateResponseRequest))
        try:
            return backend._tokenize(request, request.all_items)
        finally:
            backend._llama = backend._formatter = None  # the bench uses `llama` directly

    return llama, render, config


def write_config(directory: Path, config: LocalModelConfig) -> Path:
    path = directory / "thinkgate.toml"
    path.write_text(
        f'[[local_models]]\nname = "{config.name}"\nthreads = {config.threads}\n'
        f"n_ctx = {config.n_ctx}\nn_batch = {config.n_batch}\n",
        encoding="utf-8",
    )
    return path


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


# --- report -------------------------------------------------------------------------------


def summarise(samples: list[Sample], raw: list[Sample]) -> dict[str, Any]:
    ttft = [s.ttft_ms for s in samples]
    decode = [s.decode_tok_s for s in samples]
    paired = [s.decode_tok_s / r.decode_tok_s for s, r in zip(samples, raw, strict=True)]
    added = [s.ttft_ms - r.ttft_ms for s, r in zip(samples, raw, strict=True)]
    return {
        "ttft_ms_added_vs_raw_paired_median": statistics.median(added),
        "loadavg_1m_median": statistics.median(s.loadavg_1m for s in samples),
        "runs": len(samples),
        "noisy_runs_kept": sum(s.noisy for s in samples),
        "ttft_ms_median": statistics.median(ttft),
        "ttft_ms_min": min(ttft),
        "ttft_ms_max": max(ttft),
        "decode_tok_s_median": statistics.median(decode),
        "decode_tok_s_min": min(decode),
        "decode_tok_s_max": max(decode),
        "decode_ratio_vs_raw_paired_median": statistics.median(paired),
        "itl_p50_ms_median": statistics.median(s.itl_p50_ms for s in samples),
        "foreign_cores_median": statistics.median(s.foreign_cores for s in samples),
        "cpu_own_s_median": statistics.median(s.cpu.own for s in samples),
        "cpu_server_s_median": statistics.median(s.cpu.server for s in samples),
        "wall_s_median": statistics.median(s.wall_s for s in samples),
    }


def table(summaries: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "| situation | path | TTFT ms (median) | TTFT − raw, ms (paired median) "
        "| decode tok/s (median) | ratio vs raw (medians) | ratio (paired median) "
        "| load avg (median) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for situation, summary in summaries.items():
        raw = summary[RAW]["decode_tok_s_median"]
        for path, stats in summary.items():
            lines.append(
                f"| {situation} | {path} | {stats['ttft_ms_median']:.1f} "
                f"| {stats['ttft_ms_added_vs_raw_paired_median']:+.1f} "
                f"| {stats['decode_tok_s_median']:.1f} "
                f"| {stats['decode_tok_s_median'] / raw:.3f} "
                f"| {stats['decode_ratio_vs_raw_paired_median']:.3f} "
                f"| {stats['loadavg_1m_median']:.1f} |"
            )
    return "\n".join(lines)


def diagnostics(summaries: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "| situation | path | paired decode ratio vs raw | inter-token ms (p50) "
        "| CPU s/run: bench | CPU s/run: server | other processes, cores |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for situation, summary in summaries.items():
        for path, stats in summary.items():
            lines.append(diagnostic_row(situation, path, stats))
    return "\n".join(lines)


def diagnostic_row(situation: str, path: str, stats: dict[str, Any]) -> str:
    return (
        f"| {situation} | {path} | {stats['decode_ratio_vs_raw_paired_median']:.3f} "
        f"| {stats['itl_p50_ms_median']:.2f} | {stats['cpu_own_s_median']:.2f} "
        f"| {stats['cpu_server_s_median']:.2f} | {stats['foreign_cores_median']:.2f} |"
    )


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
