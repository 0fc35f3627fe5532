"""Warm-up: moto's models are loaded before the server answers, and the heap is frozen."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from conftest import LOCAL

from berth_moto.warm import SERVICES, warm_up

WARM_UP_REPORT = """
import gc, json
import berth_moto
berth_moto.install()
import moto.server
from moto.core.base_backend import AccountSpecificBackend
from moto.core.utils import get_service_model
from moto.ec2.models import ec2_backends
from moto.ecr.models import ecr_backends
from moto.ecs.models import ecs_backends
from berth_moto.warm import warm_up

loaded = warm_up()
before = get_service_model.cache_info()
for service in ("ecs", "ecr", "ec2"):
    get_service_model(service)
session = AccountSpecificBackend.get_session()
print(json.dumps({
    "loaded": loaded,
    "models": before.currsize,
    "modelsLoadedAgain": get_service_model.cache_info().misses - before.misses,
    "ecsRegions": "us-east-1" in session.get_available_regions("ecs"),
    "frozen": gc.get_freeze_count(),
    "collecting": gc.isenabled(),
    "accounts": [len(ecs_backends), len(ecr_backends), len(ec2_backends)],
}))
"""


def test_warm_up_loads_the_models_before_any_account_exists():
    result = subprocess.run(
        [sys.executable, "-c", WARM_UP_REPORT],
        env={"PYTHONPATH": str(LOCAL)}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] is True
    assert report["models"] == len(SERVICES) == 3
    assert report["modelsLoadedAgain"] == 0, "requests find the models loaded"
    assert report["ecsRegions"]
    assert report["frozen"] > 0 and report["collecting"]
    # No account state existed to be frozen (the collector never frees frozen objects).
    assert report["accounts"] == [0, 0, 0]


def test_a_failed_warm_up_leaves_the_models_to_first_use(monkeypatch, capsys):
    import moto.core.utils

    def broken(service):
        raise RuntimeError(f"no model for {service}")

    monkeypatch.setattr(moto.core.utils, "get_service_model", broken)
    try:
        assert warm_up(("ecs",)) is False
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert "models not preloaded (no model for ecs)" in capsys.readouterr().err
