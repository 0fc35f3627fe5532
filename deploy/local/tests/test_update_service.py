"""UpdateService: the task definition is resolved to its ARN, and every field berth updates is
applied (and validated) as ECS does."""

from __future__ import annotations

import botocore.exceptions
import pytest


def test_task_definition_is_resolved_to_the_full_arn(account):
    first = account.register()
    second = account.register(image="nginx:1.28")
    third = account.register(image="nginx:1.29")
    account.create_service(first)

    assert account.update_service(taskDefinition="web:2")["taskDefinition"] == second
    assert account.describe()["taskDefinition"] == second
    # A family alone means its latest ACTIVE revision.
    account.update_service(taskDefinition="web")
    assert account.describe()["taskDefinition"] == third
    account.ecs.deregister_task_definition(taskDefinition=third)
    account.update_service(taskDefinition="web")
    assert account.describe()["taskDefinition"] == second


def test_an_unknown_task_definition_fails_and_changes_nothing(account):
    td = account.register()
    account.create_service(td)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        account.update_service(taskDefinition="web:9", desiredCount=5)
    assert raised.value.response["Error"]["Code"] == "ClientException"
    described = account.describe()
    assert described["taskDefinition"] == td
    assert described["desiredCount"] == 2


def test_network_configuration_is_validated_and_replaced(account):
    account.create_service(account.register())
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        account.update_service(
            networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0nope"]}}
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert account.describe()["networkConfiguration"] == account.network()

    subnet = account.network()["awsvpcConfiguration"]["subnets"][0]
    group = account.network()["awsvpcConfiguration"]["securityGroups"]
    changed = {
        "awsvpcConfiguration": {
            "subnets": [subnet], "securityGroups": group, "assignPublicIp": "ENABLED"
        }
    }
    account.update_service(networkConfiguration=changed)
    assert account.describe()["networkConfiguration"] == changed


def test_partial_deployment_configuration_is_merged(account):
    account.create_service(
        account.register(),
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    account.update_service(deploymentConfiguration={"minimumHealthyPercent": 50})
    assert account.describe()["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 50,
    }
    account.update_service(
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}}
    )
    assert account.describe()["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": False,
        "rollback": False,
    }


def test_the_fields_berth_updates_are_applied(account):
    account.create_service(account.register())
    changes = {
        "desiredCount": 3,
        "healthCheckGracePeriodSeconds": 90,
        "propagateTags": "TASK_DEFINITION",
        "enableECSManagedTags": True,
        "enableExecuteCommand": True,
        "platformVersion": "1.4.0",
        "loadBalancers": [
            {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:"
                f"{account.id}:targetgroup/web/0123456789abcdef",
                "containerName": "web",
                "containerPort": 8080,
            }
        ],
        "availabilityZoneRebalancing": "DISABLED",
    }
    updated = account.update_service(**changes)
    described = account.describe()
    for name, value in changes.items():
        assert updated[name] == value, name
        assert described[name] == value, name


def test_a_capacity_provider_strategy_replaces_the_launch_type(account):
    account.create_service(account.register())
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    account.update_service(capacityProviderStrategy=strategy)
    described = account.describe()
    assert described["capacityProviderStrategy"] == strategy
    assert "launchType" not in described
