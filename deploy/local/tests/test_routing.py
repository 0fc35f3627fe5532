"""Routing: the dispatcher remembers which moto backend serves a host, and routes as moto does."""

from __future__ import annotations

import moto.backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from berth_moto.app import BerthDispatcher

HOSTS = [
    "ecs.us-east-1.amazonaws.com",
    "ecs.eu-west-3.amazonaws.com",
    "api.ecr.us-east-1.amazonaws.com",
    "ec2.us-east-1.amazonaws.com",
    "sts.us-east-1.amazonaws.com",
    "s3.us-east-1.amazonaws.com",
    "moto_api",
    "ecs",
]


def test_the_backend_of_a_host_is_moto_s_and_is_looked_up_once(monkeypatch):
    moto_dispatcher = DomainDispatcherApplication(create_backend_app)
    dispatcher = BerthDispatcher(create_backend_app)
    expected = {host: moto_dispatcher.get_backend_for_host(host) for host in HOSTS}
    assert expected["ecs.eu-west-3.amazonaws.com"] == "ecs"
    assert expected["api.ecr.us-east-1.amazonaws.com"] == "ecr"
    assert {host: dispatcher.get_backend_for_host(host) for host in HOSTS} == expected

    # Remembered: moto's lookup (its package listing and URL patterns) is not consulted again.
    def listing_again():
        raise AssertionError("moto's backends were listed again")

    monkeypatch.setattr(moto.backends, "list_of_moto_modules", listing_again)
    monkeypatch.setattr(dispatcher, "backend_url_patterns", [])
    assert {host: dispatcher.get_backend_for_host(host) for host in HOSTS} == expected
    assert dispatcher.get_backend_for_host(None) is None


def test_a_host_without_a_backend_is_not_remembered(capsys):
    dispatcher = BerthDispatcher(create_backend_app)
    for _ in range(2):
        assert dispatcher.get_backend_for_host("nothing.us-east-1.amazonaws.com") is None
    assert "nothing.us-east-1.amazonaws.com" not in dispatcher.backend_for_host
    # moto's warning still comes with every such request.
    assert capsys.readouterr().out.count("Unable to find appropriate backend") == 2


def test_remembered_hosts_are_bounded(monkeypatch):
    monkeypatch.setattr("berth_moto.app.MAX_REMEMBERED_HOSTS", 3)
    dispatcher = BerthDispatcher(create_backend_app)
    regions = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1"]
    for region in regions:
        assert dispatcher.get_backend_for_host(f"ecs.{region}.amazonaws.com") == "ecs"
        assert len(dispatcher.backend_for_host) <= 3
    assert "ecs.eu-west-1.amazonaws.com" in dispatcher.backend_for_host


def test_requests_reach_their_service_and_region(account):
    """Repeated calls (routed from memory after the first) still reach the backend of their own
    service and region: ECS, ECR and EC2, in two regions of one account."""
    west_ecs, west_ecr = account.client("ecs", "us-west-2"), account.client("ecr", "us-west-2")
    for i in range(3):
        account.ecr.create_repository(repositoryName=f"east-{i}")
        west_ecs.create_cluster(clusterName=f"west-{i}")
        west_ecr.create_repository(repositoryName=f"west-{i}")

    east = {arn.rsplit("/", 1)[-1] for arn in account.ecs.list_clusters()["clusterArns"]}
    west = {arn.rsplit("/", 1)[-1] for arn in west_ecs.list_clusters()["clusterArns"]}
    assert east == {"prod"}
    assert west == {"west-0", "west-1", "west-2"}
    east_repos = account.ecr.describe_repositories()["repositories"]
    west_repos = west_ecr.describe_repositories()["repositories"]
    assert sorted(r["repositoryName"] for r in east_repos) == ["east-0", "east-1", "east-2"]
    assert sorted(r["repositoryName"] for r in west_repos) == ["west-0", "west-1", "west-2"]
    assert all(":us-west-2:" in r["repositoryArn"] for r in west_repos)
    assert account.ec2.describe_vpcs()["Vpcs"], "EC2 answers too"
