#!/usr/bin/env python3
"""Per-test cost of Python ops' two unit-test faces, on the Python port of pgbouncer-k8s.

Part of benches/unit-tests-vs-python (run that script, not this file, unless
you have a venv at hand). That driver makes a venv at
$CARGO_TARGET_DIR/unit-faces-venv from benches/support/unit-faces-requirements.txt
(Python ops 3.9.0 and the ops-scenario that goes with it, all pinned) and runs

    python benches/support/unit_faces.py --runs N [--only SCENARIO] [--warmup W]

The charm under test is the real class of tests/python-pgbouncer/src/charm.py
(its directory is put on sys.path; metadata.yaml and config.yaml are read from
tests/python-pgbouncer by each face, as a charm's own test suite would).

Faces:
- harness: ops.testing.Harness (set up before begin(), then the one event
  emitted on the charm);
- context: ops.testing.Context with State (the state-transition API that
  ops[testing] brings in as ops-scenario).

Scenarios, each one whole test (set-up, one event, assertions, tear-down),
after the Rust tests in charms/pgbouncer-k8s/tests/in_process/state_transitions.rs:
- leader_defers_without_config: the leader, alone in pgb-peers, Pebble up
  and nothing in the container; pgb-peers-relation-created is deferred and
  nothing is shared (created_on_a_leader_without_local_config_defers).
- leader_shares_config: the leader with a rendered config, an auth file and
  PgBouncer running, a stale config shared; pgb-peers-relation-changed from
  unit 1 shares the local config and the leader's hostname, defers nothing,
  leaves the local files alone and does not reload
  (joined_and_changed_on_a_leader_share_the_local_config_and_return). As in
  the Rust charm, the leader makes the admin and stats users' passwords and
  SCRAM-SHA-256 verifiers and keeps them in the application's secret, which
  it creates.
- follower_writes_config: a follower running the old config while the
  leader shares one with another max_db_connections; pgb-peers-relation-
  changed from the leader writes it (main and per-instance files) and the
  auth file of the application's secret, and signals PgBouncer to reload,
  which is what the port does for a change that needs no restart
  (followers_reload_pgbouncer_only_when_a_file_changed, case "changed
  cfg_file").

The auth files the scenarios start from are made once, as the Rust bench's
fixtures are: a SCRAM verifier costs more than a test, and is the test's data,
not what is measured.

Every run checks its outcome and raises if it is wrong, so each timing is of
a test that passed. For each (face, scenario) a few untimed warm-up runs come
first, then N timed ones; one JSON object per line goes to stdout:

    {"face": ..., "scenario": ..., "runs": N, "median_us": ..., "mean_us": ...,
     "p90_us": ..., "cpu_median_us": ...[, "note": ...]}

wall time from time.perf_counter_ns, CPU time of this process from
time.process_time_ns. "note" is there only where a face needed help to show
the outcome (see NOTES below); stderr gets the same notes once.

Both faces make and remove temporary directories in every test (Harness a
root per container, Context one per Context and a virtual charm root per
run; the Context tests add a mount source). Where those go follows the rule
of the Rust test kit's scratch directories (ops/src/scratch.rs), so that the
two sides pay the same for them: a TMPDIR set by the caller wins, else
/dev/shm when a directory can be made there, else the system default. On a
disk filesystem removing them can cost more than the test itself.
"""

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
PORT_DIR = HERE.parent.parent / "tests" / "python-pgbouncer"
sys.path.insert(0, str(PORT_DIR / "src"))
# Importing the port must not leave a __pycache__ in the source tree.
sys.dont_write_bytecode = True

import ops  # noqa: E402
from ops import pebble, testing  # noqa: E402

import charm as port  # noqa: E402  (the Python port's src/charm.py)

# Harness says it is deprecated each time one is made; that is known and not
# what is being measured, so keep it off stderr.
warnings.simplefilter("ignore", PendingDeprecationWarning)

APP = "pgbouncer-k8s"
MODEL = "context"  # the model name the Rust tests' hostnames use
PEERS = port.PEERS
CONTAINER = port.CONTAINER
# The backend user the Rust tests name the auth user after.
AUTH_USER = port.AUTH_USER_PREFIX + "relation_id_7"
# The port picks its instance count in PgbouncerK8sCharm.__init__ from the
# CPUs; the set-up must render the same number of instance files and services.
INSTANCES = min(max(os.cpu_count() or 1, 2), 4)

SCENARIOS = ("leader_defers_without_config", "leader_shares_config", "follower_writes_config")
FACES = ("harness", "context")
# The memory filesystem Linux gives every process.
MEMORY_FS = "/dev/shm"

# Where a face does not show the outcome by itself, and what the test does
# instead. Printed with the results so nobody mistakes it for a face feature.
NOTES = {
    ("harness", "leader_defers_without_config"):
        "Harness has no public record of deferred events: read from the framework's notice store",
    ("harness", "leader_shares_config"):
        "no reload seen through a spy on ops.Container.send_signal/restart (Harness keeps no record of "
        "signals); deferrals read from the framework's notice store",
    ("harness", "follower_writes_config"):
        "Harness's unit is always <app>/0: follower is pgbouncer-k8s/0, leader /1; SIGHUP seen through a "
        "spy on ops.Container.send_signal (Harness keeps no record of signals); deferrals read from the "
        "framework's notice store",
    ("context", "leader_shares_config"):
        "no reload seen through a spy on ops.Container.send_signal/restart (Context keeps no record of signals)",
    ("context", "follower_writes_config"):
        "SIGHUP seen through a spy on ops.Container.send_signal (Context keeps no record of signals)",
}


class Failed(Exception):
    """A scenario's outcome was not the expected one."""


def check(condition, what):
    # Not `assert`: python -O must not turn the checks off.
    if not condition:
        raise Failed(what)


# --- fixtures, made with the port's own functions ---------------------------


def config(max_db_connections):
    return port.PgbConfig.default_for(INSTANCES, max_db_connections, 6432, "session")


_AUTH_FILES = {}


def auth_file(password):
    """An auth file with the auth user's verifier of `password`, made once per password
    (the tests only render it)."""
    if password not in _AUTH_FILES:
        _AUTH_FILES[password] = port.AuthFile()
        _AUTH_FILES[password].set_user(AUTH_USER, password)
    return _AUTH_FILES[password]


def host(n):
    return port.unit_hostname(f"{APP}/{n}", MODEL)


def instance_ini(n):
    return f"{port.LIB_DIR}/instance_{n}/pgbouncer.ini"


def service_names():
    return [f"pgbouncer_{n}" for n in range(INSTANCES)]


def workload_files(cfg, auth):
    """What a unit running `cfg` has on disk: {path: (text, mode)}."""
    files = {port.INI_PATH: (cfg.render(), 0o644)}
    for n in range(INSTANCES):
        files[instance_ini(n)] = (cfg.render_instance(n), 0o644)
    files[port.AUTH_FILE_PATH] = (auth.render(), 0o400)
    return files


def layer():
    # Workload.layer() only looks at the instance count.
    return port.Workload(None, INSTANCES).layer()


@contextmanager
def pebble_actions():
    """Records the charm's service signals and restarts while the real
    methods still run: neither face keeps a record of a signal, and a reload
    is only a signal. Yields the list of (what, services)."""
    calls = []
    real_signal, real_restart = ops.Container.send_signal, ops.Container.restart

    def send_signal(self, sig, *names):
        calls.append((str(sig), frozenset(names)))
        return real_signal(self, sig, *names)

    def restart(self, *names):
        calls.append(("restart", frozenset(names)))
        return real_restart(self, *names)

    ops.Container.send_signal, ops.Container.restart = send_signal, restart
    try:
        yield calls
    finally:
        ops.Container.send_signal, ops.Container.restart = real_signal, real_restart


# --- Harness ------------------------------------------------------------------


def harness_deferred(harness):
    # The event kinds the framework keeps to re-emit at the next dispatch.
    return [path.rsplit("/", 1)[-1].split("[")[0]
            for path, _, _ in harness.framework._storage.notices(None)]


def harness_running_container(harness, files):
    harness.set_can_connect(CONTAINER, True)
    container = harness.model.unit.get_container(CONTAINER)
    for path, (text, mode) in files.items():
        container.push(path, text, make_dirs=True, permissions=mode)
    container.add_layer(port.LAYER_LABEL, layer(), combine=True)
    container.replan()  # the services start: PgBouncer is running
    return container


def harness_file(harness, path):
    full = harness.get_filesystem_root(CONTAINER) / path.lstrip("/")
    return full.read_text() if full.exists() else None


def harness_leader_defers_without_config():
    harness = testing.Harness(port.PgbouncerK8sCharm)
    try:
        harness.set_model_name(MODEL)
        harness.set_leader(True)
        rel_id = harness.add_relation(PEERS, APP)
        harness.set_can_connect(CONTAINER, True)
        harness.begin()
        relation = harness.model.get_relation(PEERS, rel_id)
        harness.charm.on[PEERS].relation_created.emit(relation, harness.charm.app)

        deferred = harness_deferred(harness)
        check("pgb_peers_relation_created" in deferred, f"relation-created not deferred: {deferred}")
        bag = harness.get_relation_data(rel_id, APP)
        check(port.CFG_FILE not in bag, "cfg_file shared without a local config")
        check(port.SECRET_ID not in bag, "the secret shared without a local config")
    finally:
        harness.cleanup()


def harness_leader_shares_config():
    local, current_auth = config(100), auth_file("current")
    files = workload_files(local, current_auth)
    harness = testing.Harness(port.PgbouncerK8sCharm)
    try:
        harness.set_model_name(MODEL)
        harness.set_leader(True)
        rel_id = harness.add_relation(PEERS, APP, app_data={
            port.CFG_FILE: config(44).render(),
            port.LEADER_HOSTNAME: "gone",
        })
        harness.add_relation_unit(rel_id, f"{APP}/1")
        harness.update_relation_data(rel_id, f"{APP}/1", {port.PRIVATE_ADDRESS: host(1)})
        harness_running_container(harness, files)
        harness.begin()
        relation = harness.model.get_relation(PEERS, rel_id)
        with pebble_actions() as actions:
            harness.charm.on[PEERS].relation_changed.emit(
                relation, harness.charm.app, harness.model.get_unit(f"{APP}/1"))

        bag = harness.get_relation_data(rel_id, APP)
        check(bag.get(port.CFG_FILE) == local.render(), "cfg_file is not the local config")
        check(bag.get(port.LEADER_HOSTNAME) == host(0), f"leader_hostname: {bag.get(port.LEADER_HOSTNAME)}")
        check(bag.get(port.SECRET_ID), "the application's secret not made")
        deferred = harness_deferred(harness)
        check(not deferred, f"deferred: {deferred}")
        for path, (text, _) in files.items():
            check(harness_file(harness, path) == text, f"the leader changed its local {path}")
        check(not actions, f"the leader reloaded PgBouncer: {actions}")
    finally:
        harness.cleanup()


def harness_follower_writes_config():
    # Harness always runs unit <app>/0, so here the follower is /0 and the
    # leader /1: the port does nothing with the numbers but name hosts.
    old, new, old_auth = config(100), config(44), auth_file("old")
    shared_cfg, shared_auth = new.render(), old_auth.render()
    harness = testing.Harness(port.PgbouncerK8sCharm)
    try:
        harness.set_model_name(MODEL)
        harness.set_leader(False)
        secret_id = harness.add_model_secret(APP, {port.AUTH_FILE_KEY: shared_auth})
        rel_id = harness.add_relation(PEERS, APP, app_data={
            port.CFG_FILE: shared_cfg,
            port.SECRET_ID: secret_id,
            port.SECRET_REVISION: "1",
            port.LEADER_HOSTNAME: host(1),
        })
        harness.add_relation_unit(rel_id, f"{APP}/1")
        harness.update_relation_data(rel_id, f"{APP}/1", {port.PRIVATE_ADDRESS: host(1)})
        container = harness_running_container(harness, workload_files(old, old_auth))
        harness.begin()
        relation = harness.model.get_relation(PEERS, rel_id)
        with pebble_actions() as actions:
            harness.charm.on[PEERS].relation_changed.emit(
                relation, harness.charm.app, harness.model.get_unit(f"{APP}/1"))

        check(harness_file(harness, port.INI_PATH) == shared_cfg, "pgbouncer.ini is not the shared cfg_file")
        for n in range(INSTANCES):
            check(harness_file(harness, instance_ini(n)) == new.render_instance(n),
                  f"instance {n}'s pgbouncer.ini not rewritten")
        check(harness_file(harness, port.AUTH_FILE_PATH) == shared_auth, "userlist.txt changed")
        check(actions == [("SIGHUP", frozenset(service_names()))],
              f"expected one SIGHUP to every instance, got {actions}")
        running = {name: s.is_running() for name, s in container.get_services().items()}
        check(running == {name: True for name in service_names()}, f"services: {running}")
        deferred = harness_deferred(harness)
        check(not deferred, f"deferred: {deferred}")
    finally:
        harness.cleanup()


# --- Context / State ----------------------------------------------------------


def context_deferred(out):
    return [d.name for d in out.deferred]


def context_running_container(source, files):
    """The container with `files` under /var/lib/pgbouncer (a mount of the
    directory `source`, written here) and PgBouncer running."""
    for path, (text, mode) in files.items():
        target = Path(source) / os.path.relpath(path, port.LIB_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)
    return testing.Container(
        CONTAINER,
        can_connect=True,
        mounts={"lib": testing.Mount(location=port.LIB_DIR, source=source)},
        layers={port.LAYER_LABEL: pebble.Layer(layer())},
        service_statuses={name: pebble.ServiceStatus.ACTIVE for name in service_names()},
    )


def context_file(ctx, out, path):
    full = out.get_container(CONTAINER).get_filesystem(ctx) / path.lstrip("/")
    return full.read_text() if full.exists() else None


def context_leader_defers_without_config():
    with testing.Context(port.PgbouncerK8sCharm, unit_id=0) as ctx:
        peers = testing.PeerRelation(PEERS)
        state = testing.State(
            leader=True,
            model=testing.Model(name=MODEL),
            relations={peers},
            containers={testing.Container(CONTAINER, can_connect=True)},
        )
        out = ctx.run(ctx.on.relation_created(peers), state)

        deferred = context_deferred(out)
        check("pgb_peers_relation_created" in deferred, f"relation-created not deferred: {deferred}")
        bag = out.get_relation(peers.id).local_app_data
        check(port.CFG_FILE not in bag, "cfg_file shared without a local config")
        check(port.SECRET_ID not in bag, "the secret shared without a local config")


def context_leader_shares_config():
    local, current_auth = config(100), auth_file("current")
    files = workload_files(local, current_auth)
    with testing.Context(port.PgbouncerK8sCharm, unit_id=0) as ctx, \
            tempfile.TemporaryDirectory(prefix="unit-faces-") as source:
        peers = testing.PeerRelation(
            PEERS,
            local_app_data={
                port.CFG_FILE: config(44).render(),
                port.LEADER_HOSTNAME: "gone",
            },
            peers_data={1: {port.PRIVATE_ADDRESS: host(1)}},
        )
        state = testing.State(
            leader=True,
            model=testing.Model(name=MODEL),
            relations={peers},
            containers={context_running_container(source, files)},
        )
        with pebble_actions() as actions:
            out = ctx.run(ctx.on.relation_changed(peers, remote_unit=1), state)

        bag = out.get_relation(peers.id).local_app_data
        check(bag.get(port.CFG_FILE) == local.render(), "cfg_file is not the local config")
        check(bag.get(port.LEADER_HOSTNAME) == host(0), f"leader_hostname: {bag.get(port.LEADER_HOSTNAME)}")
        check(bag.get(port.SECRET_ID), "the application's secret not made")
        deferred = context_deferred(out)
        check(not deferred, f"deferred: {deferred}")
        for path, (text, _) in files.items():
            check(context_file(ctx, out, path) == text, f"the leader changed its local {path}")
        check(not actions, f"the leader reloaded PgBouncer: {actions}")


def context_follower_writes_config():
    old, new, old_auth = config(100), config(44), auth_file("old")
    shared_cfg, shared_auth = new.render(), old_auth.render()
    with testing.Context(port.PgbouncerK8sCharm, unit_id=1) as ctx, \
            tempfile.TemporaryDirectory(prefix="unit-faces-") as source:
        secret = testing.Secret({port.AUTH_FILE_KEY: shared_auth}, owner="app")
        peers = testing.PeerRelation(
            PEERS,
            local_app_data={
                port.CFG_FILE: shared_cfg,
                port.SECRET_ID: secret.id,
                port.SECRET_REVISION: "1",
                port.LEADER_HOSTNAME: host(0),
            },
            peers_data={0: {port.PRIVATE_ADDRESS: host(0)}},
        )
        state = testing.State(
            leader=False,
            model=testing.Model(name=MODEL),
            relations={peers},
            secrets={secret},
            containers={context_running_container(source, workload_files(old, old_auth))},
        )
        with pebble_actions() as actions:
            out = ctx.run(ctx.on.relation_changed(peers, remote_unit=0), state)

        check(context_file(ctx, out, port.INI_PATH) == shared_cfg, "pgbouncer.ini is not the shared cfg_file")
        for n in range(INSTANCES):
            check(context_file(ctx, out, instance_ini(n)) == new.render_instance(n),
                  f"instance {n}'s pgbouncer.ini not rewritten")
        check(context_file(ctx, out, port.AUTH_FILE_PATH) == shared_auth, "userlist.txt changed")
        check(actions == [("SIGHUP", frozenset(service_names()))],
              f"expected one SIGHUP to every instance, got {actions}")
        statuses = dict(out.get_container(CONTAINER).service_statuses)
        check(statuses == {name: pebble.ServiceStatus.ACTIVE for name in service_names()},
              f"services: {statuses}")
        deferred = context_deferred(out)
        check(not deferred, f"deferred: {deferred}")


TESTS = {
    ("harness", "leader_defers_without_config"): harness_leader_defers_without_config,
    ("harness", "leader_shares_config"): harness_leader_shares_config,
    ("harness", "follower_writes_config"): harness_follower_writes_config,
    ("context", "leader_defers_without_config"): context_leader_defers_without_config,
    ("context", "leader_shares_config"): context_leader_shares_config,
    ("context", "follower_writes_config"): context_follower_writes_config,
}


# --- the port's SCRAM -----------------------------------------------------------

# PostgreSQL's verifier of "auth-pw-s3cr3t" (salt 0x00..0x0f, 4096 rounds), the
# one charms/pgbouncer-k8s/src/auth.rs tests against.
KNOWN_SCRAM = ("SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$"
               "OhGmorJxQO+isX1yNGiEs4d4MZ1o/dOmzDvzeDh4MZI=:NPL8iJUIisla75JW4jYriGKDE9yQWVFKfPUNjY+YK84=")


def check_scram():
    """The port pays for SCRAM what the Rust charm pays only if it computes the same
    thing: it must accept PostgreSQL's verifier, refuse another password, and check
    the verifiers it makes."""
    check(port.scram_matches(KNOWN_SCRAM, "auth-pw-s3cr3t"), "refuses PostgreSQL's verifier")
    check(not port.scram_matches(KNOWN_SCRAM, "auth-pw-s3cr3u"), "accepts another password")
    made = port.scram_verifier("pässwörd")
    check(made.startswith("SCRAM-SHA-256$4096:") and port.scram_matches(made, "pässwörd"),
          "does not check its own verifier")


# --- timing -------------------------------------------------------------------


def percentile(sorted_values, fraction):
    # Nearest rank: a value that was measured, never one interpolated.
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def measure(test, runs, warmup):
    for _ in range(warmup):
        test()
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter_ns(), time.process_time_ns()
        test()
        c1, w1 = time.process_time_ns(), time.perf_counter_ns()
        wall.append(w1 - w0)
        cpu.append(c1 - c0)
    wall.sort()
    us = lambda ns: round(ns / 1000, 1)  # noqa: E731
    return {
        "median_us": us(statistics.median(wall)),
        "mean_us": us(statistics.fmean(wall)),
        "p90_us": us(percentile(wall, 0.9)),
        "cpu_median_us": us(statistics.median(cpu)),
    }


def choose_scratch_root():
    """Where the faces' temporary directories go (see the module docstring)."""
    if os.environ.get("TMPDIR"):
        return tempfile.gettempdir()
    try:
        os.rmdir(tempfile.mkdtemp(prefix="unit-faces-probe-", dir=MEMORY_FS))
    except OSError:
        return tempfile.gettempdir()
    tempfile.tempdir = MEMORY_FS  # every later mkdtemp/TemporaryDirectory without dir=
    return MEMORY_FS


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs per face and scenario")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    parser.add_argument("--only", choices=SCENARIOS, help="just this scenario")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup not negative")

    print(f"note: temporary directories under {choose_scratch_root()}", file=sys.stderr)
    try:
        check_scram()
    except Failed as e:
        sys.exit(f"the port's SCRAM: FAILED: {e}")
    for scenario in (args.only,) if args.only else SCENARIOS:
        for face in FACES:
            key = (face, scenario)
            try:
                result = measure(TESTS[key], args.runs, args.warmup)
            except Failed as e:
                sys.exit(f"{face} {scenario}: FAILED: {e}")
            line = {"face": face, "scenario": scenario, "runs": args.runs, **result}
            if key in NOTES:
                line["note"] = NOTES[key]
                print(f"note: {face} {scenario}: {NOTES[key]}", file=sys.stderr)
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
