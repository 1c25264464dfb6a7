"""Imports run one way (api → engine → reasoning/backends → core) and no package has an
import cycle: `[tool.importlinter]` in pyproject.toml, checked by import-linter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = [
    sys.executable,
    "-c",
    "from importlinter.cli import lint_imports_command; lint_imports_command()",
]


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [*LINT, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_src_keeps_its_layers_and_has_no_cycles() -> None:
    result = _lint(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_and_a_cycle_are_caught(tmp_path: Path) -> None:
    """The contracts bite: the core importing the engine breaks both of them."""
    shutil.copytree(
        ROOT / "src" / "thinkgate",
        tmp_path / "thinkgate",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    deltas = tmp_path / "thinkgate" / "core" / "deltas.py"
    deltas.write_text(deltas.read_text() + "\nimport thinkgate.engine.pipeline  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "layers BROKEN" in result.stdout
    assert "thinkgate.core.deltas -> thinkgate.engine.pipeline" in result.stdout
    assert "acyclic BROKEN" in result.stdout
