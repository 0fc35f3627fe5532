"""Images marked as failing, and the deployment circuit breaker."""

from __future__ import annotations

from conftest import ENV_FAILING_IMAGES, primary, summary

BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
BREAKER_NO_ROLLBACK = {"deploymentCircuitBreaker": {"enable": True, "rollback": False}}


def messages(service: dict) -> list[str]:
    return [event["message"] for event in service["events"]]


def steady(account, td, **extra):
    account.slow_rollouts()
    service = account.create_service(td, **extra)
    account.advance()
    return primary(service)


def test_circuit_breaker_rolls_back_to_the_last_completed_deployment(account):
    good, bad = account.register(), account.register(image="web:broken")
    account.control("failing-images", ["web:broken"])
    first = steady(account, good, deploymentConfiguration=BREAKER)

    failing = primary(account.update_service(taskDefinition=bad))
    assert failing["rolloutState"] == "IN_PROGRESS"
    account.advance()

    rolled = account.describe()
    assert rolled["taskDefinition"] == good, "the service is back on the old task definition"
    back, failed = rolled["deployments"]
    assert (back["status"], back["id"], back["taskDefinition"]) == ("PRIMARY", first["id"], good)
    assert back["rolloutState"] == "IN_PROGRESS"
    assert back["rolloutStateReason"] == (
        f"ECS deployment circuit breaker: rolling back to deploymentId {first['id']}."
    )
    assert (failed["status"], failed["id"]) == ("ACTIVE", failing["id"])
    assert failed["rolloutState"] == "FAILED"
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert failed["failedTasks"] >= 3
    assert failed["runningCount"] == 0
    assert messages(rolled)[:2] == [
        f"(service web) rolling back to deployment {first['id']}.",
        f"(service web) (deployment {failing['id']}) deployment failed: tasks failed to start.",
    ]

    account.advance()
    done = account.describe()
    assert [(d["id"], d["rolloutState"]) for d in done["deployments"]] == [
        (first["id"], "COMPLETED")
    ], summary(done)
    assert done["taskDefinition"] == good
    assert (done["runningCount"], done["pendingCount"]) == (2, 0)
    assert messages(done)[0] == "(service web) has reached a steady state."


def test_circuit_breaker_without_rollback_just_fails(account):
    good, bad = account.register(), account.register(image="web:broken")
    account.control("failing-images", ["web:broken"])
    steady(account, good, deploymentConfiguration=BREAKER_NO_ROLLBACK)
    failing = primary(account.update_service(taskDefinition=bad))
    account.advance()
    failed = account.describe()
    assert failed["taskDefinition"] == bad
    assert [(d["status"], d["rolloutState"]) for d in failed["deployments"]] == [
        ("PRIMARY", "FAILED"),
        ("ACTIVE", "COMPLETED"),
    ]
    assert primary(failed)["id"] == failing["id"]
    assert failed["runningCount"] == 2, "the old tasks keep running"
    account.advance()
    assert primary(account.describe())["rolloutState"] == "FAILED", "and nothing more happens"


def test_without_a_circuit_breaker_tasks_keep_failing(account):
    good, bad = account.register(), account.register(image="web:broken")
    account.control("failing-images", ["web:broken"])
    steady(account, good)
    account.update_service(taskDefinition=bad)
    account.advance(60)
    first = primary(account.describe())
    assert first["rolloutState"] == "IN_PROGRESS"
    assert (first["runningCount"], first["pendingCount"]) == (0, 2)
    assert first["failedTasks"] > 0
    account.advance(120)
    later = account.describe()
    assert primary(later)["failedTasks"] > first["failedTasks"]
    assert primary(later)["rolloutState"] == "IN_PROGRESS"
    assert later["deployments"][1]["runningCount"] == 2
    assert later["runningCount"] == 2


def test_a_failing_first_deployment_has_nothing_to_roll_back_to(account):
    account.control("failing-images", ["web:broken"])
    account.slow_rollouts()
    account.create_service(account.register(image="web:broken"), deploymentConfiguration=BREAKER)
    account.advance()
    failed = account.describe()
    assert [(d["status"], d["rolloutState"]) for d in failed["deployments"]] == [
        ("PRIMARY", "FAILED")
    ]
    assert failed["runningCount"] == 0


def test_a_tag_listed_as_failing_matches_the_digest_pinned_ecr_image(account):
    manifest = (
        '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",'
        '"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,'
        '"digest":"sha256:' + "1" * 64 + '"},"layers":[{"mediaType":'
        '"application/vnd.docker.image.rootfs.diff.tar.gzip","size":1,"digest":"sha256:'
        + "2" * 64 + '"}]}'
    )
    account.ecr.create_repository(repositoryName="bad")
    digest = account.ecr.put_image(
        repositoryName="bad", imageTag="broken", imageManifest=manifest
    )["image"]["imageId"]["imageDigest"]
    repo = f"{account.id}.dkr.ecr.us-east-1.amazonaws.com/bad"
    good = account.register()
    pinned = account.register(image=f"{repo}@{digest}")
    account.control("failing-images", ["bad:broken"])
    steady(account, good, deploymentConfiguration=BREAKER)
    account.update_service(taskDefinition=pinned)
    account.advance()
    assert account.describe()["deployments"][1]["rolloutState"] == "FAILED"

    # And the other way round: a digest listed, the image referenced by tag.
    account.control("failing-images", [digest[-12:]])
    steady(account, good, name="other", deploymentConfiguration=BREAKER)
    account.update_service("other", taskDefinition=account.register(image=f"{repo}:broken"))
    account.advance()
    assert account.describe("other")["deployments"][1]["rolloutState"] == "FAILED"


def test_failing_images_are_per_account_over_the_environment(account, server):
    from conftest import Account

    assert account.config()["failingImages"] == [ENV_FAILING_IMAGES]
    other = Account(server, f"{int(account.id) + 500_000:012d}")
    account.control("failing-images", ["web:broken"])
    assert account.config()["failingImages"] == ["web:broken"]
    assert other.config()["failingImages"] == [ENV_FAILING_IMAGES]

    # The environment's list applies where an account has none of its own.
    other.cluster()
    other.control("rollout-seconds", 60)
    other.create_service(other.register(), deploymentConfiguration=BREAKER)
    other.advance()
    other.update_service(taskDefinition=other.register(image=ENV_FAILING_IMAGES))
    other.advance()
    assert other.describe()["deployments"][1]["rolloutState"] == "FAILED"

    account.control("failing-images", None)
    assert account.config()["failingImages"] == [ENV_FAILING_IMAGES]


def test_the_list_applies_to_deployments_started_afterwards(account):
    good, bad = account.register(), account.register(image="web:broken")
    steady(account, good, deploymentConfiguration=BREAKER)
    account.update_service(taskDefinition=bad)
    account.control("failing-images", ["web:broken"])
    account.advance()
    done = account.describe()
    assert primary(done)["taskDefinition"] == bad
    assert primary(done)["rolloutState"] == "COMPLETED"
