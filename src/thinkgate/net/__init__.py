"""Network plumbing: the guard every URL the server fetches or forwards goes through (no
loopback, private, link-local, multicast or reserved targets unless allowed), and the
polling of short waits for a peer's reply (`short_waits`)."""

from thinkgate.net.fetch import FetchLimits, fetch
from thinkgate.net.guard import UrlPolicy, check_url, is_forbidden_address

__all__ = ["FetchLimits", "UrlPolicy", "check_url", "fetch", "is_forbidden_address"]
