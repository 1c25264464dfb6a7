"""The SSRF guard: which hosts a URL may point at, decided on resolved addresses.

A host name is resolved and every address it resolves to must be public, so that
`localhost`, `127.1`, `0x7f000001`, `[::ffff:127.0.0.1]` or a name whose DNS answer is
private are refused alike. IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64,
Teredo) are judged by that address. Configuration may allow private targets wholesale
or by network (`[security] allow_private_urls`, `allowed_networks`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import anyio

from thinkgate.errors import InvalidRequestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SCHEMES = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_config(cls, allow_private: bool, networks: list[str]) -> UrlPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def allows(self, address: IPAddress) -> bool:
        if self.allow_private or not is_forbidden_address(address):
            return True
        return any(address in network for network in self.allowed_networks)


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A URL that passed, and the addresses it was judged on (connect to these only, so a
    second DNS answer cannot differ from the one checked)."""

    url: SplitResult
    host: str
    port: int
    addresses: tuple[str, ...]


def is_forbidden_address(address: IPAddress) -> bool:
    """Anything but a global unicast address: loopback, private, link-local, shared
    (100.64/10), multicast, reserved, unspecified, and their IPv6-embedded forms."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_forbidden_address(embedded)
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def check_url(url: str, policy: UrlPolicy, *, param: str | None) -> CheckedUrl:
    """Parse, resolve and judge `url`; a refusal is a 400 naming `param`."""
    parts = _parse(url, param)
    host = parts.hostname or ""
    port = parts.port or _SCHEMES[parts.scheme]
    addresses = await _resolve(host, port, param)
    for text in addresses:
        if not policy.allows(ipaddress.ip_address(text)):
            raise _refused(
                f"Invalid URL in '{param}': its host resolves to a private, loopback or "
                "otherwise non-public address, which this server does not fetch or forward.",
                param,
            )
    return CheckedUrl(parts, host, port, addresses)


def _parse(url: str, param: str | None) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise _refused(f"Invalid URL in '{param}'.", param) from None
    if parts.scheme not in _SCHEMES:
        raise _refused(
            f"Invalid URL in '{param}': only http and https URLs (or data: URLs) are accepted.",
            param,
        )
    if not parts.hostname:
        raise _refused(f"Invalid URL in '{param}': it names no host.", param)
    return parts


async def _resolve(host: str, port: int, param: str | None) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        infos = []
    addresses = tuple(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    if not addresses:
        raise _refused(f"Invalid URL in '{param}': its host could not be resolved.", param)
    return addresses


def _refused(message: str, param: str | None) -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code="invalid_url")
