"""`thinkgate eval --calibrate CONFIG`: traces on the calibration part, the choice rule,
and the chosen thresholds written to the model's `[[local_models]]` entry in CONFIG."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
import tomlkit
from rich.console import Console
from rich.table import Table

from thinkgate.backends.llama_windows import budget_window
from thinkgate.config import DEFAULT_LOCAL_MODEL, LocalModelConfig
from thinkgate.evals.calibrate import Choice, Trace, check_calibration_only, choose, regraded
from thinkgate.evals.suites import SUITES, load_suite
from thinkgate.reasoning.budgets import EFFORT_LADDER, budget_for
from thinkgate.reasoning.policy import AdaptivePolicy

CALIBRATED_EFFORTS = EFFORT_LADDER[2:]  # low and up: what the figures are reported for


def calibrate(
    console: Console,
    config_path: Path,
    model: str,
    traces_path: Path | None,
    cap: int,
    tolerance: float,
    limit: int | None,
) -> Choice:
    entry = _model_entry(config_path, model)
    base = AdaptivePolicy()
    if traces_path is not None and traces_path.exists():
        traces = read_traces(traces_path)
    else:
        traces = _run_traces(console, entry, cap, base, limit)
        if traces_path is not None:
            traces_path.write_text("".join(json.dumps(t.to_json()) + "\n" for t in traces))
    overrides = {str(k): v for k, v in entry.reasoning_budgets.items()}
    caps = sorted(
        {budget_for(e, budget_window(entry), overrides) for e in CALIBRATED_EFFORTS}
        & set(range(1, max(t.cap for t in traces) + 1))
    )
    if not caps:
        raise click.ClickException(f"the traces reach no effort's cap (traced to {cap})")
    choice = choose(traces, caps, tolerance=tolerance, base=base)
    console.print(choice_table(choice, len(traces)))
    write_thresholds(config_path, model, choice.policy)
    policy = choice.policy
    console.print(
        f"wrote adaptive_thresholds = {{skip_confidence = {policy.skip_confidence}, "
        f"stop_confidence = {policy.stop_confidence}, agree = {policy.agree}}} "
        f"to {model} in {config_path}"
    )
    return choice


def read_traces(path: Path) -> list[Trace]:
    lines = path.read_text().splitlines()
    traces = [Trace.from_json(json.loads(line)) for line in lines if line]
    held_out = [t.item_id for t in traces if t.split != "calibration"]
    if held_out:
        raise click.ClickException(
            f"{path} holds held-out (test) items, never used to calibrate: {held_out[:3]}"
        )
    return regraded(traces)


def _run_traces(
    console: Console, entry: LocalModelConfig, cap: int, base: AdaptivePolicy, limit: int | None
) -> list[Trace]:
    from thinkgate.backends.local import LocalBackend
    from thinkgate.evals.tracing import trace_items

    items = [i for s in SUITES for i in load_suite(s, "calibration")[:limit]]
    check_calibration_only(items)
    backend = LocalBackend(entry)

    async def run() -> list[Trace]:
        try:
            with console.status(f"tracing {len(items)} calibration items") as status:

                def seen(trace: Trace) -> None:
                    status.update(f"traced {trace.item_id} ({trace.thought_tokens} tokens)")

                return await trace_items(backend, items, cap, base, on_trace=seen)
        finally:
            await backend.aclose()

    return asyncio.run(run())


def _model_entry(config_path: Path, model: str) -> LocalModelConfig:
    if config_path.exists():
        document = tomlkit.parse(config_path.read_text())
        for entry in document.get("local_models", []):
            if entry.get("name") == model:
                return LocalModelConfig.model_validate(entry.unwrap())
    if model != DEFAULT_LOCAL_MODEL:
        raise click.ClickException(f"{model!r} is not a [[local_models]] entry of {config_path}")
    return LocalModelConfig(name=model)


def write_thresholds(config_path: Path, model: str, policy: AdaptivePolicy) -> None:
    """Into the model's entry (made if missing); the rest of the file is kept as written."""
    text = config_path.read_text() if config_path.exists() else ""
    document = tomlkit.parse(text)
    entries = document.get("local_models")
    if entries is None:
        entries = tomlkit.aot()
        document["local_models"] = entries
    entry = next((e for e in entries if e.get("name") == model), None)
    if entry is None:
        entry = tomlkit.table()
        entry["name"] = model
        entries.append(entry)
    thresholds = tomlkit.inline_table()
    thresholds["skip_confidence"] = policy.skip_confidence
    thresholds["stop_confidence"] = policy.stop_confidence
    thresholds["agree"] = policy.agree
    entry["adaptive_thresholds"] = thresholds
    config_path.write_text(tomlkit.dumps(document))


def choice_table(choice: Choice, traces: int) -> Table:
    policy = choice.policy
    table = Table(
        title=f"calibration ({traces} traces): skip ≥ {policy.skip_confidence}, "
        f"stop ≥ {policy.stop_confidence} with {policy.agree} agreeing probes"
    )
    for column in ("suite", "cap", "fixed acc", "adaptive acc", "fixed tok", "adaptive tok"):
        table.add_column(column, justify="left" if column == "suite" else "right")
    for (suite, cap), (got, fixed) in sorted(choice.scores.items()):
        table.add_row(
            suite,
            str(cap),
            f"{fixed.accuracy:.0%}",
            f"{got.accuracy:.0%}",
            f"{fixed.reasoning_tokens / max(fixed.items, 1):.1f}",
            f"{got.reasoning_tokens / max(got.items, 1):.1f}",
        )
    return table
