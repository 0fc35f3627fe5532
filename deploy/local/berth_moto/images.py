"""Is an image marked as failing? Substring match, with ECR tags and digests made equivalent.

berth registers task definitions pinned to digests (``REPO@sha256:...``) while people list
failing images by tag (``bad:broken``), or the other way round. So an ECR image reference is
expanded to every name the emulator's ECR knows for the same image (``REPO:TAG`` for each of its
tags and ``REPO@DIGEST``) before the configured substrings are looked for in it.
"""

from __future__ import annotations

import re

from moto.ecr.models import ecr_backends

# ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG][@DIGEST]
_ECR_IMAGE = re.compile(
    r"^(?P<host>(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?)"
    r"/(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$"
)


def ecr_aliases(image: str) -> set[str]:
    """``image`` plus its other names in the emulator's ECR (none for non-ECR images)."""
    aliases = {image}
    match = _ECR_IMAGE.match(image)
    if not match:
        return aliases
    try:
        backend = ecr_backends[match["account"]][match["region"]]
    except KeyError:
        return aliases
    repository = backend.repositories.get(match["repo"])
    if repository is None:
        return aliases
    for stored in repository.images:
        tags = list(getattr(stored, "image_tags", None) or [])
        if stored.image_tag and stored.image_tag not in tags:
            tags.append(stored.image_tag)
        digest = stored.image_digest
        if (match["digest"] and match["digest"] == digest) or (
            not match["digest"] and match["tag"] in tags
        ):
            base = f"{match['host']}/{match['repo']}"
            aliases.update(f"{base}:{tag}" for tag in tags)
            aliases.add(f"{base}@{digest}")
    return aliases


def failing_image(images: list[str], failing: list[str]) -> str | None:
    """The first of ``images`` that one of the ``failing`` substrings matches, if any."""
    if not failing:
        return None
    for image in images:
        names = ecr_aliases(image)
        if any(entry in name for entry in failing for name in names):
            return image
    return None
