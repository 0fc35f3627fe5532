"""Loading, before the server answers, what moto otherwise loads on the first ECS, ECR and EC2
requests, and keeping the garbage collector's full collections off it.

moto keeps two copies of each service's botocore model (tens of thousands of dicts for EC2
alone): one for its response serializer (``moto.core.utils.get_service_model``) and one in the
botocore session its backends list regions with. Both are cached for the life of the process,
and loaded on first use. Python's full (generation 2) collection walks every tracked object,
about 200,000 of them with the models loaded: each full collection took about 180 ms of CPU
(250-450 ms on a busy machine), during which no request is served (the interpreter lock is
held); one came every few hundred calls, and right after ``/moto-api/reset``.

:func:`warm_up` loads them for the services berth uses, then ``gc.freeze()`` moves everything
alive at that point (moto's modules, the models) out of the collector's reach. A full
collection then only walks what requests created since (account state): under 20,000 objects,
about 10 ms. The collector never frees a frozen cycle, so this runs before any account exists:
what it freezes is imported code and process-wide caches, which live until the process exits.
"""

from __future__ import annotations

import gc
import sys

#: The services berth (and its tests) call; their models are loaded by :func:`warm_up`.
SERVICES = ("ecs", "ecr", "ec2")


def warm_up(services: tuple[str, ...] = SERVICES) -> bool:
    """Loads moto's and botocore's cached models of ``services``, then freezes the heap.

    Returns whether the models were loaded. A failure (botocore refusing the environment's
    configuration, say) is reported and only leaves them to be loaded on first use, as moto
    does; the heap is frozen either way.
    """
    loaded = True
    collecting = gc.isenabled()
    gc.disable()  # no full collections while the models load: one, below, is enough
    try:
        from moto.core.base_backend import AccountSpecificBackend
        from moto.core.utils import get_service_model

        session = AccountSpecificBackend.get_session()
        for service in services:
            # What the serializer loads on the first response of the service ...
            get_service_model(service)
            # ... and what creating the service's first account backend loads (its regions).
            for partition in session.get_available_partitions():
                session.get_available_regions(service, partition_name=partition)
    except Exception as error:  # noqa: BLE001 - never stop the server over an optimisation
        loaded = False
        print(f"berth_moto: warning: models not preloaded ({error})", file=sys.stderr)
    finally:
        gc.collect()
        gc.freeze()
        if collecting:
            gc.enable()
    return loaded
