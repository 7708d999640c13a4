"""Fixtures of the integration tests: a real Juju controller, a model of
their own, and the packed charm.

Nothing here runs unless ``OPS_RS_JUJU_CONTROLLER`` names a controller the
``juju`` CLI knows: deploying is never done to whatever controller happens
to be current.
"""

import os
import pathlib
import shutil
import subprocess

import jubilant
import pytest

CHARM_DIR = pathlib.Path(__file__).resolve().parents[2]
REPO = CHARM_DIR.parents[1]


def pytest_collection_modifyitems(config, items):
    controller = os.environ.get("OPS_RS_JUJU_CONTROLLER")
    if controller and shutil.which("juju"):
        return
    reason = (
        "no controller: set OPS_RS_JUJU_CONTROLLER to a controller the juju CLI knows"
        if not controller
        else "the juju CLI is not on PATH"
    )
    for item in items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def juju():
    """A temporary model on the chosen controller, destroyed afterwards
    (kept with ``OPS_RS_KEEP_MODEL=1``, to look at after a failure)."""
    keep = os.environ.get("OPS_RS_KEEP_MODEL") == "1"
    with jubilant.temp_model(keep=keep, controller=os.environ["OPS_RS_JUJU_CONTROLLER"]) as juju:
        juju.wait_timeout = 20 * 60
        yield juju


@pytest.fixture(scope="module")
def charm() -> pathlib.Path:
    """The charm to deploy: ``PGBOUNCER_K8S_CHARM`` if set (a ``.charm``
    packed earlier), otherwise packed now with ``scripts/pack``."""
    given = os.environ.get("PGBOUNCER_K8S_CHARM")
    if given:
        return pathlib.Path(given).resolve()
    subprocess.run([REPO / "scripts" / "pack", CHARM_DIR], check=True)
    return next(CHARM_DIR.glob("pgbouncer-k8s_*.charm"))
