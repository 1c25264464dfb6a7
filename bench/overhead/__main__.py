"""Gateway overhead: thinkgate vs LiteLLM's proxy, same fixed-response upstream, same run.

Three targets answer the same Chat Completions request:
  direct    the stand-in upstream itself (bench/overhead/standin.py): the limit;
  thinkgate `thinkgate serve`, one worker, a `[[channels]]` entry to the stand-in, a user
            API key with rpm/tpm limits (keys, rate limits and the ledger all on);
  litellm   `litellm --num_workers 1` (installed into its own venv under
            ~/.cache/thinkgate-bench, LITELLM_LOCAL_MODEL_COST_MAP=True, master key on);
  floor     with `--floor`: the same server stack and transport with no gateway work
            (bench/overhead/floor.py), the fastest a Python proxy of this design can be.
For each mode (non-streaming, streaming) and connection count (1 and 32), each target is
loaded for `--seconds` in all, in `--rounds` turns (each after a warm-up) taken in rotation
with the other targets, so background noise on this shared VM falls on all of them alike.
Added latency = a proxy's p50 minus the direct p50 at the same setting.

    .venv/bin/python -m bench.overhead [--seconds 10] [--rounds 3] [--skip-litellm] [--out FILE]

Short comparison runs: `--seconds 3 --out /tmp/overhead.json` (the default file is the
recorded result docs/benchmarks.md quotes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop

from bench.overhead.load import LoadResult, chat_body, in_turns
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "overhead.json"
ADMIN_KEY = "sk-bench-admin-0123456789abcdef"
LITELLM_KEY = "sk-bench-litellm-0123456789abcdef"
CACHE = Path.home() / ".cache" / "thinkgate-bench"
LITELLM_PROXY_DEPS = [
    "gunicorn",
    "uvicorn",
    "uvloop",
    "fastapi",
    "backoff",
    "pyyaml",
    "rq",
    "orjson",
    "apscheduler",
    "fastapi-sso",
    "pyjwt",
    "python-multipart",
    "cryptography",
    "pynacl",
    "websockets",
    "litellm-proxy-extras",
    "litellm-enterprise",
    "rich<14",
    "tomlkit",
    "semver",
    "expression",
    "restrictedpython",
    "httpx2",
    "mcp",
    "boto3",
    "azure-identity",
    "azure-storage-blob",
    "polars",
    "soundfile",
    "pyroscope-io",
    "backports-zstd",
    "inquirerpy",
    "hiredis",
    "granian",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", default="1,32")
    parser.add_argument(
        "--rounds", type=int, default=3, help="turns per cell, `--seconds` split among them"
    )
    parser.add_argument(
        "--busy-poll-us",
        type=int,
        default=500,
        help="also run a thinkgate with busy polling opted in at this cap (0: defaults only)",
    )
    parser.add_argument(
        "--httpx", action="store_true", help="also run a thinkgate whose channel uses httpx"
    )
    parser.add_argument(
        "--floor", action="store_true", help="also run the bare proxy (bench/overhead/floor.py)"
    )
    parser.add_argument("--litellm-version", default="1.110.2")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        results = uvloop.run(_run(Path(tmp), args, connections))  # the load client's loop
    _report(results, args)


async def _run(tmp: Path, args: argparse.Namespace, connections: list[int]) -> dict[str, Any]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        standin = start_standin(tmp, processes)
        targets: dict[str, tuple[str, dict[str, str]]] = {
            "direct": (f"{standin}/v1/chat/completions", {})
        }
        targets["thinkgate"] = _start_thinkgate(tmp / "defaults", standin, processes)
        if args.httpx:  # the other transport, for choosing the default (docs/channels.md)
            targets["thinkgate+httpx"] = _start_thinkgate(
                tmp / "httpx", standin, processes, transport="httpx"
            )
        if args.busy_poll_us:  # the opt-in, measured beside the defaults in the same turns
            targets["thinkgate+polling"] = _start_thinkgate(
                tmp / "polling", standin, processes, busy_poll_us=args.busy_poll_us
            )
        if args.floor:
            targets["floor"] = _start_floor(tmp, standin, processes)
        if not args.skip_litellm:
            targets["litellm"] = _start_litellm(tmp, standin, args.litellm_version, processes)
        runs: list[dict[str, Any]] = []
        for stream in (False, True):
            body = chat_body(stream)
            for conns in connections:
                parts = await in_turns(
                    targets,
                    body,
                    connections=conns,
                    rounds=args.rounds,
                    seconds=args.seconds / args.rounds,
                )
                for name in targets:
                    row: dict[str, Any] = {"target": name, "stream": stream, "connections": conns}
                    row |= LoadResult.combined(parts[name]).summary()
                    print(json.dumps(row), flush=True)
                    runs.append(row)
        return {"runs": runs}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def start_standin(tmp: Path, processes: list[subprocess.Popen[bytes]]) -> str:
    """The fixed-response upstream, up; its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "bench.overhead.standin", str(port)]
    processes.append(_spawn(command, tmp / "standin.log"))
    standin = f"http://127.0.0.1:{port}"
    _wait(f"{standin}/v1/models")
    return standin


def _start_thinkgate(
    tmp: Path,
    standin: str,
    processes: list[subprocess.Popen[bytes]],
    *,
    busy_poll_us: int = 0,
    transport: str = "http1",
    module: str = "thinkgate",
    env: dict[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """`module`: what runs `serve` (`bench.overhead.phases_server` wraps thinkgate's)."""
    tmp.mkdir(parents=True, exist_ok=True)
    polling = f"busy_poll_us = {busy_poll_us}\n" if busy_poll_us else ""
    config = tmp / "thinkgate.toml"
    config.write_text(
        polling + "[[channels]]\n"
        'name = "fixed"\n'
        'kind = "openai-chat"\n'
        f'base_url = "{standin}/v1"\n'
        'models = { "gpt-5.1" = "fixed" }\n'
        "max_concurrency = 256\n" + f'transport = "{transport}"\n' + polling
    )
    port = free_port()
    env = {**os.environ, **(env or {}), "THINKGATE_ADMIN_KEY": ADMIN_KEY}
    command = [sys.executable, "-m", module, "serve", "--port", str(port)]
    command += ["--data-dir", str(tmp / "thinkgate-data"), "--config", str(config)]
    processes.append(_spawn(command, tmp / "thinkgate.log", env=env))
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}/health")
    reply = httpx.post(
        f"{base}/admin/v1/keys",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        json={"name": "bench", "role": "admin", "rpm": 10_000_000, "tpm": 1_000_000_000},
    )
    reply.raise_for_status()
    key = reply.json()["key"]
    return f"{base}/v1/chat/completions", {"authorization": f"Bearer {key}"}


def _start_floor(
    tmp: Path, standin: str, processes: list[subprocess.Popen[bytes]]
) -> tuple[str, dict[str, str]]:
    port = free_port()
    command = [sys.executable, "-m", "bench.overhead.floor", str(port), f"{standin}/v1"]
    processes.append(_spawn(command, tmp / "floor.log"))
    base = f"http://127.0.0.1:{port}"
    _wait_for_port(port)
    return f"{base}/v1/chat/completions", {}


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open in {timeout}s")


STACK = ("fastapi", "starlette", "uvicorn", "pydantic", "httpx", "openai", "uvloop", "orjson")
_VERSIONS = """\
import importlib.metadata as metadata, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(found))
"""


def _litellm_venv(version: str) -> Path:
    return CACHE / f"litellm-{version}"


def _stack(python: str | Path) -> dict[str, str]:
    """The versions of the web stack installed beside `python` (absent ones left out)."""
    command = [str(python), "-c", _VERSIONS, *STACK]
    versions: dict[str, str] = json.loads(
        subprocess.run(command, capture_output=True, text=True, check=True).stdout
    )
    return versions


def _start_litellm(
    tmp: Path, standin: str, version: str, processes: list[subprocess.Popen[bytes]]
) -> tuple[str, dict[str, str]]:
    venv = _litellm_venv(version)
    litellm = venv / "bin" / "litellm"
    if not litellm.exists():
        print(f"installing litellm[proxy]=={version} into {venv} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q"]
        if subprocess.run([*pip, f"litellm[proxy]=={version}"]).returncode != 0:
            # mirrors without the `litellm-proxy` split package: the extra's runtime by hand
            subprocess.run([*pip, f"litellm=={version}", *LITELLM_PROXY_DEPS], check=True)
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-5.1\n"
        "    litellm_params:\n"
        "      model: openai/fixed\n"
        f"      api_base: {standin}/v1\n"
        "      api_key: sk-fixed\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_KEY}\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
    )
    port = free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    command = [str(litellm), "--config", str(config), "--port", str(port), "--num_workers", "1"]
    processes.append(_spawn(command, tmp / "litellm.log", env=env))
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}/health/liveliness", timeout=180)
    return f"{base}/v1/chat/completions", {"authorization": f"Bearer {LITELLM_KEY}"}


def _spawn(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=ROOT
    )


def _wait(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


def _report(results: dict[str, Any], args: argparse.Namespace) -> None:
    runs = results["runs"]
    direct = {(r["stream"], r["connections"]): r for r in runs if r["target"] == "direct"}
    print()
    print(
        f"{'target':18} {'mode':10} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'added p50':>10} {'added p99':>10}"
    )
    for row in runs:
        base = direct[(row["stream"], row["connections"])]
        added50 = row["p50_ms"] - base["p50_ms"]
        added99 = row["p99_ms"] - base["p99_ms"]
        row["added_p50_ms"], row["added_p99_ms"] = round(added50, 3), round(added99, 3)
        mode = "stream" if row["stream"] else "json"
        print(
            f"{row['target']:18} {mode:10} {row['connections']:>5} {row['rps']:>9.1f} "
            f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {added50:>10.2f} {added99:>10.2f}"
        )
    out: Path = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_after": os.getloadavg(),
        },
        "seconds_per_run": args.seconds,
        "rounds": args.rounds,
        "litellm_version": None if args.skip_litellm else args.litellm_version,
        # the libraries each proxy ran on: a peer installed later resolves newer ones
        "stacks": {
            "thinkgate": _stack(sys.executable),
            "litellm": None
            if args.skip_litellm
            else _stack(_litellm_venv(args.litellm_version) / "bin" / "python"),
        },
        "runs": runs,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
