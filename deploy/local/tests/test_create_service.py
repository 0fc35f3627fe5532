"""CreateService keeps what moto 5.2.5 drops, and DescribeServices returns it; a repeated
create is idempotent only with the first one's clientToken."""

from __future__ import annotations

import botocore.exceptions
import pytest


def test_deployment_configuration_is_kept(account):
    td = account.register()
    config = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
    }
    created = account.create_service(td, deploymentConfiguration=config)
    assert created["deploymentConfiguration"] == config
    assert account.describe()["deploymentConfiguration"] == config


def test_deployment_configuration_gets_ecs_defaults(account):
    created = account.create_service(
        account.register(),
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
    )
    assert created["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    account.create_service(account.register(), name="plain")
    assert account.describe("plain")["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }


def test_capacity_provider_strategy_is_kept_without_a_launch_type(account):
    strategy = [
        {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0},
        {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
    ]
    account.create_service(account.register(), launchType=None, capacityProviderStrategy=strategy)
    described = account.describe()
    assert described["capacityProviderStrategy"] == strategy
    assert "launchType" not in described, "ECS sets no launchType with a capacity provider strategy"
    assert described["deployments"][0]["capacityProviderStrategy"] == strategy


def test_enable_execute_command_is_kept(account):
    account.create_service(account.register(), enableExecuteCommand=True)
    assert account.describe()["enableExecuteCommand"] is True
    account.create_service(account.register(), name="quiet")
    assert account.describe("quiet")["enableExecuteCommand"] is False


def test_other_dropped_fields_are_kept(account):
    fields = {
        "healthCheckGracePeriodSeconds": 45,
        "enableECSManagedTags": True,
        "placementConstraints": [{"type": "distinctInstance"}],
        "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
        "availabilityZoneRebalancing": "DISABLED",
        "propagateTags": "SERVICE",
        "platformVersion": "1.4.0",
    }
    created = account.create_service(account.register(), **fields)
    described = account.describe()
    for name, value in fields.items():
        assert created[name] == value, name
        assert described[name] == value, name
    assert described["enableECSManagedTags"] is True
    assert "createdAt" in described


def test_service_connect_and_volume_configurations_are_on_the_deployment(account):
    connect = {"enabled": True, "namespace": "internal"}
    account.create_service(account.register(), serviceConnectConfiguration=connect)
    deployment = account.describe()["deployments"][0]
    assert deployment["serviceConnectConfiguration"] == connect
    assert deployment["networkConfiguration"] == account.network()
    assert deployment["launchType"] == "FARGATE"


def test_tags_come_back_with_include_tags_only(account):
    tags = [{"key": "berth:managed-by", "value": "berth"}, {"key": "team", "value": "web"}]
    account.create_service(account.register(), tags=tags)
    assert account.describe(include=["TAGS"])["tags"] == tags
    assert "tags" not in account.describe()


def test_unknown_services_come_back_as_missing_failures(account):
    """Not patched (moto gets it right); berth's reads depend on it."""
    account.create_service(account.register())
    found = account.ecs.describe_services(cluster="prod", services=["web", "gone"])
    assert [s["serviceName"] for s in found["services"]] == ["web"]
    assert found["failures"] == [
        {"arn": f"arn:aws:ecs:us-east-1:{account.id}:service/gone", "reason": "MISSING"}
    ]


def test_a_daemon_service_gets_daemon_deployment_percentages(account):
    account.create_service(account.register(), schedulingStrategy="DAEMON", desiredCount=None)
    assert account.describe()["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 100,
        "minimumHealthyPercent": 0,
    }


def test_a_create_repeated_with_its_client_token_answers_the_service_it_created(account):
    td = account.register()
    first = account.create_service(td, clientToken="berth-0123456789abcdef")
    again = account.create_service(td, clientToken="berth-0123456789abcdef")
    assert again["serviceArn"] == first["serviceArn"]
    assert [d["id"] for d in again["deployments"]] == [d["id"] for d in first["deployments"]]
    assert len(account.describe()["deployments"]) == 1, "no second deployment"


def test_creating_an_existing_service_otherwise_is_not_idempotent(account):
    td = account.register()
    account.create_service(td, clientToken="berth-0123456789abcdef")
    for token in ("berth-fedcba9876543210", None):
        with pytest.raises(botocore.exceptions.ClientError) as error:
            account.create_service(td, clientToken=token)
        assert error.value.response["Error"]["Code"] == "InvalidParameterException"
        assert "not idempotent" in error.value.response["Error"]["Message"]


def test_a_deleted_service_can_be_created_again(account):
    td = account.register()
    account.create_service(td)
    account.ecs.delete_service(cluster="prod", service="web", force=True)
    assert account.create_service(td)["status"] == "ACTIVE"
