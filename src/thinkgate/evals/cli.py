"""`thinkgate eval`: the click command, its progress bar, its table and its picture."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from thinkgate.evals.cli_calibrate import calibrate
from thinkgate.evals.plot import Line, PlotUnavailable, Point, draw
from thinkgate.evals.runner import EffortResult, ItemResult, Price, run_suite
from thinkgate.evals.suites import SUITES, Split, load_suite


@click.command("eval")
@click.option("--base-url", default="http://127.0.0.1:8000/v1", show_default=True)
@click.option("--api-key", envvar="OPENAI_API_KEY", default=None, help="(env OPENAI_API_KEY)")
@click.option(
    "--model",
    "models",
    multiple=True,
    default=["gpt-5.1"],
    show_default=True,
    help="Repeat to compare models (e.g. an adaptive and a fixed one): one line each.",
)
@click.option("--efforts", default="low,medium,high,xhigh", show_default=True)
@click.option("--suite", type=click.Choice([*SUITES, "all"]), default="all", show_default=True)
@click.option(
    "--split",
    type=click.Choice(["test", "calibration", "all"]),
    default="test",
    show_default=True,
    help="Figures are reported on the held-out test part.",
)
@click.option("--limit", type=int, default=None, help="Only the first N items of each suite.")
@click.option("--max-output-tokens", type=int, default=None)
@click.option("--price-input", type=Decimal, default=Price().input, show_default=True)
@click.option("--price-output", type=Decimal, default=Price().output, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--plot",
    "plot_stem",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Draw accuracy against reasoning tokens to STEM.png and STEM.svg (needs matplotlib).",
)
@click.option(
    "--calibrate",
    "calibrate_config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="CONFIG",
    help="Choose the adaptive thresholds of --model (a local model) on the calibration "
    "part, in process, and write them to its entry in the TOML file CONFIG.",
)
@click.option(
    "--traces",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --calibrate: read traces from this JSONL file (bench.reasoning_traces) "
    "instead of running them, or, if it does not exist, save the runs there.",
)
@click.option("--cap", type=int, default=512, show_default=True, help="With --calibrate.")
@click.option(
    "--tolerance",
    type=float,
    default=0.0,
    show_default=True,
    help="With --calibrate: accuracy points adaptive may lose to fixed on calibration.",
)
def eval_command(
    base_url: str,
    api_key: str | None,
    models: tuple[str, ...],
    efforts: str,
    suite: str,
    split: Split,
    limit: int | None,
    max_output_tokens: int | None,
    price_input: Decimal,
    price_output: Decimal,
    json_path: Path | None,
    plot_stem: Path | None,
    calibrate_config: Path | None,
    traces: Path | None,
    cap: int,
    tolerance: float,
) -> None:
    """Grade the bundled suites at several reasoning efforts (prices: USD per 1M tokens)."""
    console = Console()
    if calibrate_config is not None:
        model = models[0] if models != ("gpt-5.1",) else "smollm2-135m-instruct"
        calibrate(console, calibrate_config, model, traces, cap, tolerance / 100, limit)
        return
    if not api_key:
        raise click.UsageError("--api-key (or OPENAI_API_KEY) is required to run the suites")
    from openai import OpenAI

    effort_list = [e.strip() for e in efforts.split(",") if e.strip()]
    items = load_suite(suite, split)
    if limit is not None:
        items = [i for s in SUITES for i in [x for x in items if x.suite == s][:limit]]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=2, timeout=600)
    price = Price(input=price_input, output=price_output)
    rows: dict[tuple[str, str], list[EffortResult]] = {}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(suite, total=len(items) * len(effort_list) * len(models))

        def advance(result: ItemResult) -> None:
            mark = "✓" if result.correct else "✗"
            progress.update(task, advance=1, description=f"{result.effort} {result.item.id} {mark}")

        for model in models:
            for name in sorted({i.suite for i in items}, key=SUITES.index):
                part = [i for i in items if i.suite == name]
                rows[model, name] = run_suite(
                    client,
                    model,
                    part,
                    effort_list,
                    max_output_tokens=max_output_tokens,
                    on_item=advance,
                )
    for (model, name), result in rows.items():
        title = f"{model} on {name} ({split}, {len(result[0].items)} items)"
        console.print(results_table(result, price, title=title))
    if json_path is not None:
        body = {f"{m} · {s}": results_json(r, price) for (m, s), r in rows.items()}
        json_path.write_text(json.dumps(body, indent=1))
    if plot_stem is not None:
        _plot(console, rows, plot_stem, title=f"{', '.join(models)} · {split} part")


def _plot(
    console: Console, rows: dict[tuple[str, str], list[EffortResult]], stem: Path, *, title: str
) -> None:
    first = next(iter(rows))[0] if rows else ""
    lines = [
        Line(
            f"{model} · {suite}",
            [
                Point(r.effort, [i.correct for i in r.items], [i.reasoning_tokens for i in r.items])
                for r in result
            ],
            dashed=model != first,  # the first model solid, the others dashed
            group=suite,
        )
        for (model, suite), result in rows.items()
    ]
    try:
        paths = draw(lines, stem, title=title)
    except PlotUnavailable as exc:
        console.print(f"[yellow]no picture: {exc}[/yellow] (the table above is complete)")
        return
    console.print("picture: " + ", ".join(str(p) for p in paths))


def results_table(rows: list[EffortResult], price: Price, *, title: str) -> Table:
    table = Table(title=title)
    for column in (
        "effort",
        "accuracy",
        "reasoning tok/item",
        "output tok/item",
        "latency s/item",
        "cost USD (total)",
        "errors",
    ):
        table.add_column(column, justify="left" if column == "effort" else "right")
    for row in rows:
        table.add_row(
            row.effort,
            f"{row.accuracy:.0%}",
            f"{row.reasoning_tokens:.1f}",
            f"{row.output_tokens:.1f}",
            f"{row.latency_s:.2f}",
            f"{row.cost(price):.6f}",
            str(row.errors),
        )
    return table


def results_json(rows: list[EffortResult], price: Price) -> list[dict[str, object]]:
    return [
        {
            "effort": row.effort,
            "model": row.model,
            "accuracy": row.accuracy,
            "reasoning_tokens": row.reasoning_tokens,
            "output_tokens": row.output_tokens,
            "latency_s": row.latency_s,
            "cost_usd": str(row.cost(price)),
            "items": [
                {
                    "id": r.item.id,
                    "reply": r.reply,
                    "correct": r.correct,
                    "reasoning_tokens": r.reasoning_tokens,
                    "output_tokens": r.output_tokens,
                    "latency_s": round(r.latency_s, 3),
                    "error": r.error,
                }
                for r in row.items
            ],
        }
        for row in rows
    ]
