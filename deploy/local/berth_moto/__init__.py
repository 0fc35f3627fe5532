"""berth_moto: moto 5.2.5 (the local ECS/ECR emulator) plus the few fixes berth depends on.

Run it like ``moto_server``: ``python -m berth_moto -H 127.0.0.1 -p 5000`` (with this directory's
parent, ``deploy/local``, on ``PYTHONPATH``). It patches moto's ECS backend and responses in
process, then starts moto's own server (``moto.server.main``) with the same arguments, wrapped in
a small WSGI layer that adds the ``/berth-moto/`` control endpoints.

Everything it changes in moto, and why (real ECS behaves as described; moto 5.2.5 does not):

``EC2ContainerServiceResponse.create_service`` (wrapped, :mod:`berth_moto.patches`)
    moto drops ``deploymentConfiguration``, ``capacityProviderStrategy``, ``enableExecuteCommand``,
    ``enableECSManagedTags``, ``healthCheckGracePeriodSeconds``, ``placementConstraints``,
    ``placementStrategy`` and ``availabilityZoneRebalancing`` (never stored, so
    ``DescribeServices`` cannot return them) and ``serviceConnectConfiguration`` /
    ``volumeConfigurations`` (ECS reports those on the deployment). They are now stored, with the
    defaults ECS reports (``deploymentConfiguration`` 200/100 percent, 100/0 for a DAEMON service,
    circuit breaker off; ``enableExecuteCommand``/``enableECSManagedTags`` false). moto also sets
    ``launchType: EC2`` when a capacity provider strategy is given; ECS leaves it unset. The
    service gets its ``createdAt``. moto also replaced an ACTIVE service of the same name
    silently; now, as in ECS, a create repeated with the first one's ``clientToken`` answers the
    existing service unchanged (an SDK retry after a lost answer), and any other create of an
    existing service fails with ``InvalidParameterException: Creation of service was not
    idempotent.``

``EC2ContainerServiceResponse.register_task_definition`` (wrapped)
    ECS answers with the revision's ``tags`` beside ``taskDefinition``; moto leaves them out. They
    are now in the answer, so a client need not describe the revision it just registered.

``EC2ContainerServiceBackend.update_service`` (wrapped)
    moto stores ``taskDefinition`` exactly as sent (``web:3``, even ``web``) and only checks it
    after applying every other change; it is now resolved to the full ARN first (an unknown one
    fails the call and changes nothing). ``networkConfiguration`` is validated against EC2 like on
    create. A partial ``deploymentConfiguration`` is merged into the current one instead of
    replacing it. A capacity provider strategy clears ``launchType``. ``desiredCount`` no longer
    makes ``runningCount`` jump to it; ``forceNewDeployment`` no longer just renames the PRIMARY.

Deployments with a life (:mod:`berth_moto.rollout`)
    moto has no scheduler: a service keeps its first deployment forever. Now ``CreateService``,
    and ``UpdateService`` that changes the task definition, network configuration, platform
    version, launch type or capacity provider strategy, load balancers, service registries,
    Service Connect, volume configurations or placement, or sets ``forceNewDeployment``, starts a
    new PRIMARY deployment (``ecs-svc/<digits>``, ``IN_PROGRESS``, pending = desired); the previous
    PRIMARY becomes ACTIVE and keeps its tasks until the new one completes. After the rollout time
    (``BERTH_MOTO_ROLLOUT_SECONDS``, default 2) the PRIMARY is ``COMPLETED`` with running =
    desired and the ACTIVE ones are gone; a ``desiredCount`` change moves the counts over the same
    time. Service ``events`` are recorded as ECS words them. Nothing runs in the background:
    the state is brought up to date from the clock whenever a service is created, updated or
    described (``EC2ContainerServiceBackend.describe_services`` is wrapped for that).

Failing images and the deployment circuit breaker (:mod:`berth_moto.rollout`, :mod:`.config`)
    A deployment whose task definition names an image listed as failing
    (``BERTH_MOTO_FAILING_IMAGES`` or ``POST /berth-moto/failing-images``; tag and digest forms of
    an ECR image are both matched) never gets a running task. With
    ``deploymentCircuitBreaker.enable`` it goes ``FAILED`` after the rollout time and, with
    ``rollback``, the last COMPLETED deployment becomes PRIMARY again (and the service's
    ``taskDefinition`` goes back to it), completing after another rollout time. Without the
    circuit breaker it stays ``IN_PROGRESS`` while ``failedTasks`` grows, as in ECS.

``EC2ContainerServiceBackend.describe_task_definition`` (wrapped)
    A family without a revision now means its latest ACTIVE revision, not its latest revision
    whatever its status (``DescribeTaskDefinition``, ``CreateService``, ``UpdateService``).

``EC2ContainerServiceResponse.list_task_definitions`` (wrapped)
    moto ignores ``sort``; results are now ordered by family, then revision, and ``sort: DESC``
    reverses that (so the first ARN of ``familyPrefix=web, status=ACTIVE, sort=DESC`` is the
    family's latest ACTIVE revision).

``TokenResponse.assume_role`` (STS, wrapped)
    moto lets anyone assume any role with any ``ExternalId``. Roles listed through
    ``POST /berth-moto/denied-roles``, and roles given a required external id through
    ``POST /berth-moto/role-external-ids`` when the call lacks exactly that ``ExternalId``, are
    now refused as AWS refuses them: HTTP 403, ``AccessDenied``, ``User: <caller ARN> is not
    authorized to perform: sts:AssumeRole on resource: <role ARN>``, serialized by moto's own
    query serializer (``<ErrorResponse><Error>...``, which botocore and the Rust SDK parse).

``moto.server.DomainDispatcherApplication`` (subclassed, :mod:`berth_moto.app`)
    Serves ``/berth-moto/config``, ``/berth-moto/failing-images``, ``/berth-moto/rollout-seconds``,
    ``/berth-moto/advance-clock``, ``/berth-moto/denied-roles`` and
    ``/berth-moto/role-external-ids``; ``POST /moto-api/reset`` also resets those settings. It
    remembers moto's choice of backend per host: moto lists its package directory on every
    request to make it (about 1.5 ms of CPU, a quarter to a third of a small call).

Serializer and dispatch shortcuts (:mod:`berth_moto.fast`)
    moto's response serializer worked out, for every member of every structure of every answer,
    which attribute names to try, through six alias-provider objects and a joined key path:
    60-75% of a ``DescribeServices`` of 10 services. Those lists, and each structure's members
    with their handlers, are now kept per shape and class of object (``ResponseSerializer
    .get_value`` replaced, ``JSONSerializer`` replaced by a subclass that converts leaf values
    in place, as moto converts them). ``call_action``'s ``inspect.getmembers`` of the response
    class is kept per class, and ``_enrich_response`` no longer runs its ``<RequestId>``
    regular expression over JSON bodies that cannot contain one. Answers are byte for byte
    moto's (``tests/test_fast.py`` serializes every answer of a run both ways and compares).

Kept server threads (:mod:`berth_moto.serving`)
    werkzeug's threaded server starts a thread per connection (one per request: it closes
    every connection after one answer); a finished request's thread now waits for the next
    connection instead, and a new one is started only when none is free.

Start-up (:mod:`berth_moto.warm`)
    Before serving, the launcher loads the ECS, ECR and EC2 models moto would load on the first
    requests, then freezes the heap (``gc.freeze()``), so the garbage collector's full
    collections walk account state only: pauses of about 10 ms instead of 180 ms of CPU
    (250-450 ms on a busy machine), with every request stalled, one every few hundred calls and
    after each reset.

Known gaps left alone (berth does not depend on them) are listed in ``deploy/local/README.md``.
"""

from __future__ import annotations

#: The moto version these patches were written against (``requirements.txt`` pins it).
MOTO_VERSION = "5.2.5"


def install() -> None:
    """Applies every patch to the imported moto (idempotent)."""
    from . import fast, patches

    patches.install()
    fast.install()
