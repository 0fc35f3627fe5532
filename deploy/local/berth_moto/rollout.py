"""Deployments with a life: what ECS's scheduler does to a service's deployments, from the clock.

Each moto ``Service`` with the ECS deployment controller gets a :class:`Timeline` (its
deployments, PRIMARY first, and its events, newest first). Nothing runs in the background:
:func:`advance` replays every transition that has come due since the last look whenever a
service is created, updated or described, and :func:`render` writes the result into the fields
moto serializes (``deployments``, ``runningCount``, ``pendingCount``, ``events``).

A PRIMARY deployment goes through these phases, each lasting the rollout time it was started
with (``BERTH_MOTO_ROLLOUT_SECONDS``, or the account's own value):

* ``ROLLING``: ``IN_PROGRESS``, pending = desired. Then ``COMPLETED`` (running = desired, every
  ACTIVE deployment drained and removed) unless its image is failing: with the circuit breaker
  it goes ``FAILED`` (and rolls back to the last COMPLETED deployment when ``rollback`` is on),
  without it it goes ``RETRYING``.
* ``RETRYING``: still ``IN_PROGRESS``; every rollout time another batch of tasks fails to start
  (``failedTasks`` grows), forever, as in ECS without a circuit breaker.
* ``SCALING``: ``COMPLETED`` but counts moving to a new ``desiredCount``; then ``STEADY``.
* ``STEADY`` / ``STOPPED``: nothing more happens.
"""

from __future__ import annotations

import copy
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .config import CONFIG
from .images import failing_image

#: Held by every patched ECS call that reads or changes a timeline (moto serves requests from
#: several threads).
LOCK = threading.RLock()

#: ECS returns a service's 100 most recent events.
MAX_EVENTS = 100
#: The circuit breaker's failure threshold: half the desired count, within these bounds.
THRESHOLD_MIN, THRESHOLD_MAX = 3, 200
#: At most this many task ids are named in one event, and this many retry events are
#: recorded for one look at a long-failing deployment.
MAX_TASKS_NAMED = 10
MAX_RETRY_EVENTS = 3

ROLLING, RETRYING, SCALING, STEADY, STOPPED = "ROLLING", "RETRYING", "SCALING", "STEADY", "STOPPED"

#: Service attributes (moto's snake_case names) whose change on UpdateService starts a new
#: deployment, as in ECS. ``desiredCount`` only scales the PRIMARY.
DEPLOYMENT_ATTRIBUTES = (
    "task_definition",
    "network_configuration",
    "platform_version",
    "launch_type",
    "capacity_provider_strategy",
    "load_balancers",
    "service_registries",
    "service_connect_configuration",
    "volume_configurations",
    "placement_constraints",
    "placement_strategy",
)

#: Service attributes copied onto each deployment (ECS reports them per deployment).
_DEPLOYMENT_SETTINGS = {
    "launchType": "launch_type",
    "platformVersion": "platform_version",
    "networkConfiguration": "network_configuration",
    "capacityProviderStrategy": "capacity_provider_strategy",
    "serviceConnectConfiguration": "service_connect_configuration",
    "volumeConfigurations": "volume_configurations",
}


@dataclass
class Deployment:
    id: str
    task_definition: str
    desired: int
    rollout_seconds: float
    failing_image: str | None
    circuit_breaker: bool
    rollback: bool
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    status: str = "PRIMARY"
    rollout_state: str = "IN_PROGRESS"
    rollout_state_reason: str = ""
    running: int = 0
    pending: int = 0
    failed_tasks: int = 0
    phase: str = ROLLING
    due: datetime | None = None
    completed: bool = False

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired,
            "pendingCount": self.pending,
            "runningCount": self.running,
            "failedTasks": self.failed_tasks,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "rolloutState": self.rollout_state,
            "rolloutStateReason": self.rollout_state_reason,
        }
        out.update({k: v for k, v in self.settings.items() if v not in (None, [], {})})
        return out


@dataclass
class Timeline:
    deployments: list[Deployment] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def timeline(service: Any) -> Timeline | None:
    return getattr(service, "_berth_timeline", None)


def circuit_breaker_threshold(desired: int) -> int:
    """How many failed tasks trip the circuit breaker (ECS: half the desired count, 3..200)."""
    return min(max(THRESHOLD_MIN, -(-desired // 2)), THRESHOLD_MAX)


def new_deployment_id() -> str:
    return f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"


def _tasks(count: int) -> str:
    named = " ".join(f"(task {uuid.uuid4().hex})" for _ in range(min(count, MAX_TASKS_NAMED)))
    return f"{named}." if count <= MAX_TASKS_NAMED else f"{named} ..."


def _event(service: Any, tl: Timeline, at: datetime, message: str) -> None:
    tl.events.insert(
        0,
        {
            "id": str(uuid.uuid4()),
            "createdAt": at,
            "message": f"(service {service.name}) {message}",
        },
    )
    del tl.events[MAX_EVENTS:]


def _effective(service: Any):
    return CONFIG.effective(service._account_id)


def snapshot(service: Any) -> dict[str, Any]:
    """What :func:`on_update` compares to decide whether an update starts a deployment."""
    values = {name: copy.deepcopy(getattr(service, name, None)) for name in DEPLOYMENT_ATTRIBUTES}
    values["desired_count"] = service.desired_count
    return values


def on_create(service: Any, backend: Any) -> None:
    """Replaces moto's frozen deployment with a PRIMARY that rolls out."""
    if (service.deployment_controller or {}).get("type", "ECS") != "ECS":
        return
    if not service.task_definition:  # moto allows that; ECS does not with its own controller
        return
    service._berth_timeline = Timeline()
    _start(service, backend, _effective(service).now())
    render(service)


def on_update(service: Any, backend: Any, before: dict[str, Any], force: bool) -> None:
    """After moto applied an UpdateService: start a deployment, or scale, as ECS would."""
    tl = timeline(service)
    if tl is None:
        return
    now = _effective(service).now()
    changed = any(before[name] != getattr(service, name, None) for name in DEPLOYMENT_ATTRIBUTES)
    if force or changed:
        _start(service, backend, now)
    elif service.desired_count != before["desired_count"]:
        _scale(service, tl, now)
    render(service)


def advance(service: Any) -> None:
    """Plays every transition that has come due, then renders."""
    tl = timeline(service)
    if tl is None:
        return
    now = _effective(service).now()
    while tl.deployments:
        primary = tl.deployments[0]
        if primary.due is None or primary.due > now:
            break
        at = primary.due
        primary.due = None
        if primary.phase == ROLLING:
            _finish_rollout(service, tl, primary, at, now)
        elif primary.phase == RETRYING:
            _retry(service, tl, primary, at, now)
        elif primary.phase == SCALING:
            primary.running, primary.pending = primary.desired, 0
            primary.phase, primary.updated_at = STEADY, at
            _event(service, tl, at, "has reached a steady state.")
    render(service)


def render(service: Any) -> None:
    tl = timeline(service)
    if tl is None:
        return
    service.deployments = [deployment.render() for deployment in tl.deployments]
    service.running_count = sum(d.running for d in tl.deployments)
    service.pending_count = sum(d.pending for d in tl.deployments)
    service.events = list(tl.events)


def _start(service: Any, backend: Any, now: datetime) -> None:
    tl = timeline(service)
    assert tl is not None
    for previous in tl.deployments:
        if previous.status == "PRIMARY":
            # It keeps the tasks it runs until the new PRIMARY completes, and starts no more.
            previous.status, previous.pending, previous.due = "ACTIVE", 0, None
            previous.updated_at = now
    effective = _effective(service)
    task_definition = backend.describe_task_definition(service.task_definition)
    images = [c.get("image", "") for c in task_definition.container_definitions]
    breaker = (service.deployment_configuration or {}).get("deploymentCircuitBreaker") or {}
    desired = service.desired_count or 0
    deployment = Deployment(
        id=new_deployment_id(),
        task_definition=task_definition.arn,
        desired=desired,
        rollout_seconds=effective.rollout_seconds,
        failing_image=failing_image(images, effective.failing_images),
        circuit_breaker=bool(breaker.get("enable")),
        rollback=bool(breaker.get("rollback")),
        settings={
            key: copy.deepcopy(getattr(service, name, None))
            for key, name in _DEPLOYMENT_SETTINGS.items()
        },
        created_at=now,
        updated_at=now,
        pending=desired,
        due=now + timedelta(seconds=effective.rollout_seconds),
    )
    deployment.rollout_state_reason = f"ECS deployment {deployment.id} in progress."
    tl.deployments.insert(0, deployment)
    if desired > 0:
        _event(service, tl, now, f"has started {desired} tasks: {_tasks(desired)}")


def _scale(service: Any, tl: Timeline, now: datetime) -> None:
    primary = tl.deployments[0]
    desired = service.desired_count or 0
    primary.desired, primary.updated_at = desired, now
    if primary.phase in (STEADY, SCALING):
        if desired > primary.running:
            extra = desired - primary.running
            _event(service, tl, now, f"has started {extra} tasks: {_tasks(extra)}")
        elif desired < primary.running:
            gone = primary.running - desired
            _event(service, tl, now, f"has stopped {gone} running tasks: {_tasks(gone)}")
            primary.running = desired
        primary.pending = desired - primary.running
        primary.phase = SCALING
        primary.due = now + timedelta(seconds=_effective(service).rollout_seconds)
    elif primary.phase == ROLLING:
        primary.pending = max(0, desired - primary.running)
    elif primary.phase == RETRYING:
        primary.pending = desired


def _finish_rollout(
    service: Any, tl: Timeline, primary: Deployment, at: datetime, now: datetime
) -> None:
    if not primary.failing_image or primary.desired == 0:
        _complete(service, tl, primary, at)
    elif primary.circuit_breaker:
        _trip(service, tl, primary, at)
    else:
        primary.phase = RETRYING
        _retry(service, tl, primary, at, now)


def _complete(service: Any, tl: Timeline, primary: Deployment, at: datetime) -> None:
    drained = sum(d.running for d in tl.deployments[1:])
    primary.running, primary.pending = primary.desired, 0
    primary.rollout_state = "COMPLETED"
    primary.rollout_state_reason = f"ECS deployment {primary.id} completed."
    primary.phase, primary.completed, primary.updated_at = STEADY, True, at
    del tl.deployments[1:]
    if drained:
        _event(service, tl, at, f"has stopped {drained} running tasks: {_tasks(drained)}")
    _event(service, tl, at, f"(deployment {primary.id}) deployment completed.")
    _event(service, tl, at, "has reached a steady state.")


def _retry(service: Any, tl: Timeline, primary: Deployment, at: datetime, now: datetime) -> None:
    """Batches of tasks failing to start at ``at``, ``at + R``, ... up to ``now``."""
    step = primary.rollout_seconds if primary.rollout_seconds > 0 else 1.0
    batches = int((now - at).total_seconds() // step) + 1
    batch = max(1, primary.desired)
    primary.failed_tasks += batches * batch
    primary.running, primary.pending = 0, primary.desired
    for n in range(max(0, batches - MAX_RETRY_EVENTS), batches):
        when = at + timedelta(seconds=n * step)
        _event(service, tl, when, f"has started {batch} tasks: {_tasks(batch)}")
    primary.updated_at = at + timedelta(seconds=(batches - 1) * step)
    primary.due = at + timedelta(seconds=batches * step)


def _trip(service: Any, tl: Timeline, primary: Deployment, at: datetime) -> None:
    primary.rollout_state = "FAILED"
    primary.rollout_state_reason = "ECS deployment circuit breaker: tasks failed to start."
    primary.failed_tasks = max(primary.failed_tasks, circuit_breaker_threshold(primary.desired))
    primary.running = primary.pending = 0
    primary.phase, primary.updated_at = STOPPED, at
    _event(service, tl, at, f"(deployment {primary.id}) deployment failed: tasks failed to start.")
    if not primary.rollback:
        return
    target = next((d for d in tl.deployments[1:] if d.completed), None)
    if target is None:
        return
    _event(service, tl, at, f"rolling back to deployment {target.id}.")
    primary.status = "ACTIVE"
    tl.deployments.remove(target)
    tl.deployments.insert(0, target)
    target.status, target.rollout_state = "PRIMARY", "IN_PROGRESS"
    target.rollout_state_reason = (
        f"ECS deployment circuit breaker: rolling back to deploymentId {target.id}."
    )
    target.desired = service.desired_count or 0
    target.pending = max(0, target.desired - target.running)
    target.phase, target.updated_at = ROLLING, at
    target.due = at + timedelta(seconds=primary.rollout_seconds)
    service.task_definition = target.task_definition
