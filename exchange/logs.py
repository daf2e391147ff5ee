"""Structured logs: one JSON object per line, with whatever context the call passed.

No secret reaches a line: an API key (`ex_...`) and the value of a secret query
parameter (`api_key=`, `ticket=`, `token=`) are replaced by `[redacted]`, both in the
lines written here and in uvicorn's own records (its `WebSocket /ws?...` line), which
`redact_uvicorn` filters whatever handler ends up writing them.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

import msgspec

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "color_message",
}  # fmt: skip
_encode = msgspec.json.Encoder(enc_hook=repr).encode
_SECRETS = re.compile(
    r"((?:api(?:_|%5f)key|ticket|token)=)[^&\s\"']*|\bex_[A-Za-z0-9_-]{8,}", re.IGNORECASE
)
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """`text` with every API key and secret query value replaced by `[redacted]`."""
    return _SECRETS.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record whose message carries a secret; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def redact_uvicorn() -> None:
    """Filter uvicorn's loggers (once), so their lines carry no key on any handler."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(_encode(line).decode())


def configure(level: str = "info") -> None:
    """Send every logger's records, as JSON lines, to standard error."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter()
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
