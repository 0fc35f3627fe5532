"""STS AssumeRole refused for denied roles and for a missing or wrong ExternalId, as AWS refuses
it (moto lets anyone assume any role)."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, Account, http, start_server

CALLER = "300000000901"
TARGET = "300000000902"
DENIED = f"arn:aws:iam::{TARGET}:role/denied"
ALLOWED = f"arn:aws:iam::{TARGET}:role/allowed"
GUARDED = f"arn:aws:iam::{TARGET}:role/guarded"


@pytest.fixture
def sts(server):
    """An STS client of the account CALLER; the server-wide STS settings are cleared after."""
    yield Account(server, CALLER).client("sts")
    for name in ("denied-roles", "role-external-ids"):
        assert http(server, "POST", f"/berth-moto/{name}", None)[0] == 200


def assume(sts, role_arn: str, **extra):
    return sts.assume_role(RoleArn=role_arn, RoleSessionName="berth", **extra)


def access_denied(sts, role_arn: str, **extra) -> ClientError:
    with pytest.raises(ClientError) as caught:
        assume(sts, role_arn, **extra)
    return caught.value


def assert_access_denied(error: ClientError, role_arn: str) -> None:
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"] == {
        "Type": "Sender",
        "Code": "AccessDenied",
        "Message": f"User: arn:aws:sts::{CALLER}:user/moto is not authorized to perform: "
        f"sts:AssumeRole on resource: {role_arn}",
    }


def client_of(server: str, credentials: dict, service: str = "sts"):
    """A client with assumed-role credentials and no account header: moto finds the account
    from the access key, as AWS does."""
    return boto3.session.Session().client(
        service,
        endpoint_url=server,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(retries={"max_attempts": 1}),
    )


def test_a_denied_role_is_access_denied(server, sts):
    assert http(server, "POST", "/berth-moto/denied-roles", [DENIED])[1]["deniedRoles"] == [DENIED]
    assert_access_denied(access_denied(sts, DENIED), DENIED)
    # With an ExternalId too: the trust policy refuses whatever the caller sends.
    assert_access_denied(access_denied(sts, DENIED, ExternalId="xyz"), DENIED)


def test_other_roles_are_assumed_into_their_own_account(server, sts):
    http(server, "POST", "/berth-moto/denied-roles", [DENIED])
    credentials = assume(sts, ALLOWED)["Credentials"]
    identity = client_of(server, credentials).get_caller_identity()
    assert identity["Account"] == TARGET
    assert identity["Arn"] == f"arn:aws:sts::{TARGET}:assumed-role/allowed/berth"
    # The assumed credentials work in the role's account.
    ecs = client_of(server, credentials, "ecs")
    ecs.create_cluster(clusterName="assumed")
    assert Account(server, TARGET).ecs.list_clusters()["clusterArns"] == [
        f"arn:aws:ecs:{REGION}:{TARGET}:cluster/assumed"
    ]


def test_a_role_requiring_an_external_id_needs_exactly_that_one(server, sts):
    config = http(server, "POST", "/berth-moto/role-external-ids", {GUARDED: "s3cret"})[1]
    assert config["roleExternalIds"] == {GUARDED: "s3cret"}
    assert_access_denied(access_denied(sts, GUARDED), GUARDED)
    assert_access_denied(access_denied(sts, GUARDED, ExternalId="wrong"), GUARDED)
    assert_access_denied(access_denied(sts, GUARDED, ExternalId="s3cret "), GUARDED)
    assumed = assume(sts, GUARDED, ExternalId="s3cret")
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{TARGET}:assumed-role/guarded/berth"
    # Roles without a requirement take any ExternalId, or none.
    assert assume(sts, ALLOWED, ExternalId="anything")["Credentials"]["AccessKeyId"]
    assert assume(sts, ALLOWED)["Credentials"]["AccessKeyId"]


def test_the_sts_settings_are_server_wide_and_replaced_as_a_whole(server, sts):
    # Set with an account header, they apply to (and show for) every account.
    other = "300000000903"
    status, config = http(server, "POST", "/berth-moto/denied-roles", [DENIED, DENIED], other)
    assert (status, config["deniedRoles"]) == (200, [DENIED])
    http(server, "POST", "/berth-moto/role-external-ids", {GUARDED: "a", ALLOWED: None}, other)
    config = http(server, "GET", "/berth-moto/config")[1]
    assert (config["deniedRoles"], config["roleExternalIds"]) == ([DENIED], {GUARDED: "a"})
    assert_access_denied(access_denied(sts, DENIED), DENIED)

    config = http(server, "POST", "/berth-moto/denied-roles", [ALLOWED])[1]
    assert config["deniedRoles"] == [ALLOWED]
    assert assume(sts, DENIED)["Credentials"]["AccessKeyId"]
    assert http(server, "POST", "/berth-moto/denied-roles", [])[1]["deniedRoles"] == []
    assert http(server, "POST", "/berth-moto/role-external-ids", {})[1]["roleExternalIds"] == {}
    assert assume(sts, ALLOWED)["Credentials"]["AccessKeyId"]
    assert assume(sts, GUARDED)["Credentials"]["AccessKeyId"]

    for name, bad in [("denied-roles", DENIED), ("denied-roles", [1]),
                      ("role-external-ids", [GUARDED]), ("role-external-ids", {GUARDED: 1})]:
        assert http(server, "POST", f"/berth-moto/{name}", bad)[0] == 400, (name, bad)


def test_reset_clears_denied_roles_and_external_ids():
    process, endpoint, log = start_server()
    try:
        http(endpoint, "POST", "/berth-moto/denied-roles", [DENIED])
        http(endpoint, "POST", "/berth-moto/role-external-ids", {GUARDED: "s3cret"})
        sts = Account(endpoint, CALLER).client("sts")
        assert_access_denied(access_denied(sts, DENIED), DENIED)
        assert http(endpoint, "POST", "/moto-api/reset")[0] == 200
        config = http(endpoint, "GET", "/berth-moto/config")[1]
        assert (config["deniedRoles"], config["roleExternalIds"]) == ([], {})
        assert assume(sts, DENIED)["Credentials"]["AccessKeyId"]
        assert assume(sts, GUARDED)["Credentials"]["AccessKeyId"]
    finally:
        process.stdin.close()
        assert process.wait(timeout=10) == 0
    log.unlink()
