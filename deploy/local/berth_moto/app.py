"""moto's WSGI application plus the ``/berth-moto/`` control endpoints.

Every endpoint works on the account named by the ``x-moto-account-id`` header, or server-wide
when there is none (an account's own setting wins over the server-wide one), except the two STS
ones, which are always server-wide (they ignore the header):

``GET /berth-moto/config``
    ``{"account", "failingImages", "rolloutSeconds", "clockOffsetSeconds", "deniedRoles",
    "roleExternalIds", "motoVersion"}`` as they apply to that account (or server-wide).
``POST /berth-moto/failing-images``
    Body: a JSON list of substrings (``["bad:broken", "@sha256:dead"]``), or ``null`` to make an
    account use the server-wide list again. Applies to deployments started afterwards.
``POST /berth-moto/rollout-seconds``
    Body: a JSON number >= 0 (or ``null``, as above). Applies to deployments started afterwards.
``POST /berth-moto/advance-clock``
    Body: a JSON number of seconds >= 0 to move the emulator's clock forward (for one account, or
    for all): rollouts due by then complete on the next look, without waiting.
``POST /berth-moto/denied-roles``
    Body: a JSON list of role ARNs (``["arn:aws:iam::200000000001:role/deploy"]``), replacing the
    list; ``null`` or ``[]`` clears it. Server-wide. STS ``AssumeRole`` of a listed role then
    fails as AWS fails it when the role's trust policy refuses the caller: HTTP 403,
    ``AccessDenied``, ``User: <caller ARN> is not authorized to perform: sts:AssumeRole on
    resource: <role ARN>`` (moto lets anyone assume any role).
``POST /berth-moto/role-external-ids``
    Body: a JSON object ``{"<role ARN>": "<external id>"}``, replacing the previous one; ``null``
    or ``{}`` clears it (a ``null`` value: no requirement for that role). Server-wide.
    ``AssumeRole`` of such a role without exactly that ``ExternalId`` fails the same way.

Each answers with the resulting ``config`` document; bad input gets a 400 with ``{"message"}``.
``POST /moto-api/reset`` also resets these settings to the environment's values (and clears the
denied roles and external ids).

Routing is moto's, remembered: moto's dispatcher finds a request's backend by listing its own
package directory (a ``stat`` for each of its 180-odd entries) and trying every service's URL
pattern, on every request: about 1.5 ms of CPU, a quarter to a third of a small call. Both are
fixed for the life of the process, so :class:`BerthDispatcher` keeps moto's answer per host.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Iterable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from . import MOTO_VERSION
from .config import CONFIG

PREFIX = "/berth-moto/"
ACCOUNT_ENVIRON_KEY = "HTTP_X_MOTO_ACCOUNT_ID"
#: Hosts whose backend :class:`BerthDispatcher` remembers (the region is part of the host, and
#: comes from the client; past this many the memory starts over).
MAX_REMEMBERED_HOSTS = 1024


class BadRequest(Exception):
    pass


def _config_document(account: str | None) -> dict[str, Any]:
    effective = CONFIG.effective(account)
    return {
        "account": account,
        "failingImages": effective.failing_images,
        "rolloutSeconds": effective.rollout_seconds,
        "clockOffsetSeconds": effective.clock_offset,
        "deniedRoles": list(CONFIG.denied_roles),
        "roleExternalIds": dict(CONFIG.role_external_ids),
        "motoVersion": MOTO_VERSION,
    }


def _seconds(value: Any, *, nullable: bool) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest("expected a JSON number of seconds")
    if not math.isfinite(value) or value < 0:
        raise BadRequest("seconds must be a finite number >= 0")
    return float(value)


def _images(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest("expected a JSON list of strings")
    return [item.strip() for item in value if item.strip()]


def _roles(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest("expected a JSON list of role ARNs")
    return [item.strip() for item in value if item.strip()]


def _external_ids(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(item, str) or item is None for item in value.values()
    ):
        raise BadRequest("expected a JSON object of role ARN to external id (a string or null)")
    return {arn.strip(): item for arn, item in value.items() if arn.strip() and item is not None}


def handle(method: str, path: str, account: str | None, body: bytes) -> tuple[int, Any]:
    """One control request: ``(status, JSON document)``."""
    action = path[len(PREFIX) :].strip("/")
    if action == "config" and method == "GET":
        return 200, _config_document(account)
    setters: dict[str, Callable[[Any], None]] = {
        "failing-images": lambda v: CONFIG.set_failing_images(account, _images(v)),
        "rollout-seconds": lambda v: CONFIG.set_rollout_seconds(
            account, _seconds(v, nullable=True)
        ),
        "advance-clock": lambda v: CONFIG.advance_clock(account, _seconds(v, nullable=False)),
        # Server-wide whatever the header says.
        "denied-roles": lambda v: CONFIG.set_denied_roles(_roles(v)),
        "role-external-ids": lambda v: CONFIG.set_role_external_ids(_external_ids(v)),
    }
    if action not in setters and action != "config":
        return 404, {"message": f"no such endpoint: {path}"}
    if method != "POST" or action == "config":
        return 405, {"message": f"{method} is not allowed on {path}"}
    try:
        value = json.loads(body or b"null")
        setters[action](value)
    except (ValueError, BadRequest) as error:
        return 400, {"message": f"{path}: {error}"}
    return 200, _config_document(account)


class BerthDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, answering ``/berth-moto/`` itself, noticing resets, and remembering
    which backend serves which host."""

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self.backend_for_host: dict[str, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        """moto's answer for ``host``, computed once. A host without a backend is not remembered,
        so moto still prints its warning for each such request."""
        if host is None:
            return None
        backend = self.backend_for_host.get(host)
        if backend is None:
            backend = super().get_backend_for_host(host)
            if backend is not None:
                if len(self.backend_for_host) >= MAX_REMEMBERED_HOSTS:
                    self.backend_for_host.clear()
                self.backend_for_host[host] = backend
        return backend

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(PREFIX):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            account = environ.get(ACCOUNT_ENVIRON_KEY) or None
            status, document = handle(method, path, account, body)
            payload = json.dumps(document).encode()
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}[status]
            start_response(
                f"{status} {reason}",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        if method == "POST" and path.rstrip("/") == "/moto-api/reset":
            CONFIG.reset()
        return super().__call__(environ, start_response)
