"""Fixtures: one emulator per test session, started through the launcher (``python -m
berth_moto``) the way ``emulator.sh`` and berth-testkit start it, and one fresh moto account per
test (``x-moto-account-id``) so tests never see each other's state."""

from __future__ import annotations

import functools
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config

LOCAL = Path(__file__).resolve().parent.parent  # deploy/local
sys.path.insert(0, str(LOCAL))  # unit tests import berth_moto directly

REGION = "us-east-1"
#: The session server's rollout time (BERTH_MOTO_ROLLOUT_SECONDS): short, so real-time tests
#: take well under a second; tests that look at the in-between state set a long one for their
#: account and move the clock instead.
ROLLOUT_SECONDS = 0.3
#: The session server's BERTH_MOTO_FAILING_IMAGES.
ENV_FAILING_IMAGES = "envbad:1"

_accounts = itertools.count(300_000_000_001)
#: One boto3 session for all clients: it caches the service models, so clients are cheap.
_SESSION = boto3.session.Session()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, Path]:
    """``python -m berth_moto`` on a free port; returns (process, endpoint, log path)."""
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LOCAL), env.get("PYTHONPATH")]))
    env.update(extra_env or {})
    log = Path(tempfile.mkstemp(prefix="berth-moto-", suffix=".log")[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "berth_moto", "-H", "127.0.0.1", "-p", str(port),
         "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"berth_moto exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                return process, endpoint, log
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"berth_moto did not answer:\n{log.read_text()}")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def server():
    process, endpoint, log = start_server(
        {
            "BERTH_MOTO_ROLLOUT_SECONDS": str(ROLLOUT_SECONDS),
            "BERTH_MOTO_FAILING_IMAGES": ENV_FAILING_IMAGES,
        }
    )
    yield endpoint
    process.stdin.close()
    process.wait(timeout=10)
    log.unlink(missing_ok=True)


def http(endpoint: str, method: str, path: str, body: Any = None, account: str | None = None):
    """(status, JSON body) of a plain HTTP request."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{endpoint}{path}", data=data, method=method)
    if account:
        request.add_header("x-moto-account-id", account)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Account:
    """One isolated moto account on the session server, with boto3 clients and helpers."""

    def __init__(self, endpoint: str, account_id: str):
        self.endpoint = endpoint
        self.id = account_id
        self._network: dict[str, Any] | None = None

    @functools.cached_property
    def ecs(self):
        return self.client("ecs")

    @functools.cached_property
    def ec2(self):
        return self.client("ec2")

    @functools.cached_property
    def ecr(self):
        return self.client("ecr")

    def client(self, service: str, region: str = REGION):
        client = _SESSION.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

        def add_header(request, **_):
            request.headers["x-moto-account-id"] = self.id

        client.meta.events.register("before-sign.*.*", add_header)
        return client

    # --- the extension's control endpoints, for this account
    def control(self, name: str, value: Any) -> dict[str, Any]:
        status, document = http(self.endpoint, "POST", f"/berth-moto/{name}", value, self.id)
        assert status == 200, document
        return document

    def config(self) -> dict[str, Any]:
        return http(self.endpoint, "GET", "/berth-moto/config", account=self.id)[1]

    def slow_rollouts(self, seconds: float = 60.0) -> None:
        """Rollouts that never finish on their own during a test: move the clock instead."""
        self.control("rollout-seconds", seconds)

    def advance(self, seconds: float = 60.0) -> None:
        self.control("advance-clock", seconds)

    # --- ECS helpers
    def network(self) -> dict[str, Any]:
        if self._network is None:
            vpc = self.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
            vpc_id = vpc["Vpcs"][0]["VpcId"]
            by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
            subnets = self.ec2.describe_subnets(Filters=by_vpc)["Subnets"]
            groups = self.ec2.describe_security_groups(
                Filters=by_vpc + [{"Name": "group-name", "Values": ["default"]}]
            )["SecurityGroups"]
            self._network = {
                "awsvpcConfiguration": {
                    "subnets": [s["SubnetId"] for s in subnets[:2]],
                    "securityGroups": [groups[0]["GroupId"]],
                    "assignPublicIp": "DISABLED",
                }
            }
        return self._network

    def cluster(self, name: str = "prod") -> str:
        return self.ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]

    def register(self, family: str = "web", image: str = "nginx:1.27", **extra: Any) -> str:
        return self.ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": family, "image": image, "essential": True}],
            **extra,
        )["taskDefinition"]["taskDefinitionArn"]

    def create_service(self, task_definition: str, name: str = "web", **extra: Any) -> dict:
        params: dict[str, Any] = {
            "cluster": "prod",
            "serviceName": name,
            "taskDefinition": task_definition,
            "desiredCount": 2,
            "launchType": "FARGATE",
            "networkConfiguration": self.network(),
        }
        params.update(extra)
        params = {k: v for k, v in params.items() if v is not None}
        return self.ecs.create_service(**params)["service"]

    def update_service(self, name: str = "web", **changes: Any) -> dict:
        return self.ecs.update_service(cluster="prod", service=name, **changes)["service"]

    def describe(self, name: str = "web", **extra: Any) -> dict:
        found = self.ecs.describe_services(cluster="prod", services=[name], **extra)
        assert not found["failures"], found["failures"]
        return found["services"][0]

    def wait_for(
        self, predicate: Callable[[dict], bool], name: str = "web", timeout: float = 15.0
    ) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            service = self.describe(name)
            if predicate(service):
                return service
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; last state: {summary(service)}")
            time.sleep(0.05)


def summary(service: dict) -> dict:
    """The parts of a described service the rollout tests look at."""
    return {
        "taskDefinition": service["taskDefinition"],
        "running": service["runningCount"],
        "pending": service["pendingCount"],
        "deployments": [
            {
                k: d.get(k)
                for k in ("id", "status", "taskDefinition", "rolloutState", "desiredCount",
                          "runningCount", "pendingCount", "failedTasks")
            }
            for d in service["deployments"]
        ],
        "events": [e["message"] for e in service["events"]],
    }


def primary(service: dict) -> dict:
    primaries = [d for d in service["deployments"] if d["status"] == "PRIMARY"]
    assert len(primaries) == 1, summary(service)
    assert service["deployments"][0] is primaries[0], "the PRIMARY deployment comes first"
    return primaries[0]


@pytest.fixture
def account(server) -> Account:
    """A fresh account with a `prod` cluster."""
    acct = Account(server, f"{next(_accounts):012d}")
    acct.cluster()
    return acct
