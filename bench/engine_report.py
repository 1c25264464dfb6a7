"""What `bench/engine.py` records of each run and how it reports them: CPU seconds of
the bench, the server and everything else (from /proc), one `Sample` per run, and the
summaries and Markdown tables written to `bench/results/engine.json`."""

from __future__ import annotations

import itertools
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from bench.engine_paths import Stream

RAW = "raw llama-cpp-python"
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def order_effects(samples: dict[str, list[Sample]], names: list[str]) -> str:
    """Median TTFT of each path by the run just before it (the rounds alternate the order,
    ABBA). A path whose TTFT moves with its predecessor is measured against a state the
    previous run left (caches, the bench process's threads), not only against the other
    path: the reading for the cold situation in docs/benchmarks.md."""
    order: list[tuple[str, Sample]] = []
    for index in range(min(len(runs) for runs in samples.values())):
        for name in names if index % 2 == 0 else names[::-1]:
            order.append((name, samples[name][index]))
    after: dict[tuple[str, str], list[float]] = {}
    for (before, _), (name, sample) in itertools.pairwise(order):
        after.setdefault((name, before), []).append(sample.ttft_ms)
    lines = ["| path | run just before | runs | TTFT ms (median) |", "|---|---|---:|---:|"]
    for (name, before), values in sorted(after.items()):
        lines.append(f"| {name} | {before} | {len(values)} | {statistics.median(values):.1f} |")
    return "\n".join(lines)
