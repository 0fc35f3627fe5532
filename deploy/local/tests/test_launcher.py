"""The launcher (python -m berth_moto) and the /berth-moto/ control endpoints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import ENV_FAILING_IMAGES, LOCAL, ROLLOUT_SECONDS, http, start_server


def test_config_reports_the_extension_and_its_settings(server):
    status, config = http(server, "GET", "/berth-moto/config")
    assert status == 200
    assert config == {
        "account": None,
        "failingImages": [ENV_FAILING_IMAGES],
        "rolloutSeconds": ROLLOUT_SECONDS,
        "clockOffsetSeconds": 0.0,
        "deniedRoles": [],
        "roleExternalIds": {},
        "motoVersion": "5.2.5",
    }


def test_bad_control_requests_are_refused(server):
    account = "399999999999"
    assert http(server, "POST", "/berth-moto/failing-images", "web:1", account)[0] == 400
    assert http(server, "POST", "/berth-moto/failing-images", [1], account)[0] == 400
    assert http(server, "POST", "/berth-moto/rollout-seconds", -1, account)[0] == 400
    assert http(server, "POST", "/berth-moto/rollout-seconds", "2", account)[0] == 400
    assert http(server, "POST", "/berth-moto/advance-clock", None, account)[0] == 400
    assert http(server, "POST", "/berth-moto/nothing", 1, account)[0] == 404
    assert http(server, "GET", "/berth-moto/failing-images", account=account)[0] == 405
    assert http(server, "GET", "/berth-moto/config", account=account)[1]["failingImages"] == [
        ENV_FAILING_IMAGES
    ]


def test_the_pinned_moto_is_the_one_patched():
    import berth_moto

    requirements = (LOCAL / "requirements.txt").read_text()
    assert f"moto[server]=={berth_moto.MOTO_VERSION}" in requirements.splitlines()


def test_reset_restores_the_environment_settings_and_stdin_eof_stops_the_server():
    process, endpoint, log = start_server({"BERTH_MOTO_FAILING_IMAGES": "a:1, b@sha256:2"})
    try:
        assert http(endpoint, "GET", "/berth-moto/config")[1]["failingImages"] == [
            "a:1", "b@sha256:2"
        ]
        http(endpoint, "POST", "/berth-moto/failing-images", ["c:3"])
        http(endpoint, "POST", "/berth-moto/rollout-seconds", 9, "123456789012")
        assert http(endpoint, "GET", "/berth-moto/config")[1]["failingImages"] == ["c:3"]
        assert http(endpoint, "POST", "/moto-api/reset")[0] == 200
        config = http(endpoint, "GET", "/berth-moto/config", account="123456789012")[1]
        assert config["failingImages"] == ["a:1", "b@sha256:2"]
        assert config["rolloutSeconds"] == 2.0, "the default rollout time"
    finally:
        process.stdin.close()
        assert process.wait(timeout=10) == 0
    assert re.search(r"berth_moto: moto 5\.2\.5 with berth's extension; rollout 2s; "
                     r"failing images: a:1, b@sha256:2", log.read_text())
    log.unlink()


def test_a_malformed_setting_stops_the_launcher_with_a_message():
    env = {"PYTHONPATH": str(LOCAL), "BERTH_MOTO_ROLLOUT_SECONDS": "soon"}
    result = subprocess.run(
        [sys.executable, "-m", "berth_moto", "-p", "1"],
        env=env, capture_output=True, text=True, timeout=60, cwd=Path("/"),
    )
    assert result.returncode != 0
    assert "berth_moto:" in result.stderr and "soon" in result.stderr
