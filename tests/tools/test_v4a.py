"""V4A patches: a corpus of real-shaped patches, and the writer round-trip as a property."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from thinkgate import tools
from thinkgate.tools import Workspace, apply_operation, apply_patch, write_patch, write_update_diff
from thinkgate.tools.seek import apply_chunks
from thinkgate.tools.v4a import AddFile, DeleteFile, UpdateFile, parse_patch, parse_update_diff

CORPUS = Path(__file__).resolve().parents[1] / "v4a_corpus"
CASES = sorted(CORPUS.glob("*.json"))


def _snapshot(root: Path) -> dict[str, str]:
    """Every regular file under root (symlinks not followed) → its exact text."""
    files: dict[str, str] = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if not path.is_symlink():
                files[path.relative_to(root).as_posix()] = path.read_bytes().decode()
    return files


def _seed(root: Path, case: dict[str, Any]) -> None:
    for rel, text in case["before"].items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode())
    for rel, target in case.get("symlinks", {}).items():
        (root / rel).symlink_to(target)


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30
    kinds = {p.stem.split("_")[0] for p in CASES}
    assert {"add", "update", "delete", "move", "fail", "api"} <= kinds


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_corpus(case_path: Path, tmp_path: Path) -> None:
    case = json.loads(case_path.read_text())
    root = tmp_path / "ws"
    root.mkdir()
    _seed(root, case)
    workspace = Workspace(root)

    def run() -> tools.PatchResult:
        if "operation" in case:
            return apply_operation(workspace, case["operation"])
        return apply_patch(workspace, case["patch"])

    if "error" in case:
        error_type = getattr(tools, case["error"])
        with pytest.raises(error_type) as caught:
            run()
        assert case["message"] in str(caught.value)
        assert _snapshot(root) == {k: v for k, v in case["before"].items()}, "left untouched"
    else:
        result = run()
        assert result.output
        assert _snapshot(root) == case["after"]


def test_parser_types() -> None:
    ops = parse_patch(
        "*** Begin Patch\n*** Add File: a\n+x\n*** Delete File: b\n"
        "*** Update File: c\n*** Move to: d\n@@ def f():\n-1\n+2\n*** End of File\n*** End Patch"
    )
    assert ops[0] == AddFile("a", "x\n")
    assert ops[1] == DeleteFile("b")
    update = ops[2]
    assert isinstance(update, UpdateFile)
    assert (update.path, update.move_to) == ("c", "d")
    (chunk,) = update.chunks
    assert (chunk.anchors, chunk.old, chunk.new) == (["def f():"], ["1"], ["2"])
    assert chunk.end_of_file


def test_agents_sdk_examples() -> None:
    """The two examples in the openai-agents apply_diff tests behave the same here."""
    assert apply_chunks("", parse_update_diff("@@\n+hello\n+world"), "f") == "hello\nworld\n"
    diff = "@@ line1\n-line2\n+updated\n line3"
    assert apply_chunks("line1\nline2\nline3\n", parse_update_diff(diff), "f") == (
        "line1\nupdated\nline3\n"
    )


def test_atomic_write_keeps_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("echo a\n")
    script.chmod(0o750)
    apply_patch(Workspace(tmp_path), write_patch("run.sh", "echo a\n", "echo b\n"))
    assert script.read_text() == "echo b\n"
    assert script.stat().st_mode & 0o777 == 0o750
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.sh"]


def test_new_files_get_the_usual_mode(tmp_path: Path) -> None:
    apply_patch(Workspace(tmp_path), "*** Begin Patch\n*** Add File: n.txt\n+1\n*** End Patch")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "n.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_symlink_inside_workspace_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    apply_patch(Workspace(tmp_path), "*** Begin Patch\n*** Add File: alias/x\n+1\n*** End Patch")
    assert (tmp_path / "real" / "x").read_text() == "1\n"


# Lines that look like V4A syntax, whitespace variants, and unicode are the hard cases.
_LINE = st.one_of(
    st.text(alphabet="ab \t", max_size=4),
    st.sampled_from(["", " ", "@@", "*** End of File", "+x", "-y", " z", "*** End Patch", "é—“"]),
)
_LINES = st.lists(_LINE, max_size=12)


@st.composite
def _file_pair(draw: st.DrawFn) -> tuple[str, str]:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    old_lines = draw(_LINES)
    edits = draw(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 3), _LINES), max_size=3))
    new_lines = list(old_lines)
    for at, cut, insert in edits:
        at = min(at, len(new_lines))
        new_lines[at : at + cut] = insert
    old_end = draw(st.sampled_from(["", newline]))
    new_end = draw(st.sampled_from(["", newline, old_end]))
    old = newline.join(old_lines) + (old_end if old_lines else "")
    new = newline.join(new_lines) + (new_end if new_lines else "")
    return old, new


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_file_pair())
def test_writer_round_trip(pair: tuple[str, str]) -> None:
    old, new = pair
    assume(old != new)
    diff = write_update_diff(old, new)
    assert apply_chunks(old, parse_update_diff(diff), "f") == new


@settings(max_examples=50, deadline=None)
@given(_file_pair())
def test_writer_round_trip_through_workspace(tmp_path_factory: Any, pair: tuple[str, str]) -> None:
    old, new = pair
    assume(old != new)
    root = tmp_path_factory.mktemp("rt")
    (root / "f.txt").write_bytes(old.encode())
    workspace = Workspace(root)
    apply_operation(
        workspace, {"type": "update_file", "path": "f.txt", "diff": write_update_diff(old, new)}
    )
    assert (root / "f.txt").read_bytes().decode() == new
