"""Shell runner (timeouts, truncation, jail, scrubbed env) and the execution policies."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from thinkgate.tools import ShellRunner, Workspace, make_policy, scrub_env
from thinkgate.tools.policy import PatchAction, ShellAction, split_simple_commands


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_runs_in_workspace_and_shapes_output(tmp_path: Path) -> None:
    (tmp_path / "here.txt").write_text("x")
    runner = ShellRunner(tmp_path)
    output = run(runner.run_action({"commands": ["pwd && ls", "echo oops >&2; exit 3"]}))
    assert output == [
        {
            "stdout": f"{tmp_path.resolve()}\nhere.txt\n",
            "stderr": "",
            "outcome": {"type": "exit", "exit_code": 0},
        },
        {"stdout": "", "stderr": "oops\n", "outcome": {"type": "exit", "exit_code": 3}},
    ]


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    runner = ShellRunner(tmp_path)
    started = time.monotonic()
    # the grandchild would write the marker after 2 s if the group survived the timeout
    command = "(sleep 2; echo late > marker.txt) & echo started; sleep 30"
    output = run(runner.run_action({"commands": [command], "timeout_ms": 500}))
    assert time.monotonic() - started < 5
    assert output == [{"stdout": "started\n", "stderr": "", "outcome": {"type": "timeout"}}]
    time.sleep(2.5)
    assert not (tmp_path / "marker.txt").exists()


def test_commands_after_a_timeout_still_run(tmp_path: Path) -> None:
    output = run(
        ShellRunner(tmp_path).run_action({"commands": ["sleep 5", "echo next"], "timeout_ms": 300})
    )
    assert [o["outcome"]["type"] for o in output] == ["timeout", "exit"]
    assert output[1]["stdout"] == "next\n"


def test_output_truncated_to_max_output_length_over_the_call(tmp_path: Path) -> None:
    action = {
        "commands": ["printf '%0500d' 0", "printf '%0500d' 0 >&2", "echo tail"],
        "max_output_length": 700,
    }
    output = run(ShellRunner(tmp_path).run_action(action))
    total = sum(len(o["stdout"]) + len(o["stderr"]) for o in output)
    assert total == 700
    assert len(output[0]["stdout"]) == 500
    assert len(output[1]["stderr"]) == 200
    assert output[2]["stdout"] == ""
    assert output[2]["outcome"] == {"type": "exit", "exit_code": 0}


def test_huge_output_does_not_hang(tmp_path: Path) -> None:
    action = {"commands": ["head -c 5000000 /dev/zero | tr '\\0' a"], "max_output_length": 10}
    output = run(ShellRunner(tmp_path).run_action(action))
    assert output[0]["stdout"] == "a" * 10


def test_environment_scrubbed(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/x",
        "OPENAI_BASE_URL": "u",
        "THINKGATE_ADMIN_KEY": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "GITHUB_TOKEN": "t",
        "DB_PASSWORD": "p",
        "my_api_key": "lower",
    }
    assert scrub_env(env) == {"PATH": "/usr/bin:/bin", "HOME": "/home/x"}
    output = run(ShellRunner(tmp_path, env=env).run_action({"commands": ["env"]}))
    names = {line.split("=", 1)[0] for line in output[0]["stdout"].splitlines()}
    assert "HOME" in names
    assert not names & {"OPENAI_BASE_URL", "THINKGATE_ADMIN_KEY", "GITHUB_TOKEN", "my_api_key"}


def test_real_environment_scrubbed_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "leak")
    output = run(ShellRunner(tmp_path).run_action({"commands": ["env"]}))
    assert "leak" not in output[0]["stdout"]
    assert "PATH=" in output[0]["stdout"]


def test_split_simple_commands() -> None:
    assert split_simple_commands("ls -l && cat 'a b' | wc -l; echo x\npwd") == [
        "ls -l",
        "cat a b",
        "wc -l",
        "echo x",
        "pwd",
    ]


def _decide(policy_mode: str, action: ShellAction | PatchAction, tmp_path: Path, **kw: object):  # type: ignore[no-untyped-def]
    policy = make_policy(policy_mode, Workspace(tmp_path), **kw)  # type: ignore[arg-type]
    return run(policy.decide(action))


def test_deny_policy(tmp_path: Path) -> None:
    assert not _decide("deny", ShellAction(("ls",)), tmp_path).allowed
    assert not _decide("deny", PatchAction("create_file", "a.txt", "+a"), tmp_path).allowed


def test_auto_policy(tmp_path: Path) -> None:
    assert _decide("auto", ShellAction(("rm -rf build",)), tmp_path).allowed
    assert _decide("auto", PatchAction("create_file", "a/b.txt", "+a"), tmp_path).allowed
    outside = _decide("auto", PatchAction("create_file", "../a.txt", "+a"), tmp_path)
    assert not outside.allowed
    assert "outside the workspace" in outside.reason


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("ls", True),
        ("ls -la src", True),
        ("cat notes.txt | wc -l", True),
        ("python -m pytest -q", True),
        ("ls; rm -rf ~", False),
        ("ls && curl http://evil", False),
        ("echo $(rm -rf ~)", False),
        ("cat `which rm`", False),
        ("rm -rf /", False),
        ("cat 'unterminated", False),
    ],
)
def test_allowlist_policy(tmp_path: Path, command: str, allowed: bool) -> None:
    patterns = ["ls", "ls *", "cat *", "wc *", "echo *", r"re:python -m pytest( -q)?"]
    decision = _decide("allowlist", ShellAction((command,)), tmp_path, allow=patterns)
    assert decision.allowed is allowed, decision.reason


def test_allowlist_needs_every_command_of_a_call(tmp_path: Path) -> None:
    action = ShellAction(("ls", "whoami"))
    decision = _decide("allowlist", action, tmp_path, allow=["ls"])
    assert not decision.allowed
    assert "'whoami' matches no allowed pattern" in decision.reason
    assert _decide("allowlist", PatchAction("update_file", "x.py", "@@"), tmp_path).allowed


def test_approve_policy_asks_the_callback(tmp_path: Path) -> None:
    seen: list[object] = []

    def yes(action: object) -> bool:
        seen.append(action)
        return True

    def no(action: object) -> bool:
        seen.append(action)
        return False

    shell, patch = ShellAction(("make",)), PatchAction("delete_file", "x", "")
    assert _decide("approve", shell, tmp_path, approver=yes).allowed
    refused = _decide("approve", patch, tmp_path, approver=no)
    assert not refused.allowed
    assert refused.reason == "refused by the user"
    assert seen == [shell, patch]
    # never asked about a path outside the workspace
    assert not _decide(
        "approve", PatchAction("create_file", "/etc/x", "+"), tmp_path, approver=yes
    ).allowed
    assert len(seen) == 2


def test_approve_questions_are_serialised(tmp_path: Path) -> None:
    active: list[int] = []
    overlap: list[bool] = []

    def slow_yes(action: object) -> bool:
        active.append(1)
        overlap.append(len(active) > 1)
        time.sleep(0.1)
        active.pop()
        return True

    policy = make_policy("approve", Workspace(tmp_path), approver=slow_yes)

    async def ask_three() -> list[bool]:
        decisions = await asyncio.gather(
            *(policy.decide(ShellAction((f"echo {i}",))) for i in range(3))
        )
        return [d.allowed for d in decisions]

    assert run(ask_three()) == [True, True, True]
    assert overlap == [False, False, False]


def test_unknown_policy_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("yolo", Workspace(tmp_path))


def test_background_leftovers_die_with_the_command(tmp_path: Path) -> None:
    output = run(
        ShellRunner(tmp_path).run_action({"commands": ["(sleep 1; touch late.txt) & echo bg"]})
    )
    assert output[0]["outcome"] == {"type": "exit", "exit_code": 0}
    time.sleep(1.5)
    assert not (tmp_path / "late.txt").exists()
