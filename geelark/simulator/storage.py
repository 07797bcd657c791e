"""GeeLark's temporary storage as the simulator keeps it: ``/upload/getUrl`` hands out a PUT
target that takes bytes for 30 minutes and a resource URL that works for three days (both in
simulated seconds, counted from the getUrl call)."""

from __future__ import annotations


class Storage:
    """Resources by token (the last path segment of both URLs)."""

    def __init__(self, url_ttl_s: float, resource_ttl_s: float) -> None:
        self.url_ttl_s = url_ttl_s
        self.resource_ttl_s = resource_ttl_s
        self.sizes: dict[str, int] = {}  # token -> bytes received (-1: no PUT yet)
        self.made: dict[str, float] = {}  # token -> when getUrl made it

    def new(self, token: str, now: float) -> None:
        self.sizes[token] = -1
        self.made[token] = now

    def put(self, token: str, size: int, now: float) -> bool:
        """Store a PUT; False for an unknown or expired upload URL (answered 403)."""
        made = self.made.get(token)
        if made is None or now - made > self.url_ttl_s:
            return False
        self.sizes[token] = size
        return True

    def usable(self, url_or_token: str, at: float) -> bool:
        """The resource's bytes were PUT and it is not older than three days at ``at``."""
        token = url_or_token.rsplit("/", 1)[-1]
        made = self.made.get(token)
        return self.sizes.get(token, -1) >= 0 and made is not None and at - made <= self.resource_ttl_s
