"""Helpers for the tests: servers, stand-in upstreams, config builders, shared checks."""
