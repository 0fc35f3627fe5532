"""Deployments with a life: new PRIMARY deployments, counts that converge, events."""

from __future__ import annotations

import re

from conftest import ROLLOUT_SECONDS, primary, summary

DEPLOYMENT_ID = re.compile(r"^ecs-svc/\d{19}$")


def messages(service: dict) -> list[str]:
    return [event["message"] for event in service["events"]]


def test_create_service_rolls_out_then_completes(account):
    account.slow_rollouts()
    td = account.register()
    created = account.create_service(td)
    deployment = primary(created)
    assert DEPLOYMENT_ID.match(deployment["id"]), deployment["id"]
    assert len(created["deployments"]) == 1
    assert deployment["rolloutState"] == "IN_PROGRESS"
    assert deployment["taskDefinition"] == td
    assert (deployment["desiredCount"], deployment["runningCount"], deployment["pendingCount"]) == (
        2, 0, 2,
    )
    assert (created["runningCount"], created["pendingCount"]) == (0, 2)
    assert re.fullmatch(r"\(service web\) has started 2 tasks: \(task [0-9a-f]{32}\) "
                        r"\(task [0-9a-f]{32}\)\.", messages(created)[0]), messages(created)

    account.advance()
    done = account.describe()
    deployment = primary(done)
    assert len(done["deployments"]) == 1
    assert deployment["rolloutState"] == "COMPLETED"
    assert deployment["rolloutStateReason"] == f"ECS deployment {deployment['id']} completed."
    assert (deployment["runningCount"], deployment["pendingCount"]) == (2, 0)
    assert (done["runningCount"], done["pendingCount"]) == (2, 0)
    assert messages(done)[:2] == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {deployment['id']}) deployment completed.",
    ]


def test_update_with_a_new_task_definition_starts_a_new_primary(account):
    account.slow_rollouts()
    old = account.register()
    new = account.register(image="nginx:1.28")
    first = primary(account.create_service(old))
    account.advance()

    updated = account.update_service(taskDefinition=new)
    assert updated["taskDefinition"] == new
    assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
    fresh, previous = updated["deployments"]
    assert DEPLOYMENT_ID.match(fresh["id"]) and fresh["id"] != first["id"]
    assert fresh["taskDefinition"] == new
    assert fresh["rolloutState"] == "IN_PROGRESS"
    assert (fresh["desiredCount"], fresh["runningCount"], fresh["pendingCount"]) == (2, 0, 2)
    assert previous["id"] == first["id"]
    assert previous["taskDefinition"] == old
    assert previous["runningCount"] == 2, "the old deployment keeps its tasks until the new is done"
    assert (updated["runningCount"], updated["pendingCount"]) == (2, 2)

    account.advance()
    done = account.describe()
    assert [d["id"] for d in done["deployments"]] == [fresh["id"]], summary(done)
    assert primary(done)["rolloutState"] == "COMPLETED"
    assert (done["runningCount"], done["pendingCount"]) == (2, 0)
    assert messages(done)[:3] == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {fresh['id']}) deployment completed.",
        messages(done)[2],
    ]
    assert messages(done)[2].startswith("(service web) has stopped 2 running tasks: (task ")


def test_a_rollout_completes_on_its_own_after_the_rollout_time(account):
    """Real time, with the session server's BERTH_MOTO_ROLLOUT_SECONDS."""
    assert account.config()["rolloutSeconds"] == ROLLOUT_SECONDS
    old, new = account.register(), account.register(image="nginx:1.28")
    account.create_service(old)
    account.wait_for(lambda s: primary(s)["rolloutState"] == "COMPLETED")
    deployment = primary(account.update_service(taskDefinition=new, desiredCount=3))
    done = account.wait_for(lambda s: primary(s)["rolloutState"] == "COMPLETED")
    assert primary(done)["id"] == deployment["id"]
    assert primary(done)["taskDefinition"] == new
    assert (done["runningCount"], done["desiredCount"], len(done["deployments"])) == (3, 3, 1)


def test_an_update_replacing_an_in_flight_deployment(account):
    account.slow_rollouts()
    tds = [account.register(image=f"nginx:{n}") for n in range(3)]
    account.create_service(tds[0])
    account.advance()
    account.update_service(taskDefinition=tds[1])
    replaced = account.update_service(taskDefinition=tds[2])
    assert [(d["status"], d["taskDefinition"]) for d in replaced["deployments"]] == [
        ("PRIMARY", tds[2]),
        ("ACTIVE", tds[1]),
        ("ACTIVE", tds[0]),
    ]
    account.advance()
    done = account.describe()
    assert [(d["status"], d["taskDefinition"]) for d in done["deployments"]] == [
        ("PRIMARY", tds[2])
    ]


def test_force_new_deployment_redeploys_the_same_task_definition(account):
    account.slow_rollouts()
    td = account.register()
    first = primary(account.create_service(td))
    account.advance()
    forced = account.update_service(forceNewDeployment=True)
    assert [d["status"] for d in forced["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert primary(forced)["id"] != first["id"]
    assert primary(forced)["taskDefinition"] == td
    assert primary(forced)["rolloutState"] == "IN_PROGRESS"


def test_other_deployment_settings_start_a_deployment_too(account):
    account.slow_rollouts()
    account.create_service(account.register())
    account.advance()
    updated = account.update_service(platformVersion="1.4.0")
    assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert primary(updated)["platformVersion"] == "1.4.0"


def test_settings_that_need_no_new_tasks_start_no_deployment(account):
    account.slow_rollouts()
    td = account.register()
    first = primary(account.create_service(td))
    account.advance()
    updated = account.update_service(
        taskDefinition=td,  # the same one
        healthCheckGracePeriodSeconds=30,
        deploymentConfiguration={"maximumPercent": 150},
        propagateTags="SERVICE",
    )
    assert [d["id"] for d in updated["deployments"]] == [first["id"]]
    assert primary(updated)["rolloutState"] == "COMPLETED"


def test_desired_count_scales_the_primary_over_the_rollout_time(account):
    account.slow_rollouts()
    account.create_service(account.register())
    account.advance()
    first = primary(account.describe())

    up = account.update_service(desiredCount=5)
    deployment = primary(up)
    assert deployment["id"] == first["id"] and len(up["deployments"]) == 1
    assert deployment["rolloutState"] == "COMPLETED"
    assert (deployment["desiredCount"], deployment["runningCount"], deployment["pendingCount"]) == (
        5, 2, 3,
    )
    assert messages(up)[0].startswith("(service web) has started 3 tasks: ")
    account.advance()
    done = account.describe()
    assert (done["runningCount"], done["pendingCount"]) == (5, 0)
    assert messages(done)[0] == "(service web) has reached a steady state."

    down = account.update_service(desiredCount=1)
    assert (down["runningCount"], down["pendingCount"]) == (1, 0)
    assert messages(down)[0].startswith("(service web) has stopped 4 running tasks: ")


def test_events_are_newest_first_with_unique_ids(account):
    account.slow_rollouts()
    old, new = account.register(), account.register(image="nginx:1.28")
    account.create_service(old)
    account.advance()
    account.update_service(taskDefinition=new)
    account.advance()
    events = account.describe()["events"]
    assert len(events) == 7, [e["message"] for e in events]
    assert len({e["id"] for e in events}) == len(events)
    times = [e["createdAt"] for e in events]
    assert times == sorted(times, reverse=True)


def test_a_service_with_no_tasks_completes_without_starting_any(account):
    account.slow_rollouts()
    account.create_service(account.register(), desiredCount=0)
    account.advance()
    done = account.describe()
    assert primary(done)["rolloutState"] == "COMPLETED"
    assert not any("has started" in m for m in messages(done))


def test_rollout_seconds_are_per_account(account, server):
    from conftest import Account

    other = Account(server, f"{int(account.id) + 500_000:012d}")
    account.control("rollout-seconds", 42)
    assert account.config()["rolloutSeconds"] == 42
    assert other.config()["rolloutSeconds"] == ROLLOUT_SECONDS
    account.control("rollout-seconds", None)
    assert account.config()["rolloutSeconds"] == ROLLOUT_SECONDS
