"""The extension's settings: rollout time, failing images and a clock offset, per account;
roles STS refuses to let anyone assume, server-wide.

Server-wide values come from the environment at start (and again on ``POST /moto-api/reset``);
the ``/berth-moto/`` endpoints change them at run time, either server-wide (no account header)
or for one account (``x-moto-account-id``). An account's own value, once set, replaces the
server-wide one for that account; the clock offsets of both add up. The STS settings (denied
roles, required external ids) exist server-wide only: a role ARN names its account already.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from moto.core.utils import utcnow

#: Seconds a deployment takes to complete (or to trip the circuit breaker).
ROLLOUT_ENV = "BERTH_MOTO_ROLLOUT_SECONDS"
#: Comma-separated substrings of image references whose tasks never start.
FAILING_ENV = "BERTH_MOTO_FAILING_IMAGES"
DEFAULT_ROLLOUT_SECONDS = 2.0


def parse_failing_images(text: str | None) -> list[str]:
    """``"a:1, b@sha256:x,"`` -> ``["a:1", "b@sha256:x"]`` (blank entries dropped)."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def parse_seconds(text: str | None, default: float) -> float:
    """A non-negative, finite number of seconds; ``default`` when unset or blank."""
    if text is None or not text.strip():
        return default
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected a non-negative number of seconds, got {text!r}")
    return value


@dataclass
class Scope:
    """Settings of one account (``None`` = not set here, use the server-wide value)."""

    failing_images: list[str] | None = None
    rollout_seconds: float | None = None
    clock_offset: float = 0.0


@dataclass
class Effective:
    """What applies to one account."""

    failing_images: list[str]
    rollout_seconds: float
    clock_offset: float

    def now(self) -> datetime:
        """The emulator's clock for this account (naive UTC, like moto's timestamps)."""
        return utcnow() + timedelta(seconds=self.clock_offset)


@dataclass
class Config:
    """All settings; one instance, :data:`CONFIG`, serves the process."""

    server: Scope = field(default_factory=Scope)
    accounts: dict[str, Scope] = field(default_factory=dict)
    #: Role ARNs whose ``AssumeRole`` is refused (server-wide).
    denied_roles: list[str] = field(default_factory=list)
    #: Role ARN -> the ``ExternalId`` its ``AssumeRole`` must carry (server-wide).
    role_external_ids: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self, environ: dict[str, str] | None = None) -> None:
        """Back to the environment's values; forgets every account's own settings."""
        env = os.environ if environ is None else environ
        server = Scope(
            failing_images=parse_failing_images(env.get(FAILING_ENV)),
            rollout_seconds=parse_seconds(env.get(ROLLOUT_ENV), DEFAULT_ROLLOUT_SECONDS),
        )
        with self.lock:
            self.server = server
            self.accounts = {}
            self.denied_roles = []
            self.role_external_ids = {}

    def scope(self, account: str | None) -> Scope:
        with self.lock:
            if account is None:
                return self.server
            return self.accounts.setdefault(account, Scope())

    def effective(self, account: str | None) -> Effective:
        with self.lock:
            own = self.accounts.get(account) if account else None
            server = self.server
            failing = own.failing_images if own and own.failing_images is not None else None
            rollout = own.rollout_seconds if own and own.rollout_seconds is not None else None
            return Effective(
                failing_images=list(
                    failing if failing is not None else server.failing_images or []
                ),
                rollout_seconds=rollout
                if rollout is not None
                else (server.rollout_seconds or 0.0),
                clock_offset=server.clock_offset + (own.clock_offset if own else 0.0),
            )

    def set_failing_images(self, account: str | None, images: list[str] | None) -> None:
        """``None`` for an account: inherit the server-wide list again."""
        scope = self.scope(account)
        with self.lock:
            scope.failing_images = images if images is not None or account else []

    def set_rollout_seconds(self, account: str | None, seconds: float | None) -> None:
        scope = self.scope(account)
        with self.lock:
            if seconds is None and account is None:
                seconds = DEFAULT_ROLLOUT_SECONDS
            scope.rollout_seconds = seconds

    def advance_clock(self, account: str | None, seconds: float) -> None:
        scope = self.scope(account)
        with self.lock:
            scope.clock_offset += seconds

    def set_denied_roles(self, roles: list[str] | None) -> None:
        """Replaces the denied role ARNs (``None`` or ``[]``: none)."""
        with self.lock:
            self.denied_roles = list(dict.fromkeys(roles or []))

    def set_role_external_ids(self, external_ids: dict[str, str] | None) -> None:
        """Replaces the required external ids (``None`` or ``{}``: none)."""
        with self.lock:
            self.role_external_ids = dict(external_ids or {})

    def assume_role_allowed(self, role_arn: str | None, external_id: str | None) -> bool:
        """Whether STS lets anyone assume ``role_arn`` with ``external_id``: not when the role
        is denied, nor when it requires an external id and this is not exactly that one."""
        with self.lock:
            if role_arn in self.denied_roles:
                return False
            required = self.role_external_ids.get(role_arn or "")
            return required is None or external_id == required


CONFIG = Config()
CONFIG.reset()
