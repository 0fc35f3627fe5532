"""The extension's pure parts, without a server."""

from __future__ import annotations

import pytest

from berth_moto.config import Config, parse_failing_images, parse_seconds
from berth_moto.images import failing_image
from berth_moto.patches import merge_deployment_configuration
from berth_moto.rollout import circuit_breaker_threshold


def test_failing_images_are_comma_separated_and_trimmed():
    assert parse_failing_images(" bad:broken, ,@sha256:dead ,") == ["bad:broken", "@sha256:dead"]
    assert parse_failing_images(None) == []


def test_seconds_must_be_non_negative_numbers():
    assert parse_seconds(None, 2.0) == 2.0
    assert parse_seconds(" ", 2.0) == 2.0
    assert parse_seconds("0.25", 2.0) == 0.25
    for bad in ["-1", "nan", "inf", "soon"]:
        with pytest.raises(ValueError):
            parse_seconds(bad, 2.0)


def test_account_settings_override_the_server_wide_ones():
    config = Config()
    config.reset({"BERTH_MOTO_FAILING_IMAGES": "a:1", "BERTH_MOTO_ROLLOUT_SECONDS": "5"})
    config.set_failing_images("111111111111", [])
    config.set_rollout_seconds("111111111111", 1)
    config.advance_clock(None, 10)
    config.advance_clock("111111111111", 5)
    mine, theirs = config.effective("111111111111"), config.effective("222222222222")
    assert (mine.failing_images, mine.rollout_seconds, mine.clock_offset) == ([], 1.0, 15.0)
    assert (theirs.failing_images, theirs.rollout_seconds, theirs.clock_offset) == (
        ["a:1"], 5.0, 10.0,
    )
    config.reset({})
    assert config.effective("111111111111").failing_images == []
    assert config.effective("111111111111").rollout_seconds == 2.0


def test_assume_role_is_refused_for_denied_roles_and_other_external_ids():
    config = Config()
    role, guarded = "arn:aws:iam::111111111111:role/a", "arn:aws:iam::111111111111:role/b"
    config.set_denied_roles([role])
    config.set_role_external_ids({guarded: "id-1"})
    assert not config.assume_role_allowed(role, None)
    assert not config.assume_role_allowed(role, "id-1")
    assert [config.assume_role_allowed(guarded, e) for e in (None, "", "id-2", "id-1")] == [
        False, False, False, True,
    ]
    assert config.assume_role_allowed("arn:aws:iam::111111111111:role/c", None)
    config.reset({})
    assert config.assume_role_allowed(role, None) and config.assume_role_allowed(guarded, None)


def test_failing_images_match_substrings_of_non_ecr_images():
    images = ["nginx:1.27", "registry.example.com/team/app:v2-broken"]
    assert failing_image(images, ["app:v2"]) == images[1]
    assert failing_image(images, ["nginx:1.28"]) is None
    assert failing_image(images, []) is None


def test_the_circuit_breaker_threshold_is_half_the_desired_count_within_3_and_200():
    assert [circuit_breaker_threshold(n) for n in (0, 1, 6, 7, 9, 1000)] == [3, 3, 3, 4, 5, 200]


def test_deployment_configuration_merges_over_defaults_or_the_current_one():
    assert merge_deployment_configuration(None, {"maximumPercent": 150}) == {
        "maximumPercent": 150,
        "minimumHealthyPercent": 100,
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    }
    current = {"maximumPercent": 150, "minimumHealthyPercent": 50}
    assert merge_deployment_configuration(current, {"minimumHealthyPercent": 0}) == {
        "maximumPercent": 150,
        "minimumHealthyPercent": 0,
    }
