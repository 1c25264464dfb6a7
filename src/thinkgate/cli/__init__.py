"""Command line: `thinkgate serve` here; each other verb in its own module of this package
(`keys`/`users`/`usage`: gateway, `channels`, `doctor`, `migrate`; `eval` in `thinkgate.evals`)."""

from __future__ import annotations

from pathlib import Path

import click

from thinkgate.cli import gateway as cli_gateway
from thinkgate.cli.channels import channels_command
from thinkgate.cli.doctor import doctor_command
from thinkgate.cli.migrate import migrate_command
from thinkgate.cli.options import config_option, data_dir_option, settings_from
from thinkgate.evals.cli import eval_command


@click.group()
@click.version_option(package_name="thinkgate")
def main() -> None:
    """thinkgate: a self-hosted, GPT-5.1-compatible API server."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000; 0 picks a free one).")
@data_dir_option
@config_option
def serve(
    host: str | None, port: int | None, data_dir: Path | None, config_file: Path | None
) -> None:
    """Serve the API (embedded model and SQLite unless configured otherwise)."""
    import uvicorn

    from thinkgate.api.http_protocol import server_protocol
    from thinkgate.app import create_app
    from thinkgate.net.short_waits import WaitPoller
    from thinkgate.ops.drain import DrainingServer
    from thinkgate.ops.logs import configure_logging

    settings = settings_from(config_file, host=host, port=port, data_dir=data_dir)
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_config=None,  # configure_logging() set up the handlers (json or plain)
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        # the fast parser (httptools, a reply's headers written with its body; uvicorn's
        # stock one, with a warning, under an untested uvicorn) and loop, named so a
        # missing one fails loudly; uvicorn's access log is off (a record per request)
        http=server_protocol(WaitPoller(settings.busy_poll_us * 1e-6)),
        loop="uvloop",
        access_log=False,
        server_header=False,  # no `server: uvicorn`: it names our stack to every client
        # X-Forwarded-For/-Proto only from the proxies named in the settings; uvicorn's own
        # default (on, from 127.0.0.1) let any local client, or a proxy passing a client's
        # header along, choose its address (IP allow-lists, sign-in throttle, access log)
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
    )
    DrainingServer(config, app.state.drain, settings.shutdown_drain_seconds).run()


@main.command()
@click.argument("task")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory the tools may touch (patches and shell commands stay inside it).",
)
@click.option("--base-url", default="http://127.0.0.1:8000/v1", show_default=True)
@click.option("--api-key", default=None, help="API key (prefer --api-key-env).")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True)
@click.option("--model", default="gpt-5.1", show_default=True)
@click.option(
    "--policy",
    type=click.Choice(["approve", "allowlist", "auto", "deny"]),
    default="approve",
    show_default=True,
)
@click.option("--allow", multiple=True, help="Allowed command glob (or re:REGEX); repeatable.")
@click.option("--max-turns", type=int, default=8, show_default=True)
@click.option(
    "--tool-choice",
    "tool_choices",
    multiple=True,
    help="auto|required|none|apply_patch|shell|function:NAME; repeat to force turn by turn.",
)
@click.option("--stateless", is_flag=True, help="store=false; resend the whole item list.")
@click.option("--temperature", type=float, default=None)
@click.option("--max-output-tokens", type=int, default=None)
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds per request.")
@click.option(
    "--transcript",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every call and its output as JSON here.",
)
def agent(
    task: str,
    workspace: Path,
    base_url: str,
    api_key: str | None,
    api_key_env: str,
    model: str,
    policy: str,
    allow: tuple[str, ...],
    max_turns: int,
    tool_choices: tuple[str, ...],
    stateless: bool,
    temperature: float | None,
    max_output_tokens: int | None,
    transcript: Path | None,
    timeout: float,
) -> None:
    """Run TASK with the apply_patch and shell tools against any OpenAI-compatible API."""
    from thinkgate.tools.agent import tool_choice_param
    from thinkgate.tools.console import api_key_from, run_agent, write_transcript

    for choice in tool_choices:
        try:
            tool_choice_param(choice)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--tool-choice") from exc
    result = run_agent(
        task,
        workspace=workspace,
        base_url=base_url,
        api_key=api_key_from(api_key, api_key_env),
        model=model,
        policy=policy,
        allow=allow,
        max_turns=max_turns,
        tool_choices=tool_choices,
        stateless=stateless,
        temperature=temperature,
        max_output_tokens=max_output_tokens,
        timeout=timeout,
    )
    if transcript is not None:
        write_transcript(transcript, result)
    if result.final_text is not None:
        click.echo(result.final_text)


main.add_command(eval_command)
cli_gateway.register(main)
main.add_command(channels_command)
main.add_command(doctor_command)
main.add_command(migrate_command)
