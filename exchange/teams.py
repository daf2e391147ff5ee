"""The team registry: teams and their API keys. Keys are random, shown once, and kept
only as hashes.

A key is looked up by its SHA-256 digest and the stored digest is compared in constant
time, so neither the stored table nor response timing gives a key away.

Names are unique by how they look, not by their code points: `name_key` folds width
and styled letters (NFKC: full-width and mathematical bold letters become plain ones),
case, runs of spaces, and the Cyrillic, Greek and Armenian letters drawn like Latin
ones (a Cyrillic or Greek capital A is an A), so no team can register a lookalike of
another's name. The name is kept as it was written.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

import msgspec

from exchange.domain.types import Role, TeamId


class Team(msgspec.Struct, frozen=True):
    team_id: TeamId
    name: str
    role: Role
    key_hash: str


class NameTaken(Exception):
    pass


_DRAWN_LIKE: dict[str, tuple[str, ...]] = {
    "a": ("CYRILLIC SMALL LETTER A", "GREEK SMALL LETTER ALPHA", "LATIN SMALL LETTER ALPHA"),
    "b": ("CYRILLIC SMALL LETTER VE", "CYRILLIC SMALL LETTER SOFT SIGN",
          "GREEK SMALL LETTER BETA"),
    "c": ("CYRILLIC SMALL LETTER ES", "GREEK LUNATE SIGMA SYMBOL"),
    "d": ("CYRILLIC SMALL LETTER KOMI DE",),
    "e": ("CYRILLIC SMALL LETTER IE", "CYRILLIC SMALL LETTER IO", "GREEK SMALL LETTER EPSILON"),
    "g": ("LATIN SMALL LETTER SCRIPT G",),
    "h": ("CYRILLIC SMALL LETTER SHHA", "CYRILLIC SMALL LETTER EN", "GREEK SMALL LETTER ETA",
          "ARMENIAN SMALL LETTER HO"),
    "i": ("CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I", "CYRILLIC SMALL LETTER YI",
          "GREEK SMALL LETTER IOTA", "LATIN SMALL LETTER DOTLESS I"),
    "j": ("CYRILLIC SMALL LETTER JE", "GREEK LETTER YOT"),
    "k": ("CYRILLIC SMALL LETTER KA", "GREEK SMALL LETTER KAPPA"),
    "l": ("CYRILLIC SMALL LETTER PALOCHKA",),
    "m": ("CYRILLIC SMALL LETTER EM", "GREEK SMALL LETTER MU"),
    "n": ("CYRILLIC SMALL LETTER PE", "ARMENIAN SMALL LETTER VO"),
    "o": ("CYRILLIC SMALL LETTER O", "GREEK SMALL LETTER OMICRON", "ARMENIAN SMALL LETTER OH"),
    "p": ("CYRILLIC SMALL LETTER ER", "GREEK SMALL LETTER RHO"),
    "q": ("CYRILLIC SMALL LETTER QA",),
    "r": ("CYRILLIC SMALL LETTER GHE",),
    "s": ("CYRILLIC SMALL LETTER DZE",),
    "t": ("CYRILLIC SMALL LETTER TE", "GREEK SMALL LETTER TAU"),
    "u": ("ARMENIAN SMALL LETTER SEH",),
    "v": ("GREEK SMALL LETTER NU",),
    "w": ("CYRILLIC SMALL LETTER WE",),
    "x": ("CYRILLIC SMALL LETTER HA", "GREEK SMALL LETTER CHI"),
    "y": ("CYRILLIC SMALL LETTER U", "CYRILLIC SMALL LETTER STRAIGHT U",
          "GREEK SMALL LETTER UPSILON"),
    "z": ("GREEK SMALL LETTER ZETA",),
}  # fmt: skip
"""Letters of other scripts drawn like a Latin one (in lower case: names are folded
first, and the capitals of these fold to them)."""
LOOKALIKES = str.maketrans(
    {unicodedata.lookup(other): latin for latin, others in _DRAWN_LIKE.items() for other in others}
)


def name_key(name: str) -> str:
    """What decides whether two team names are the same name (see the module doc)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.translate(LOOKALIKES).split())


def new_key() -> str:
    return "ex_" + secrets.token_urlsafe(32)


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
        if self.taken(name):
            raise NameTaken(name)
        key = new_key()
        team = Team(TeamId(f"T{len(self.by_id) + 1:04d}"), name.strip(), role, hash_key(key))
        self.add(team)
        return team, key

    def taken(self, name: str) -> bool:
        return name_key(name) in self._by_name

    def reissue(self, team_id: TeamId) -> tuple[Team, str]:
        """A new key for the team; the old one stops working at once."""
        old = self.by_id[team_id]
        key = new_key()
        team = msgspec.structs.replace(old, key_hash=hash_key(key))
        del self._by_hash[old.key_hash]
        self.add(team)
        return team, key

    def add(self, team: Team) -> None:
        """Add a team that already has a key hash (a restart restores them)."""
        self.by_id[team.team_id] = team
        self._by_name[name_key(team.name)] = team
        self._by_hash[team.key_hash] = team

    def authenticate(self, key: str | None) -> Team | None:
        if not key or len(key) > 200:
            return None
        digest = hash_key(key)
        team = self._by_hash.get(digest)
        if team is None or not hmac.compare_digest(team.key_hash, digest):
            return None
        return team
