"""Limits an admin sets on a user, drawn on by all of the user's keys together: a budget spent
on one key refuses the others (a token the member made in the console included), one RPM
window across keys, the user's model list on every key, console tokens kept within the
user's limits, the playground charged to the user; and a key made through the admin API
names its owner. On SQLite, then PostgreSQL + Redis (`gateway_fixture`)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from click.testing import CliRunner

from tests.support.console_support import csrf_of, sign_in
from tests.support.gateway_support import Gateway, gateway_fixture  # noqa: F401
from thinkgate.cli import main

ASK: dict[str, Any] = {
    "model": "gpt-5.1",
    "input": "Count from one to one hundred: 1, 2, 3,",
    "max_output_tokens": 16,
    "temperature": 0,
}
OTHER_MODEL = "smollm2-135m-instruct"
INPUT_PRICE = Decimal("0.000001")
OUTPUT_PRICE = Decimal("0.000008")


class Member:
    """A member made by the admin with these limits, signed in to the console."""

    def __init__(self, gateway: Gateway, **limits: Any) -> None:
        self.gateway = gateway
        password = "member-pass-" + secrets.token_hex(4)
        reply = gateway.admin.post(
            "/admin/v1/users",
            json={"name": "limited", "role": "member", "password": password, **limits},
        )
        assert reply.status_code == 201, reply.text
        self.view: dict[str, Any] = reply.json()
        self.id = str(self.view["id"])
        self.http = httpx.Client(base_url=gateway.base_url, timeout=300, follow_redirects=False)
        assert sign_in(self.http, self.id, password).status_code == 303

    def key(self, **fields: Any) -> str:
        """The secret of a key the admin made for this member."""
        return self.gateway.key(user_id=self.id, **fields)[1]

    def add_token(self, **fields: str) -> httpx.Response:
        csrf = csrf_of(self.http.get("/console/keys").text)
        return self.http.post("/console/keys", data={"csrf_token": csrf, "name": "mine", **fields})

    def token(self, **fields: str) -> str:
        """The secret of a token the member made in the console."""
        reply = self.add_token(**fields)
        assert reply.status_code == 201, reply.text
        found = re.search(r'id="new-key-secret">(sk-tg-[^<]+)<', reply.text)
        assert found is not None
        return found.group(1)

    def playground(self, text: str) -> httpx.Response:
        csrf = csrf_of(self.http.get("/console/keys").text)
        return self.http.post(
            "/console/playground/responses",
            json={"model": "gpt-5.1", "input": text, "max_output_tokens": 16},
            headers={"x-csrf-token": csrf},
        )

    def shown(self) -> dict[str, Any]:
        reply = self.gateway.admin.get(f"/admin/v1/users/{self.id}")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())


@pytest.fixture(name="member_of")
def member_factory(gateway: Gateway) -> Iterator[Callable[..., Member]]:
    made: list[Member] = []

    def make(**limits: Any) -> Member:
        made.append(Member(gateway, **limits))
        return made[-1]

    yield make
    for member in made:
        member.http.close()


def _quota_refused(gateway: Gateway, secret: str) -> openai.RateLimitError:
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.sdk(secret).responses.create(**ASK)
    error = caught.value
    assert error.status_code == 429
    assert (error.code, error.type) == ("insufficient_quota", "insufficient_quota")
    assert set(json.loads(error.response.text)["error"]) == {"message", "type", "param", "code"}
    return error


def test_a_users_budget_is_shared_by_all_of_their_keys(
    gateway: Gateway, member_of: Callable[..., Member]
) -> None:
    calibration = gateway.sdk(gateway.key()[1]).responses.create(**ASK)
    assert calibration.usage is not None
    worst = calibration.usage.input_tokens * INPUT_PRICE + 16 * OUTPUT_PRICE
    budget = worst * 2 - Decimal("0.000001")  # one request's worst case fits, not two
    member = member_of(budget_usd=str(budget))
    assert member.view["budget_usd"] == f"{budget:f}"
    first = member.key()  # the admin's key, with no budget of its own
    client = gateway.sdk(first)
    assert client.responses.create(**ASK).status in {"completed", "incomplete"}
    for _ in range(3):  # spend on the first key until the user's budget refuses it
        try:
            client.responses.create(**ASK)
        except openai.RateLimitError as error:
            assert error.code == "insufficient_quota"
            break
    else:
        pytest.fail("the user's budget never ran out")
    error = _quota_refused(gateway, member.key())  # a second key of the same user
    assert "user" in error.message
    _quota_refused(gateway, member.token())  # a token the member adds in the console
    spent = Decimal(member.shown()["spend_usd"])
    assert 0 < spent <= budget


def test_a_budget_removed_and_set_again_counts_the_spend_in_between(
    gateway: Gateway, member_of: Callable[..., Member]
) -> None:
    calibration = gateway.sdk(gateway.key()[1]).responses.create(**ASK)
    assert calibration.usage is not None
    worst = calibration.usage.input_tokens * INPUT_PRICE + 16 * OUTPUT_PRICE
    budget = str((worst * 5 / 2).quantize(Decimal("0.000001")))  # two requests, not three
    member = member_of(budget_usd=budget)
    client = gateway.sdk(member.key())
    client.responses.create(**ASK)
    lifted = gateway.admin.patch(f"/admin/v1/users/{member.id}", json={"budget_usd": None})
    assert lifted.status_code == 200 and lifted.json()["budget_usd"] is None, lifted.text
    for _ in range(2):  # spent while the user had no budget
        client.responses.create(**ASK)
    again = gateway.admin.patch(f"/admin/v1/users/{member.id}", json={"budget_usd": budget})
    assert again.status_code == 200 and again.json()["budget_usd"] == budget, again.text
    _quota_refused(gateway, member.key())  # three spent: the budget holds no fourth


def test_a_users_rpm_counts_requests_on_every_key(
    gateway: Gateway, member_of: Callable[..., Member]
) -> None:
    member = member_of(rpm=2)
    one, two = gateway.sdk(member.key()), gateway.sdk(member.key(rpm=100))
    calls: list[Callable[[], Any]] = [
        lambda: one.responses.with_raw_response.create(**ASK),
        lambda: two.responses.with_raw_response.create(**ASK),
        lambda: two.responses.with_raw_response.create(**ASK),
    ]

    def run(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except openai.RateLimitError as error:
            return error

    with ThreadPoolExecutor(max_workers=3) as pool:  # admitted at once: one minute
        outcomes = list(pool.map(run, calls))
    refused = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
    assert len(refused) == 1, outcomes
    assert refused[0].code == "rate_limit_exceeded"
    headers = refused[0].response.headers
    assert headers["x-ratelimit-limit-requests"] == "2"  # the user's limit, the stricter
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert int(headers["retry-after"]) >= 1


def test_a_users_model_list_binds_every_key(
    gateway: Gateway, member_of: Callable[..., Member]
) -> None:
    member = member_of()
    earlier = member.key()  # made before the admin limits the user
    patched = gateway.admin.patch(f"/admin/v1/users/{member.id}", json={"models": ["gpt-5.1"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["models"] == ["gpt-5.1"] and patched.json()["rpm"] is None
    for secret in (earlier, member.key(), member.token()):
        with pytest.raises(openai.NotFoundError) as caught:
            gateway.sdk(secret).responses.create(**{**ASK, "model": OTHER_MODEL})
        assert caught.value.code == "model_not_found"
    assert gateway.sdk(earlier).responses.create(**ASK).status in {"completed", "incomplete"}
    outside = gateway.admin.post(
        "/admin/v1/keys", json={"name": "x", "user_id": member.id, "models": [OTHER_MODEL]}
    )
    assert outside.status_code == 400, outside.text
    assert outside.json()["error"]["param"] == "models"
    assert outside.json()["error"]["code"] == "invalid_value"
    lifted = gateway.admin.patch(f"/admin/v1/users/{member.id}", json={"models": None})
    assert lifted.status_code == 200 and lifted.json()["models"] is None
    assert gateway.sdk(earlier).responses.create(**{**ASK, "model": OTHER_MODEL}).usage


def test_console_tokens_cannot_exceed_the_users_limits(
    gateway: Gateway, member_of: Callable[..., Member]
) -> None:
    member = member_of(
        budget_usd="1", budget_monthly_usd="0.5", rpm=10, tpm=5000, models=["gpt-5.1"]
    )
    page = member.http.get("/console/keys").text
    assert "$1 in all; $0.5 a month; 10 requests a minute" in page
    beyond = [
        ({"budget_usd": "5"}, "Budget $5 is above your limit of $1."),
        ({"budget_monthly_usd": "0.75"}, "Monthly budget $0.75 is above your limit of $0.5."),
        ({"rpm": "11"}, "Requests per minute 11 is above your limit of 10."),
        ({"tpm": "9000"}, "Tokens per minute 9000 is above your limit of 5000."),
        ({"models": OTHER_MODEL}, f"Not among your allowed models (gpt-5.1): {OTHER_MODEL}."),
    ]
    before = member.http.get("/console/keys").text.count("data-key-id")
    for fields, message in beyond:
        reply = member.add_token(**fields)
        assert reply.status_code == 400, (fields, reply.text)
        assert message in reply.text
    assert member.http.get("/console/keys").text.count("data-key-id") == before
    within = member.token(budget_usd="0.25", rpm="10", models="gpt-5.1")
    assert gateway.sdk(within).responses.create(**ASK).status in {"completed", "incomplete"}


def test_the_playground_is_charged_to_the_user(
    gateway: Gateway, member_of: Callable[..., Member]
) -> None:
    member = member_of(rpm=1)
    played = member.playground("Say hi.")
    assert played.status_code == 200, played.text
    assert "response.completed" in played.text or "response.incomplete" in played.text
    with pytest.raises(openai.RateLimitError) as caught:  # the user's one request is used
        gateway.sdk(member.key()).responses.create(**ASK)
    assert caught.value.code == "rate_limit_exceeded"
    assert Decimal(member.shown()["spend_usd"]) > 0  # billed to the user
    again = member.playground("Say hi again.")
    assert again.status_code == 429, again.text
    assert again.json()["error"]["code"] == "rate_limit_exceeded"


def test_admin_api_keys_name_their_owner(gateway: Gateway) -> None:
    member = gateway.user()
    for body in ({"name": "x"}, {"name": "x", "role": "member"}):
        reply = gateway.admin.post("/admin/v1/keys", json=body)
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert (error["type"], error["param"]) == ("invalid_request_error", "user_id")
        assert error["code"] == "missing_required_parameter"
    wrong_role = gateway.admin.post(
        "/admin/v1/keys", json={"name": "x", "user_id": member, "role": "admin"}
    )
    assert wrong_role.status_code == 400, wrong_role.text
    assert (wrong_role.json()["error"]["param"], wrong_role.json()["error"]["code"]) == (
        "role",
        "invalid_value",
    )
    own = gateway.admin.post("/admin/v1/keys", json={"name": "x", "role": "admin"})
    assert own.status_code == 201 and own.json()["role"] == "admin", own.text
    members = gateway.admin.post(
        "/admin/v1/keys", json={"name": "x", "user_id": member, "role": "member"}
    )
    assert members.status_code == 201 and members.json()["role"] == "member", members.text


def _cli(*args: str, data_dir: Path, code: int = 0) -> Any:
    result = CliRunner().invoke(main, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == code, result.output
    return json.loads(result.output) if code == 0 else result.output


def test_cli_sets_and_shows_user_limits(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    user = _cli("users", "create", "erin", "--budget-usd", "2", "--rpm", "30", data_dir=data_dir)
    assert (user["budget_usd"], user["rpm"], user["tpm"]) == ("2", 30, None)
    changed = _cli(
        "users",
        "set-limits",
        user["id"],
        "--model",
        "gpt-5.1",
        "--monthly-budget-usd",
        "0.5",
        "--clear",
        "rpm",
        data_dir=data_dir,
    )
    assert changed["models"] == ["gpt-5.1"] and changed["budget_monthly_usd"] == "0.5"
    assert changed["budget_usd"] == "2" and changed["rpm"] is None
    shown = _cli("users", "show", user["id"], data_dir=data_dir)
    assert shown["spend_usd"] == "0" and shown["budget_monthly_usd"] == "0.5"
    refused = _cli(
        "keys",
        "create",
        "k",
        "--user",
        user["id"],
        "--model",
        OTHER_MODEL,
        data_dir=data_dir,
        code=1,
    )
    assert "may not use" in refused
    _cli("users", "set-limits", user["id"], "--budget-usd", "-1", data_dir=data_dir, code=2)
    _cli("users", "set-limits", user["id"], data_dir=data_dir, code=2)
