"""`thinkgate eval`: the click command, its progress bar and its table."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from thinkgate.evals.runner import EffortResult, ItemResult, Price, run_suite
from thinkgate.evals.suites import load_suite


@click.command("eval")
@click.option("--base-url", default="http://127.0.0.1:8000/v1", show_default=True)
@click.option("--api-key", envvar="OPENAI_API_KEY", required=True, help="(env OPENAI_API_KEY)")
@click.option("--model", default="gpt-5.1", show_default=True)
@click.option("--efforts", default="none,low,medium,high", show_default=True)
@click.option(
    "--suite", type=click.Choice(["easy", "hard", "all"]), default="all", show_default=True
)
@click.option("--limit", type=int, default=None, help="Only the first N items of each suite.")
@click.option("--max-output-tokens", type=int, default=None)
@click.option("--price-input", type=Decimal, default=Price().input, show_default=True)
@click.option("--price-output", type=Decimal, default=Price().output, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
def eval_command(
    base_url: str,
    api_key: str,
    model: str,
    efforts: str,
    suite: str,
    limit: int | None,
    max_output_tokens: int | None,
    price_input: Decimal,
    price_output: Decimal,
    json_path: Path | None,
) -> None:
    """Grade a bundled suite at several reasoning efforts (prices: USD per 1M tokens)."""
    from openai import OpenAI

    effort_list = [e.strip() for e in efforts.split(",") if e.strip()]
    items = load_suite(suite)
    if limit is not None:
        items = [i for s in ("easy", "hard") for i in [x for x in items if x.suite == s][:limit]]
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=2, timeout=600)
    price = Price(input=price_input, output=price_output)
    console = Console()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"{model} · {suite}", total=len(items) * len(effort_list))

        def advance(result: ItemResult) -> None:
            mark = "✓" if result.correct else "✗"
            progress.update(task, advance=1, description=f"{result.effort} {result.item.id} {mark}")

        rows = run_suite(
            client, model, items, effort_list, max_output_tokens=max_output_tokens, on_item=advance
        )
    console.print(results_table(rows, price, title=f"{model} on {suite} ({len(items)} items)"))
    if json_path is not None:
        json_path.write_text(json.dumps(results_json(rows, price), indent=1))


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
