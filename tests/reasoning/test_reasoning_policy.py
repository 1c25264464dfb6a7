"""The probe-agreement policy (docs/reasoning.md): its decisions on recorded probe
sequences, calibration that never reads the held-out part, and an early-closed thought
that still ends in a well-formed answer, on a native `<think>` model and on an upstream
that streams its reasoning (the stand-in that thinks).

The decision and calibration tests need no model. One server serves the two early-close
tests: SmolLM2 declared native, and a channel to the stand-in with probing on.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from openai import OpenAI

from tests.support.config import channel, server_config
from tests.support.server import ADMIN_KEY, ServerProcess, make_client
from tests.support.upstreams import UpstreamProcess
from thinkgate.backends.local import LocalBackend
from thinkgate.config import LocalModelConfig
from thinkgate.evals.calibrate import (
    Trace,
    TracedProbe,
    adaptive_outcome,
    check_calibration_only,
    choose,
    fixed_outcome,
)
from thinkgate.evals.cli import eval_command
from thinkgate.evals.suites import SUITE_SIZE, SUITES, load_suite
from thinkgate.evals.tracing import trace_items
from thinkgate.reasoning.policy import NEVER, AdaptivePolicy, Probe

pytestmark = pytest.mark.timeout(600)

POLICY = AdaptivePolicy(skip_confidence=0.9, stop_confidence=0.5, agree=2)

# Probe sequences recorded from SmolLM2-135M (docs/reasoning-data/traces_*.jsonl).
DRIFTING = [  # "If today is Wednesday, what day will it be in 2 days?": never sure
    Probe("Tuesday", 0.13, 3, 0),
    Probe("2 days.", 0.60, 4, 32),
    Probe("2 days.", 0.41, 4, 64),
]
SETTLED = [  # the apples question, native: the same answer twice, sure enough
    Probe("23 apples * 2", 0.52, 6, 0),
    Probe("23 apples * 2", 0.56, 6, 32),
]
CHANGING = [  # "Ben has 11 apples…": three answers in three probes
    Probe("Ben has 11 +", 0.63, 6, 0),
    Probe("15 apples", 0.56, 4, 32),
    Probe("30", 0.69, 2, 64),
]


# --- decisions on recorded probes -------------------------------------------------------


def test_probe_zero_must_earn_the_skip() -> None:
    assert POLICY.decide([Probe("35.", 0.95, 3, 0)]) == "skip"
    assert POLICY.decide([Probe("35.", 0.71, 3, 0)]) == "continue"  # recorded: 7 * 5
    assert POLICY.decide([Probe("", 0.99, 1, 0)]) == "continue"  # no answer, no skip
    assert POLICY.decide([Probe("Paris", None, 2, 0)]) == "continue"  # no logprobs
    assert AdaptivePolicy(skip_confidence=NEVER).decide([Probe("7", 1.0, 2, 0)]) == "continue"
    assert POLICY.budget(128, "", Probe("7", 0.95, 2, 0)) == 0
    assert POLICY.budget(128, "", Probe("7", 0.5, 2, 0)) == 128


def test_agreeing_sure_probes_stop_and_others_continue() -> None:
    assert POLICY.decide(SETTLED) == "stop"  # probe 0 counts towards agreement
    assert POLICY.decide(DRIFTING[:2]) == "continue"  # they disagree
    assert POLICY.decide(DRIFTING) == "continue"  # they agree, one is unsure (0.41)
    assert POLICY.decide(CHANGING) == "continue"
    assert AdaptivePolicy(stop_confidence=0.4).decide(DRIFTING) == "stop"
    assert AdaptivePolicy(stop_confidence=0.5, agree=3).decide(SETTLED) == "continue"
    assert POLICY.decide([Probe("12.", 0.9, 3, 0), Probe("Answer: 12", 0.9, 4, 32)]) == "stop"
    upstream = [Probe("Hello.", None, 3, 0), Probe("Hello.", None, 3, 32)]
    assert POLICY.decide(upstream) == "stop"  # no logprobs: agreement alone


def _trace(probes: list[TracedProbe], thought: int, final_correct: bool) -> Trace:
    return Trace(
        "t-1", "medium", "calibration", 256, thought, thought < 256, "x", final_correct, probes
    )


def test_replay_follows_the_rule_on_a_recorded_trace() -> None:
    probes = [
        TracedProbe("13", 0.45, 3, 0, False),
        TracedProbe("25", 0.62, 3, 32, True),
        TracedProbe("25", 0.70, 3, 64, True),
        TracedProbe("25", 0.71, 3, 96, True),
    ]
    trace = _trace(probes, 256, False)  # rambles to the cap and ends wrong
    assert fixed_outcome(trace, 256).reasoning_tokens == 256
    assert not fixed_outcome(trace, 256).correct  # the whole thought, the final answer
    assert fixed_outcome(trace, 64).correct  # cut at 64: the probe taken there
    stopped = adaptive_outcome(trace, POLICY, 256)  # stops at the probe at 64
    assert stopped.correct and stopped.reasoning_tokens == 3 + 32 + 3 + 32 + 3
    never = AdaptivePolicy(skip_confidence=NEVER, stop_confidence=NEVER)
    assert adaptive_outcome(trace, never, 256).reasoning_tokens == 256  # thinks to the cap
    skip = adaptive_outcome(trace, AdaptivePolicy(skip_confidence=0.4), 256)
    assert (skip.correct, skip.reasoning_tokens) == (False, 3)
    short = _trace(probes[:1], 20, True)  # the model ended its thought at 20 tokens
    assert adaptive_outcome(short, POLICY, 256).reasoning_tokens == 3 + 20


# --- suites and calibration -------------------------------------------------------------


def test_suites_are_seeded_split_and_graded_alike() -> None:
    for suite in SUITES:
        calibration, test = load_suite(suite, "calibration"), load_suite(suite, "test")
        assert len(calibration) + len(test) == SUITE_SIZE >= 200
        assert {i.id for i in calibration}.isdisjoint(i.id for i in test)
        assert load_suite(suite, "calibration") == calibration  # the seed is fixed
        assert all(i.answer and " " not in i.answer for i in calibration + test)


def test_calibration_never_reads_the_test_part(tmp_path: Path) -> None:
    held_out = load_suite("easy", "test")[:1]
    with pytest.raises(ValueError, match="held-out"):
        check_calibration_only(load_suite("easy", "calibration")[:3] + held_out)
    backend = LocalBackend(LocalModelConfig(name="never-loaded"))
    with pytest.raises(ValueError, match="held-out"):  # refused before the model is touched
        asyncio.run(trace_items(backend, held_out, 64, AdaptivePolicy()))
    assert not backend.loaded

    probes = [TracedProbe("7", 0.97, 2, 0, True)]
    good = Trace("easy-001", "easy", "calibration", 256, 9, True, "7", True, probes)
    leaked = Trace("easy-109", "easy", "test", 256, 9, True, "7", True, probes)
    traces = tmp_path / "traces.jsonl"
    config = tmp_path / "thinkgate.toml"
    config.write_text('# kept\n[[local_models]]\nname = "smollm2-135m-instruct"\nthreads = 1\n')
    traces.write_text(json.dumps(good.to_json()) + "\n" + json.dumps(leaked.to_json()) + "\n")
    args = ["--calibrate", str(config), "--traces", str(traces)]
    refused = CliRunner().invoke(eval_command, args)
    assert refused.exit_code != 0 and "held-out" in refused.output
    assert "adaptive_thresholds" not in config.read_text()

    traces.write_text(json.dumps(good.to_json()) + "\n")
    done = CliRunner().invoke(eval_command, args)
    assert done.exit_code == 0, done.output
    written = tomllib.loads(config.read_text())
    (entry,) = written["local_models"]
    assert entry["threads"] == 1 and config.read_text().startswith("# kept")
    assert entry["adaptive_thresholds"]["skip_confidence"] <= 0.97  # the sure item skips
    LocalModelConfig.model_validate(entry)


def test_choice_keeps_calibration_accuracy() -> None:
    sure = [TracedProbe("7", 0.97, 2, 0, True)]
    unsure = [TracedProbe("5", 0.6, 2, 0, False), TracedProbe("8", 0.6, 2, 32, True)]
    traces = [
        Trace("e-1", "easy", "calibration", 256, 12, True, "7", True, sure),
        Trace("e-2", "easy", "calibration", 256, 40, True, "8", True, unsure),
    ]
    choice = choose(traces, [128], base=AdaptivePolicy())
    adaptive, fixed = choice.scores["easy", 128]
    assert adaptive.accuracy >= fixed.accuracy == 1.0
    assert adaptive.reasoning_tokens < fixed.reasoning_tokens  # the sure one skipped
    assert 0.6 < choice.policy.skip_confidence <= 0.97


# --- early close on a native model and on a thinking upstream ---------------------------

NATIVE = "smollm2-native-adaptive"
QUESTION = (
    "A shop has 23 apples. It sells 8 in the morning and twice as many in the afternoon. "
    "How many apples are left?"
)


def _config(url: str, native: str) -> str:
    return server_config(
        channel(
            "thinker",
            url,
            {"deep-adaptive": "think:adaptive"},
            reasoning_budgets={"high": 120},
            adaptive_reasoning=True,
        ),
        local_models=[
            {
                "name": native,
                "thinking": "native",
                "threads": 1,
                "reasoning_budgets": {"high": 64},
                "adaptive_thresholds": {
                    "skip_confidence": 1.01,
                    "stop_confidence": 0.0,
                    "agree": 2,
                },
            }
        ],
    )


@pytest.fixture(scope="module")
def pserver(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("policy")
    config = root / "thinkgate.toml"
    config.write_text(_config(standin.base_url, NATIVE))
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def pclient(pserver: ServerProcess) -> OpenAI:
    return make_client(pserver.base_url).with_options(timeout=600)  # a loaded, shared CPU


def _reasoning_text(response: Any) -> str:
    (item,) = [item for item in response.output if item.type == "reasoning"]
    return "".join(part.text for part in item.content or [])


def test_native_thought_closed_early_still_answers(pclient: OpenAI) -> None:
    """Probe 0 and the probe after 32 thinking tokens agree: the server closes the
    thought there (reasoning 32 + two probes < 64) and the answer follows the close."""
    response = pclient.responses.create(
        model=NATIVE, input=QUESTION, reasoning={"effort": "high"}, max_output_tokens=64 + 24
    )
    assert response.status == "completed" and response.usage is not None
    reasoning = response.usage.output_tokens_details.reasoning_tokens
    assert 32 < reasoning < 64, reasoning  # 32 thinking + the probes, under the budget
    assert [item.type for item in response.output] == ["reasoning", "message"]
    thought = _reasoning_text(response)
    assert thought.strip() and "<think>" not in thought and "</think>" not in thought
    answer = response.output_text
    assert answer.strip() and "<think>" not in answer and "</think>" not in answer
    assert response.usage.output_tokens > reasoning


def test_upstream_thought_closed_early_when_probes_agree(
    pclient: OpenAI, standin: UpstreamProcess
) -> None:
    """The stand-in answers every probe the same (no logprobs: agreement alone decides):
    the thought is cut after 32 chunks, far under the 120-chunk budget."""
    before = httpx.get(f"{standin.base_url}/stats").json()["closed_early"].get("think:adaptive", 0)
    response = pclient.responses.create(
        model="deep-adaptive", input="What is 6 times 7?", reasoning={"effort": "high"}
    )
    assert response.status == "completed" and response.usage is not None
    assert response.output_text == "Hello from the stand-in."
    thought = _reasoning_text(response)
    assert thought == "".join(f" step{step}" for step in range(32))
    reasoning = response.usage.output_tokens_details.reasoning_tokens
    assert 32 < reasoning < 120  # the thought and the two probes
    stats = httpx.get(f"{standin.base_url}/stats").json()
    assert stats["closed_early"]["think:adaptive"] == before + 1  # the stream was cancelled
    probe, answer = stats["recent_bodies"]
    assert probe["continue_final_message"] is True and "reasoning_effort" not in probe
    assert answer["messages"][-1]["content"].endswith("</think>\n\n")


def test_the_picture_degrades_clearly_without_matplotlib(tmp_path: Path) -> None:
    """Drawn with matplotlib; without it, `PlotUnavailable` says what to install."""
    from thinkgate.evals.plot import Line, Point, draw

    line = Line("adaptive · easy", [Point("low", [True, False], [3, 20])])
    assert [p.suffix for p in draw([line], tmp_path / "pic", title="t")] == [".png", ".svg"]
    assert (tmp_path / "pic.svg").read_text().lstrip().startswith("<?xml")
    blocked = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from thinkgate.evals.plot import PlotUnavailable, draw\n"
        "try:\n    draw([], __import__('pathlib').Path('x'), title='t')\n"
        "except PlotUnavailable as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert "pip install 'thinkgate[plot]'" in out.stdout, out.stderr


def test_eval_draws_the_picture_next_to_the_table(pserver: ServerProcess, tmp_path: Path) -> None:
    stem, out = tmp_path / "picture", tmp_path / "out.json"
    args = ["--base-url", f"{pserver.base_url}/v1", "--api-key", ADMIN_KEY, "--model", NATIVE]
    args += ["--suite", "easy", "--limit", "1", "--efforts", "high", "--plot", str(stem)]
    result = CliRunner().invoke(eval_command, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "picture:" in result.output
    assert stem.with_suffix(".png").stat().st_size > 0 and stem.with_suffix(".svg").exists()
    (row,) = json.loads(out.read_text())[f"{NATIVE} · easy"]
    assert row["effort"] == "high" and row["items"][0]["id"] == "easy-109"  # the test part
