"""pgbouncer-k8s on a real controller: it comes up against postgresql-k8s,
serves a client one address for every unit, and keeps its credentials out
of databags."""

import json

import jubilant

APP = "pgbouncer-k8s"
IMAGE = "ghcr.io/canonical/charmed-pgbouncer:1.21-22.04"
CLIENT = "data-integrator"
DATABASE = "integration_db"


def test_deploy_and_serve_a_client(juju: jubilant.Juju, charm):
    juju.deploy("postgresql-k8s", channel="14/stable", trust=True)
    juju.deploy(charm, APP, num_units=2, resources={"pgbouncer-image": IMAGE})
    juju.deploy(CLIENT, channel="latest/stable", config={"database-name": DATABASE})
    juju.integrate(f"{APP}:backend-database", "postgresql-k8s:database")
    juju.integrate(CLIENT, f"{APP}:database")
    juju.wait(
        lambda status: jubilant.all_active(status, APP, "postgresql-k8s", CLIENT),
        error=jubilant.any_error,
    )

    credentials = juju.run(f"{CLIENT}/leader", "get-credentials").results["postgresql"]
    # One address for every unit: the application's Service, not a pod.
    assert credentials["endpoints"] == f"{APP}.{juju.model}.svc.cluster.local:6432"
    assert credentials["database"] == DATABASE
    assert credentials["username"].startswith("relation_id_")

    # Every unit's PgBouncer serves the client's database.
    for unit in juju.status().apps[APP].units:
        ini = juju.ssh(unit, "cat /var/lib/pgbouncer/pgbouncer.ini", container="pgbouncer")
        assert f"{DATABASE} =" in ini, unit


def keys(value):
    """Every key of every object in a JSON document."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from keys(inner)


def test_no_credential_in_a_databag(juju: jubilant.Juju):
    # Everything a model reader sees of every relation of every unit.
    for unit in juju.status().apps[APP].units:
        shown = json.loads(juju.cli("show-unit", unit, "--format", "json"))
        for key in keys(shown):
            assert key not in ("password", "auth_file", "auth-file", "admin_password"), (unit, key)
            assert not key.startswith("relation_id_"), (unit, key)
