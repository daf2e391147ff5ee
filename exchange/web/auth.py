"""Teams and their API keys: keys are random, shown once, and kept only as hashes.

A key is looked up by its SHA-256 digest and the stored digest is compared in constant
time, so neither the stored table nor response timing gives a key away.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import msgspec

from exchange.domain.types import Role, TeamId


class Team(msgspec.Struct, frozen=True):
    team_id: TeamId
    name: str
    role: Role
    key_hash: str


class NameTaken(Exception):
    pass


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Teams:
    def __init__(self) -> None:
        self.by_id: dict[TeamId, Team] = {}
        self._by_name: dict[str, Team] = {}
        self._by_hash: dict[str, Team] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def register(self, name: str, role: Role) -> tuple[Team, str]:
        """A new team and its API key (the only time the key exists in clear)."""
        folded = name.strip().casefold()
        if folded in self._by_name:
            raise NameTaken(name)
        key = "ex_" + secrets.token_urlsafe(32)
        team = Team(TeamId(f"T{len(self.by_id) + 1:04d}"), name.strip(), role, hash_key(key))
        self.add(team)
        return team, key

    def add(self, team: Team) -> None:
        """Add a team that already has a key hash (a restart restores them)."""
        self.by_id[team.team_id] = team
        self._by_name[team.name.casefold()] = team
        self._by_hash[team.key_hash] = team

    def authenticate(self, key: str | None) -> Team | None:
        if not key or len(key) > 200:
            return None
        digest = hash_key(key)
        team = self._by_hash.get(digest)
        if team is None or not hmac.compare_digest(team.key_hash, digest):
            return None
        return team
