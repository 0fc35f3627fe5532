"""The patches to moto's ECS backend and responses, and to STS's AssumeRole (see the package
docstring for the why).

Each one wraps moto's own function and keeps its behaviour except for the fix; :func:`install`
applies them once.
"""

from __future__ import annotations

import copy
import functools
import re
import warnings
from typing import Any, Callable

from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.ecs.exceptions import (
    InvalidParameterException,
    ServiceNotFoundException,
    TaskDefinitionNotFoundException,
)
from moto.ecs.models import EC2ContainerServiceBackend
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.sts.exceptions import STSClientError
from moto.sts.responses import TokenResponse

from . import rollout
from .config import CONFIG

#: CreateService parameters moto 5.2.5 drops, stored on the service under moto's attribute
#: naming (the one its UpdateService uses) so DescribeServices returns them.
CREATE_SERVICE_DROPPED = (
    "capacityProviderStrategy",
    "deploymentConfiguration",
    "enableExecuteCommand",
    "enableECSManagedTags",
    "healthCheckGracePeriodSeconds",
    "placementConstraints",
    "placementStrategy",
    "availabilityZoneRebalancing",
    # Reported by ECS on the deployments, not the service (see rollout._DEPLOYMENT_SETTINGS).
    "serviceConnectConfiguration",
    "volumeConfigurations",
)

#: What ECS reports when CreateService leaves these out (a DAEMON service: 100 and 0 percent).
DEPLOYMENT_CONFIGURATION_DEFAULTS = {
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
}
DAEMON_PERCENTS = {"maximumPercent": 100, "minimumHealthyPercent": 0}
SERVICE_DEFAULTS = {"enableExecuteCommand": False, "enableECSManagedTags": False}

_TASK_DEFINITION_ARN = re.compile(r"task-definition/(?P<family>[^:]+):(?P<revision>\d+)$")


#: The HTTP status of STS's ``AccessDenied`` (botocore's STS model has no shape for it, so moto's
#: serializer would answer 400).
ACCESS_DENIED_STATUS = 403


class AssumeRoleAccessDenied(STSClientError):
    """What STS answers when a role's trust policy (or its ``sts:ExternalId`` condition) refuses
    the caller. Serialized by moto like its own STS errors: ``<ErrorResponse><Error><Type>Sender
    </Type><Code>AccessDenied</Code><Message>...</Message></Error><RequestId>...``."""

    code = "AccessDenied"

    def __init__(self, caller_arn: str, role_arn: str) -> None:
        super().__init__(
            f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: "
            f"{role_arn}"
        )


def merge_deployment_configuration(
    current: dict[str, Any] | None, update: dict[str, Any] | None
) -> dict[str, Any]:
    """``update``'s keys over ``current``'s (over ECS's defaults when there is no current)."""
    merged = copy.deepcopy(current) if current else copy.deepcopy(DEPLOYMENT_CONFIGURATION_DEFAULTS)
    merged.update(copy.deepcopy(update or {}))
    return merged


def active_service(backend: EC2ContainerServiceBackend, cluster: str, name: str) -> Any:
    """The ACTIVE (or DRAINING) service ``name`` of ``cluster``, if there is one."""
    try:
        service = backend._get_service(cluster, name)
    except ServiceNotFoundException:
        return None
    return service if service.status in ("ACTIVE", "DRAINING") else None


def _wrap(owner: type, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Replaces ``owner.name`` with the decorated function, which gets the original first."""

    def decorate(patch: Callable[..., Any]) -> Callable[..., Any]:
        original = getattr(owner, name)
        if getattr(original, "__berth_moto__", False):
            return original

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return patch(original, *args, **kwargs)

        patched.__berth_moto__ = True  # type: ignore[attr-defined]
        setattr(owner, name, patched)
        return patched

    return decorate


def install() -> None:
    @_wrap(EC2ContainerServiceResponse, "create_service")
    def create_service(original, self: EC2ContainerServiceResponse) -> Any:
        dropped = {name: self._get_param(name) for name in CREATE_SERVICE_DROPPED}
        token = self._get_param("clientToken")
        with rollout.LOCK:
            existing = active_service(
                self.ecs_backend, self._get_param("cluster", "default"), self._get_param("serviceName")
            )
            if existing is not None:
                if token and token == getattr(existing, "_berth_client_token", None):
                    return ActionResult({"service": existing})
                raise InvalidParameterException("Creation of service was not idempotent.")
            result = original(self)
            service = result.result["service"]
            service._berth_client_token = token
            for name, default in SERVICE_DEFAULTS.items():
                if dropped[name] is None:
                    dropped[name] = default
            defaults = merge_deployment_configuration(None, None)
            if service.scheduling_strategy == "DAEMON":
                defaults.update(DAEMON_PERCENTS)
            dropped["deploymentConfiguration"] = merge_deployment_configuration(
                defaults, dropped["deploymentConfiguration"]
            )
            for name, value in dropped.items():
                if value is not None:
                    setattr(service, camelcase_to_underscores(name), value)
            if dropped["capacityProviderStrategy"] and self._get_param("launchType") is None:
                service.launch_type = None
            service.created_at = CONFIG.effective(service._account_id).now()
            rollout.on_create(service, self.ecs_backend)
        return result

    @_wrap(EC2ContainerServiceBackend, "update_service")
    def update_service(original, self: EC2ContainerServiceBackend, props: dict[str, Any]) -> Any:
        props = dict(props)
        with rollout.LOCK:
            service = self._get_service(
                props.get("cluster", "default"), props["service"].split("/")[-1]
            )
            rollout.advance(service)
            before = rollout.snapshot(service)
            if props.get("task_definition"):
                props["task_definition"] = self.describe_task_definition(
                    props["task_definition"]
                ).arn
            if props.get("network_configuration") is not None:
                service._validate_network(props["network_configuration"])
            if props.get("deployment_configuration") is not None:
                props["deployment_configuration"] = merge_deployment_configuration(
                    getattr(service, "deployment_configuration", None),
                    props["deployment_configuration"],
                )
            force = bool(props.pop("force_new_deployment", False))
            result = original(self, props)
            if props.get("capacity_provider_strategy"):
                service.launch_type = None
            rollout.on_update(service, self, before, force)
        return result

    @_wrap(EC2ContainerServiceBackend, "describe_services")
    def describe_services(original, self: EC2ContainerServiceBackend, *args: Any, **kw: Any):
        with rollout.LOCK:
            services, failures = original(self, *args, **kw)
            for service in services:
                rollout.advance(service)
        return services, failures

    @_wrap(EC2ContainerServiceBackend, "describe_task_definition")
    def describe_task_definition(
        original, self: EC2ContainerServiceBackend, task_definition_str: str
    ) -> Any:
        name = task_definition_str
        family = name.split("/")[-1]
        if ":" not in family:
            revisions = self.task_definitions.get(family) or {}
            active = [rev for rev, td in revisions.items() if td.status == "ACTIVE"]
            if revisions and not active:
                raise TaskDefinitionNotFoundException()
            if active:
                name = f"{family}:{max(active)}"
        return original(self, task_definition_str=name)

    @_wrap(EC2ContainerServiceResponse, "register_task_definition")
    def register_task_definition(original, self: EC2ContainerServiceResponse) -> Any:
        result = original(self)
        task_definition = result.result["taskDefinition"]
        result.result["tags"] = self.ecs_backend.list_tags_for_resource(task_definition.arn)
        return result

    @_wrap(EC2ContainerServiceResponse, "list_task_definitions")
    def list_task_definitions(original, self: EC2ContainerServiceResponse) -> Any:
        result = original(self)
        arns = result.result["taskDefinitionArns"]

        def key(arn: str) -> tuple[str, int]:
            match = _TASK_DEFINITION_ARN.search(arn)
            return (match["family"], int(match["revision"])) if match else (arn, 0)

        arns.sort(key=key, reverse=self._get_param("sort") == "DESC")
        return result

    # moto warns (once per role ARN) that AccessDenied is no error shape in STS's model; STS
    # answers it all the same.
    warnings.filterwarnings(
        "ignore", message=r"Exception\(AssumeRoleAccessDenied\) with code AccessDenied "
    )

    @_wrap(TokenResponse, "assume_role")
    def assume_role(original, self: TokenResponse) -> Any:
        role_arn = self._get_param("RoleArn")
        if CONFIG.assume_role_allowed(role_arn, self._get_param("ExternalId")):
            return original(self)
        _, caller_arn, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
        # moto's own serialization of a raised STS error (BaseResponse.call_action), with the
        # status AWS gives AccessDenied.
        _, headers, body = self.serialized(
            ActionResult(AssumeRoleAccessDenied(caller_arn, role_arn))
        )
        headers["status"] = ACCESS_DENIED_STATUS
        return body, headers
