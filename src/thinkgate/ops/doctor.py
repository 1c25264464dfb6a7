"""`thinkgate doctor`: is this install able to serve? Engine, CPU, model files, data dir,
database and schema, Redis, and every upstream channel, each a `Check` with what is wrong.

Nothing here raises: every failure is a row in the report, so one run lists them all.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from thinkgate.config import ChannelConfig, LocalModelConfig, Settings
from thinkgate.ops.checks import Check, database_check, migrations_check, redis_check
from thinkgate.store.database import Database

# llama.cpp's system-info names → /proc/cpuinfo flags
_CPU_FLAGS = {
    "SSE3": "pni",
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX2": "avx2",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX_VNNI": "avx_vnni",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}
_GGUF_MAGIC = b"GGUF"


async def diagnose(settings: Settings) -> list[Check]:
    checks = [_engine_check(), _cpu_check(), _data_dir_check(settings.data_dir)]
    checks += [_model_check(model) for model in settings.local_models]
    checks += await _database_checks(settings)
    if settings.redis_url is not None:
        checks.append(await redis_check(settings.redis_url))
    for channel in settings.channels:
        checks += await _channel_checks(channel)
    return checks


async def _database_checks(settings: Settings) -> list[Check]:
    url = settings.resolved_database_url
    sqlite_file = (
        Path(url.split("///", 1)[1]) if url.startswith("sqlite") and "///" in url else None
    )
    if sqlite_file is not None and not sqlite_file.exists():  # never create it from here
        return [
            Check("database", True, f"{sqlite_file} (created on first start)"),
            Check("migrations", True, "applied on first start"),
        ]
    database = Database(url)
    try:
        return [await database_check(database), await migrations_check(database)]
    finally:
        await database.aclose()


def _engine_check() -> Check:
    try:
        import llama_cpp
    except Exception as exc:  # a missing or broken build is what this check reports
        return Check("engine", False, f"llama_cpp does not import: {exc} (run `make install`)")
    return Check("engine", True, f"llama-cpp-python {llama_cpp.__version__}")


def _cpu_check() -> Check:
    """Instructions the llama.cpp build uses that this CPU lacks crash the first token."""
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode(errors="replace")
    except Exception as exc:
        return Check("cpu", False, f"cannot read the engine's build flags: {exc}")
    built = {
        name.strip()
        for part in info.replace("CPU :", "").split("|")
        if "=" in part
        for name, value in [part.split("=", 1)]
        if value.strip() == "1"
    }
    flags = _cpu_flags()
    if flags is None:
        return Check(
            "cpu", True, f"build uses {', '.join(sorted(built))}; /proc/cpuinfo unreadable"
        )
    missing = sorted(name for name in built if name in _CPU_FLAGS and _CPU_FLAGS[name] not in flags)
    if missing:
        return Check(
            "cpu",
            False,
            f"the engine was built for {', '.join(missing)}, which this CPU lacks: "
            "rebuild it here (bash scripts/install-llama.sh .venv/bin/python)",
        )
    used = [name for name in _CPU_FLAGS if name in built]
    return Check("cpu", True, f"build uses {', '.join(used) or 'no SIMD'}; the CPU has them all")


def _cpu_flags() -> set[str] | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


def _model_check(model: LocalModelConfig) -> Check:
    name = f"model {model.name}"
    try:
        if model.path is not None:
            path = model.path
        else:
            from thinkgate.backends.model_files import default_gguf_path

            path = default_gguf_path()
        with path.open("rb") as handle:
            magic = handle.read(4)
        size = path.stat().st_size
    except Exception as exc:
        return Check(name, False, f"cannot read the model file: {exc}")
    if magic != _GGUF_MAGIC:
        return Check(name, False, f"{path} is not a GGUF file (starts with {magic!r})")
    return Check(name, True, f"{path} ({size / 2**20:.0f} MiB)")


def _data_dir_check(data_dir: Path) -> Check:
    if not data_dir.exists():
        parent = data_dir.resolve().parent
        if os.access(parent, os.W_OK):
            return Check("data dir", True, f"{data_dir} (created on first start)")
        return Check("data dir", False, f"{data_dir} does not exist and {parent} is not writable")
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return Check("data dir", False, f"{data_dir} is not writable")
    return Check("data dir", True, str(data_dir))


async def _channel_checks(config: ChannelConfig) -> list[Check]:
    from thinkgate.backends.upstream.probe import probe_channel

    try:
        steps = await probe_channel(config)
    except Exception as exc:
        return [Check(f"channel {config.name}", False, f"{type(exc).__name__}: {exc}")]
    return [
        Check(
            f"channel {config.name}: {step.check}",
            step.ok,
            step.detail + ("" if step.latency_ms is None else f" ({step.latency_ms:.0f} ms)"),
        )
        for step in steps
    ]


def python_check() -> Check:
    return Check("python", sys.version_info >= (3, 11), sys.version.split()[0])
