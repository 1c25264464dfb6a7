"""Approvals bound to what they approve: an `mcp_approval_request` id carries a MAC of the
caller, the server (label and URL), the tool and the exact arguments, under a server key.

    mcpr_<nonce 16 hex><mac 32 hex>

An `mcp_approval_response` is honoured only when the request it answers is in the
response chain (`previous_response_id`, a conversation, or replayed in the input), its MAC
still matches (nothing in it was altered), it was not answered before in the chain, and
this process has not honoured it already (a replay of the same approval). Anything else is
a 400 naming the approval.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkgate.errors import InvalidRequestError

KEY_FILE = "mcp-approval.key"
_PREFIX = "mcpr_"
_REMEMBERED = 10_000  # approvals honoured, kept to refuse their replay


@dataclass(slots=True, frozen=True)
class Approval:
    """An approval response that passed: the request it answers, and the answer."""

    request: dict[str, Any]
    approve: bool
    reason: str | None


class Approvals:
    def __init__(self, key: bytes) -> None:
        self._key = key
        self._honoured: OrderedDict[str, None] = OrderedDict()

    @classmethod
    def from_settings(cls, secret: str | None, data_dir: Path) -> Approvals:
        """Replicas share `reasoning_key` (the MAC key is derived from it); one server alone
        keeps its own key file in the data dir."""
        if secret:
            return cls(hashlib.sha256(b"thinkgate-mcp-approval\0" + secret.encode()).digest())
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def new_id(self, owner: str | None, url: str, label: str, name: str, arguments: str) -> str:
        nonce = secrets.token_hex(8)
        return _PREFIX + nonce + self._mac(nonce, owner, url, label, name, arguments)

    def _mac(
        self, nonce: str, owner: str | None, url: str, label: str, name: str, arguments: str
    ) -> str:
        message = "\0".join((nonce, owner or "", url, label, name, arguments)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def answered(
        self,
        items: Sequence[dict[str, Any]],
        this_turn: Sequence[dict[str, Any]],
        owner: str | None,
        urls: dict[str, str],
    ) -> list[Approval]:
        """The approval responses of this turn's input, each checked; `items`: the whole
        chain (history and this turn), `urls`: each declared server's URL by label."""
        ran_now = {  # a stateless client replays whole turns: an answer already acted on
            str(item["approval_request_id"])
            for item in this_turn
            if item.get("type") == "mcp_call" and item.get("approval_request_id")
        }
        answers = [
            item
            for item in this_turn
            if item.get("type") == "mcp_approval_response"
            and str(item["approval_request_id"]) not in ran_now
        ]
        if not answers:
            return []
        requests = {
            str(item.get("id")): item
            for item in items
            if item.get("type") == "mcp_approval_request"
        }
        earlier = _answered_before(items, this_turn)
        seen: set[str] = set()
        approvals = []
        for answer in answers:
            wanted = str(answer["approval_request_id"])
            request = requests.get(wanted)
            if request is None:
                raise _refused(f"No MCP approval request found with id '{wanted}'.")
            label = str(request["server_label"])
            if label not in urls:
                raise _refused(
                    f"The MCP approval request '{wanted}' is for server '{label}', which is "
                    "not declared in 'tools': declare it again to run the approved call."
                )
            nonce, mac = wanted[len(_PREFIX) : len(_PREFIX) + 16], wanted[len(_PREFIX) + 16 :]
            expected = self._mac(
                nonce, owner, urls[label], label, str(request["name"]), str(request["arguments"])
            )
            if not wanted.startswith(_PREFIX) or not hmac.compare_digest(mac, expected):
                raise _refused(
                    f"The MCP approval request '{wanted}' does not match the call it was made "
                    "for (its server, tool or arguments were changed, or it belongs to "
                    "another caller)."
                )
            if wanted in earlier or wanted in seen or wanted in self._honoured:
                raise _refused(f"The MCP approval request '{wanted}' was already answered.")
            seen.add(wanted)
            approvals.append(Approval(request, bool(answer["approve"]), answer.get("reason")))
        return approvals

    def honour(self, approval: Approval) -> None:
        """An approved call is being run: the same approval is never run again here."""
        self._honoured[str(approval.request["id"])] = None
        while len(self._honoured) > _REMEMBERED:
            self._honoured.popitem(last=False)


def _answered_before(
    items: Sequence[dict[str, Any]], this_turn: Sequence[dict[str, Any]]
) -> set[str]:
    """Approval request ids the chain answered before this turn (an `mcp_call` that ran with
    one, or an earlier `mcp_approval_response`)."""
    current = {id(item) for item in this_turn}
    done: set[str] = set()
    for item in items:
        if id(item) in current:
            continue
        ran = item.get("type") == "mcp_call" and item.get("approval_request_id")
        if ran or item.get("type") == "mcp_approval_response":
            done.add(str(item["approval_request_id"]))
    return done


def _refused(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, param="input", code="invalid_mcp_approval")
