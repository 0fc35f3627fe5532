"""Task definitions: the family's latest ACTIVE revision, sorting, tags."""

from __future__ import annotations

import botocore.exceptions
import pytest


def test_list_task_definitions_sorts_by_family_and_revision(account):
    arns = {}
    for family in ["web", "api", "web", "api", "web"]:
        arns.setdefault(family, []).append(account.register(family))
    ascending = arns["api"] + arns["web"]

    assert account.ecs.list_task_definitions()["taskDefinitionArns"] == ascending
    assert account.ecs.list_task_definitions(sort="ASC")["taskDefinitionArns"] == ascending
    assert account.ecs.list_task_definitions(sort="DESC")["taskDefinitionArns"] == ascending[::-1]


def test_the_latest_active_revision_of_a_family(account):
    first, second, third = (account.register(image=f"nginx:{n}") for n in (1, 2, 3))
    account.register("webhook")  # familyPrefix is a whole family name, not a prefix
    account.ecs.deregister_task_definition(taskDefinition=third)

    listed = account.ecs.list_task_definitions(familyPrefix="web", status="ACTIVE", sort="DESC")
    assert listed["taskDefinitionArns"] == [second, first]
    described = account.ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]
    assert described["taskDefinitionArn"] == second
    # An explicit revision is still found when INACTIVE.
    inactive = account.ecs.describe_task_definition(taskDefinition="web:3")["taskDefinition"]
    assert inactive["status"] == "INACTIVE"


def test_a_family_without_active_revisions_is_not_found(account):
    only = account.register()
    account.ecs.deregister_task_definition(taskDefinition=only)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        account.ecs.describe_task_definition(taskDefinition="web")
    assert raised.value.response["Error"]["Code"] == "ClientException"


def test_tags_on_task_definitions_and_services(account):
    """Not patched (moto gets these right); berth's ownership tags depend on them."""
    td = account.register(tags=[{"key": "team", "value": "web"}])
    account.ecs.tag_resource(resourceArn=td, tags=[{"key": "berth:managed-by", "value": "berth"}])
    described = account.ecs.describe_task_definition(taskDefinition=td, include=["TAGS"])
    assert sorted(t["key"] for t in described["tags"]) == ["berth:managed-by", "team"]
    assert "tags" not in account.ecs.describe_task_definition(taskDefinition=td)

    service = account.create_service(td)
    account.ecs.tag_resource(
        resourceArn=service["serviceArn"], tags=[{"key": "berth:revision", "value": "abc"}]
    )
    account.ecs.tag_resource(
        resourceArn=service["serviceArn"], tags=[{"key": "berth:revision", "value": "def"}]
    )
    assert account.describe(include=["TAGS"])["tags"] == [{"key": "berth:revision", "value": "def"}]


def test_list_services_ignores_paging(account):
    """A known gap, left alone: moto returns every service in one page, whatever maxResults."""
    td = account.register()
    for name in ["a", "b", "c"]:
        account.create_service(td, name=name, desiredCount=0)
    page = account.ecs.list_services(cluster="prod", maxResults=2)
    assert len(page["serviceArns"]) == 3
    assert "nextToken" not in page


def test_register_answers_with_the_revisions_tags(account):
    tags = [{"key": "berth:managed-by", "value": "berth"}, {"key": "team", "value": "web"}]
    answer = account.ecs.register_task_definition(
        family="web",
        containerDefinitions=[{"name": "web", "image": "nginx:1.27", "memory": 128}],
        tags=tags,
    )
    assert answer["tags"] == tags
    untagged = account.ecs.register_task_definition(
        family="web",
        containerDefinitions=[{"name": "web", "image": "nginx:1.27", "memory": 128}],
    )
    assert untagged["tags"] == []
