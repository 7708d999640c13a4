#!/usr/bin/env python3
"""pgbouncer-k8s in Python ops: the logic of charms/pgbouncer-k8s, for the benchmark.

`benches/pgbouncer-vs-python` runs this and the Rust charm through the same
simulator scenario, fake hook tools, fake Pebble and throwaway PostgreSQL.
It does what the Rust charm does on each hook (see charms/pgbouncer-k8s/src
and docs/pgbouncer-k8s.md): the leader renders from its local files, restores
them from the pgb-peers app databag when they are gone, keeps the admin and
stats console users (juju_admin, juju_stats) in the auth file as SCRAM-SHA-256
verifiers, writes and shares the config with its hostname; the auth file and
every password live in one application-owned Juju secret (its id and a
revision counter in the app databag, the auth file in it only once the backend
is ready; older revisions' databag keys are moved into it); followers write
what the leader shares, only when it changed; a
changed file is taken by SIGHUP, a start-only setting by a restart of each
instance in turn; instances log to stderr; a file is pulled from Pebble at
most once per handler; the backend's SQL (auth user, get_auth, client users
and databases) runs against the same PostgreSQL, and the backend's
relation-changed serves every client that asked; clients get endpoints,
credentials and URIs; update-status checks that PgBouncer answers on
127.0.0.1:<listen_port>, and the collect-status of the same dispatch takes
what it asked Pebble. Stored state lives in Juju's unit state, as the Rust
charm's does. Synced with the Rust charm as of commit 0c458eb, and its
credentials (the secret, SCRAM verifiers for the console users and client
roles, the auth user's password in plain for PgBouncer's own login) as of
3964a7e. Not ported, so its final model differs from the Rust charm's there
(benches/pgbouncer-vs-python lists the differences): client and backend TLS
(the `tls` field, mTLS secrets), the exporter and the COS relations, one
address for all units (the Kubernetes Service), read-only routing, the
clients' marker role record, and the client interface's newer
requested/provided secrets.
"""

import base64
import errno
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import socket
import string

import ops
import psycopg2

logger = logging.getLogger(__name__)

PEERS = "pgb-peers"
BACKEND = "backend-database"
CLIENT = "database"
CONTAINER = "pgbouncer"
LAYER_LABEL = "pgbouncer"
WORKLOAD_USER = "postgres"
LIB_DIR = "/var/lib/pgbouncer"
LOG_DIR = "/var/log/pgbouncer"
INI_PATH = f"{LIB_DIR}/pgbouncer.ini"
AUTH_FILE_PATH = f"{LIB_DIR}/userlist.txt"
ADMIN_USER = "juju_admin"
STATS_USER = "juju_stats"
DATABASES = "databases"
PGBOUNCER = "pgbouncer"
USER_LIST_OPTIONS = ("admin_users", "stats_users")
POOL_MODES = ("session", "transaction", "statement")
CFG_FILE = "cfg_file"
LEADER_HOSTNAME = "leader_hostname"
# The application's secret (credentials.rs): its id and revision counter in
# the peer app databag, its label, and its content keys.
SECRET_ID = "secret_id"
SECRET_REVISION = "secret_revision"
SECRET_LABEL = "pgb-peers.app"
AUTH_FILE_KEY = "auth-file"
ADMIN_PASSWORD_KEY = "admin-password"
STATS_PASSWORD_KEY = "stats-password"
CLIENT_KEY_PREFIX = "client-"
# Older revisions' peer app databag keys, moved into the secret.
AUTH_FILE = "auth_file"
ADMIN_PASSWORD = "admin_password"
PRIVATE_ADDRESS = "private-address"
CLIENT_DB_PREFIX = "client_db_"
AUTH_USER_PREFIX = "pgbouncer_auth_"
DATABASE = "pgbouncer"
EXTRA_USER_ROLES = "SUPERUSER"
SECRET_FIELDS = ("username", "password", "uris", "read-only-uris")
RESERVED_DATABASES = ("postgres", "template0", "template1", "pgbouncer")
RESTART_SETTINGS = (
    "listen_addr", "listen_port", "unix_socket_dir", "unix_socket_mode",
    "unix_socket_group", "user", "so_reuseport", "pidfile", "peer_id",
)
CONN_PARAM_KEYS = (
    "dbname", "host", "port", "user", "password", "auth_user", "pool_size",
    "min_pool_size", "reserve_pool", "connect_query", "pool_mode",
    "max_db_connections", "client_encoding", "datestyle", "timezone",
    "application_name", "auth_dbname",
)
LEADER_REMOVED = "Leader unit removed - waiting for leader_elected event"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OPTION_RE = re.compile(r"^[a-z0-9_]{1,64}$")
DATABASE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
CLIENT_DATABASE_RE = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
BACKEND_USER_RE = re.compile(r"^[a-z0-9_]{1,40}$")
ROLE_RE = re.compile(r"^[a-z0-9_]{1,63}$")
NONE, RELOAD, RESTART = 0, 1, 2
PENDING_NAMES = ("none", "reload", "restart")


class Invalid(Exception):
    """A file, value or name the charm must not use."""


class SqlFailure(Exception):
    """PostgreSQL refused, or could not be reached."""


class ForeignRole(SqlFailure):
    """A client user's name is taken by a role this charm did not create."""


# --- pgbouncer.ini ---------------------------------------------------------


def parse_params(text):
    """A connection string, `k=v k='v w'`, as an ordered list of pairs."""
    params, i, n = [], 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            raise Invalid("a connection parameter without =")
        key = text[i:eq].strip()
        i = eq + 1
        if i < n and text[i] == "'":
            i += 1
            value = []
            while True:
                if i >= n:
                    raise Invalid("an unclosed quote")
                if text[i] == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        value.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                value.append(text[i])
                i += 1
            value = "".join(value)
        else:
            start = i
            while i < n and not text[i].isspace():
                i += 1
            value = text[start:i]
        if key not in CONN_PARAM_KEYS:
            raise Invalid("an unknown connection parameter")
        params = [(k, v) for k, v in params if k != key] + [(key, value)]
    return params


def render_params(params):
    out = []
    for key, value in params:
        if value == "" or any(c.isspace() or c == "'" for c in value):
            value = "'" + value.replace("'", "''") + "'"
        out.append(f"{key}={value}")
    return " ".join(out)


def put_param(params, key, value):
    if key not in CONN_PARAM_KEYS or "\n" in value:
        raise Invalid("a connection parameter that PgBouncer refuses")
    for i, (k, _) in enumerate(params):
        if k == key:
            params[i] = (key, value)
            return
    params.append((key, value))


def pool_sizes(max_db_connections, instances):
    if instances < 1:
        raise Invalid("no instance")
    if max_db_connections == 0:
        return 20, 10, 10
    m = max_db_connections
    return -(-m // (instances * 2)), -(-m // (instances * 4)), -(-m // (instances * 4))


class PgbConfig:
    """pgbouncer.ini: sections in order, each an ordered dict of options."""

    def __init__(self, sections=None):
        self.sections = sections if sections is not None else {}

    def copy(self):
        return PgbConfig({name: dict(entries) for name, entries in self.sections.items()})

    @classmethod
    def parse(cls, text):
        config = cls()
        current = None
        for line_no, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in ";#":
                continue
            if line[0] == "%":
                raise Invalid(f"line {line_no}: directives are not supported")
            if line[0] == "[":
                if not line.endswith("]"):
                    raise Invalid(f"line {line_no}: a section header must end with ]")
                name = line[1:-1]
                if not NAME_RE.match(name) or name in config.sections:
                    raise Invalid(f"line {line_no}: bad or repeated section")
                current = config.sections[name] = {}
                continue
            if current is None:
                raise Invalid(f"line {line_no}: an option outside any section")
            if "=" not in line:
                raise Invalid(f"line {line_no}: expected key = value")
            key, value = (part.strip() for part in line.split("=", 1))
            if not key:
                raise Invalid(f"line {line_no}: an option without a name")
            if current is config.sections.get(DATABASES):
                value = render_params(parse_params(value))
            elif key in USER_LIST_OPTIONS:
                value = ",".join(sorted({u.strip() for u in value.split(",") if u.strip()}))
            if key in current:
                raise Invalid(f"line {line_no}: a repeated entry")
            current[key] = value
        return config

    def render(self):
        parts = []
        for name, entries in self.sections.items():
            lines = [f"[{name}]\n"]
            for key, value in entries.items():
                lines.append(f"{key} =\n" if value == "" else f"{key} = {value}\n")
            parts.append("".join(lines))
        return "\n".join(parts)

    def validate(self):
        for name, entries in self.sections.items():
            if not NAME_RE.match(name):
                raise Invalid("a bad section name")
            for key, value in entries.items():
                if "\n" in value or "\r" in value:
                    raise Invalid(f"[{name}] {key}: a value on more than one line")
                if name == DATABASES:
                    if not DATABASE_NAME_RE.match(key) or key == "pgbouncer":
                        raise Invalid("a bad database name")
                    parse_params(value)
                    continue
                if not OPTION_RE.match(key):
                    raise Invalid(f"[{name}]: a bad option name")
                if name == PGBOUNCER and key == "auth_user" and not ROLE_RE.match(value):
                    raise Invalid("a bad auth_user")
        if DATABASES not in self.sections:
            raise Invalid("no [databases]")
        if PGBOUNCER not in self.sections:
            raise Invalid("no [pgbouncer]")
        for option in ("logfile", "pidfile"):
            if option not in self.sections[PGBOUNCER]:
                raise Invalid(f"no {option} in [pgbouncer]")

    def render_validated(self):
        self.validate()
        return self.render()

    def get(self, section, key):
        return self.sections.get(section, {}).get(key)

    def put(self, section, key, value):
        self.sections.setdefault(section, {})[key] = value

    def databases(self):
        out = []
        for name, value in self.sections.get(DATABASES, {}).items():
            try:
                out.append((name, parse_params(value)))
            except Invalid:
                out.append((name, []))
        return out

    def database(self, name):
        value = self.get(DATABASES, name)
        return None if value is None else parse_params(value)

    def set_database(self, name, params):
        if not DATABASE_NAME_RE.match(name) or name == "pgbouncer":
            raise Invalid("a bad database name")
        for key, value in params:
            put_param([], key, value)
        self.put(DATABASES, name, render_params(params))

    def remove_database(self, name):
        return self.sections.get(DATABASES, {}).pop(name, None) is not None

    @classmethod
    def default_for(cls, instances, max_db_connections, listen_port, pool_mode):
        config = cls({DATABASES: {}, PGBOUNCER: {}})
        for key, value in (
            ("listen_addr", "*"), ("listen_port", str(listen_port)),
            ("logfile", f"{LOG_DIR}/pgbouncer.log"), ("pidfile", f"{LIB_DIR}/pgbouncer.pid"),
            ("admin_users", ADMIN_USER), ("stats_users", f"{ADMIN_USER},{STATS_USER}"),
            ("auth_type", "scram-sha-256"),
            ("user", "postgres"), ("max_client_conn", "10000"),
            ("ignore_startup_parameters", "extra_float_digits,options"),
            ("server_tls_sslmode", "prefer"), ("so_reuseport", "1"),
            ("unix_socket_dir", LIB_DIR),
        ):
            config.put(PGBOUNCER, key, value)
        config.apply_settings(instances, max_db_connections, listen_port, pool_mode)
        return config

    def apply_settings(self, instances, max_db_connections, listen_port, pool_mode):
        if pool_mode not in POOL_MODES:
            raise Invalid("pool_mode: expected session, transaction or statement")
        default, minimum, reserve = pool_sizes(max_db_connections, instances)
        for key, value in (
            ("listen_port", listen_port), ("pool_mode", pool_mode),
            ("max_db_connections", max_db_connections), ("default_pool_size", default),
            ("min_pool_size", minimum), ("reserve_pool_size", reserve),
        ):
            self.put(PGBOUNCER, key, str(value))
        # An older revision's md5 moves to SCRAM, as the auth file's lines do.
        self.put(PGBOUNCER, "auth_type", "scram-sha-256")

    def add_stats_user(self):
        """STATS_USER in stats_users, keeping whoever else is there."""
        users = [u.strip() for u in (self.get(PGBOUNCER, "stats_users") or "").split(",") if u.strip()]
        if STATS_USER not in users:
            self.put(PGBOUNCER, "stats_users", ",".join(users + [STATS_USER]))

    def render_instance(self, n):
        config = self.copy()
        config.put(PGBOUNCER, "unix_socket_dir", f"{LIB_DIR}/instance_{n}")
        config.put(PGBOUNCER, "pidfile", f"{LIB_DIR}/instance_{n}/pgbouncer.pid")
        # Instances log to their stderr only, which Pebble keeps bounded.
        config.put(PGBOUNCER, "logfile", "")
        return config.render()

    def has_auth_query(self):
        return self.get(PGBOUNCER, "auth_query") is not None

    def set_auth(self, auth_user):
        if not ROLE_RE.match(auth_user):
            raise Invalid("a bad auth_user")
        quoted = auth_user.replace('"', '""')
        self.put(PGBOUNCER, "auth_query", f'SELECT username, password FROM "{quoted}".get_auth($1)')
        self.put(PGBOUNCER, "auth_file", AUTH_FILE_PATH)
        self.put(PGBOUNCER, "auth_user", auth_user)

    def clear_auth(self):
        for key in ("auth_query", "auth_file", "auth_user"):
            self.sections.get(PGBOUNCER, {}).pop(key, None)


def needs_restart(old, new):
    return any(old.get(PGBOUNCER, k) != new.get(PGBOUNCER, k) for k in RESTART_SETTINGS)


# --- the auth file ---------------------------------------------------------


SCRAM_PREFIX = "SCRAM-SHA-256$"
SCRAM_ITERATIONS = 4096
# A verifier asking for more is refused unchecked (postgres-scram's bound).
SCRAM_MAX_CHECKED_ITERATIONS = 1_000_000
MD5_RE = re.compile(r"^md5[0-9a-f]{32}$")


def _scram_keys(password, salt, iterations):
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return hashlib.sha256(client_key).digest(), server_key


def scram_verifier(password):
    """PostgreSQL's SCRAM-SHA-256 verifier of `password`, with a new random salt."""
    salt = secrets.token_bytes(16)
    stored_key, server_key = _scram_keys(password, salt, SCRAM_ITERATIONS)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"{SCRAM_PREFIX}{SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def scram_matches(verifier, password):
    """Whether `verifier` is a SCRAM-SHA-256 verifier of `password`."""
    if not verifier.startswith(SCRAM_PREFIX):
        return False
    try:
        head, keys = verifier[len(SCRAM_PREFIX):].split("$")
        iterations, salt = head.split(":")
        stored, server = keys.split(":")
        iterations = int(iterations)
        if not 0 < iterations <= SCRAM_MAX_CHECKED_ITERATIONS:
            return False
        salt, stored, server = (base64.b64decode(x, validate=True) for x in (salt, stored, server))
    except ValueError:
        return False
    stored_key, server_key = _scram_keys(password, salt, iterations)
    return hmac.compare_digest(stored_key, stored) and hmac.compare_digest(server_key, server)


def secret_kind(value):
    if value.startswith(SCRAM_PREFIX):
        return "scram"
    return "md5" if MD5_RE.match(value) else "plain"


def generate_password():
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(24))


def _quoted(text, i):
    if i >= len(text) or text[i] != '"':
        raise Invalid("expected a quoted field")
    i += 1
    field = []
    while i < len(text):
        if text[i] == '"':
            if i + 1 < len(text) and text[i + 1] == '"':
                field.append('"')
                i += 2
                continue
            return "".join(field), i + 1
        field.append(text[i])
        i += 1
    raise Invalid("an unclosed quote")


class AuthFile:
    def __init__(self, users=None):
        self.users = users if users is not None else {}

    @classmethod
    def parse(cls, text):
        users = {}
        for line_no, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith(";"):
                continue
            user, i = _quoted(line, 0)
            while i < len(line) and line[i] in " \t":
                i += 1
            hash_, i = _quoted(line, i)
            if line[i:].strip() or not user or user in users:
                raise Invalid(f"auth file line {line_no}")
            users[user] = hash_
        return cls(users)

    def render(self):
        q = lambda f: '"' + f.replace('"', '""') + '"'  # noqa: E731
        return "".join(f"{q(u)} {q(h)}\n" for u, h in sorted(self.users.items()))

    @staticmethod
    def _check_user(user):
        if not user or '"' in user or any(ord(c) < 32 for c in user):
            raise Invalid("a bad auth file user")

    def set_user(self, user, password):
        """`user` with a SCRAM-SHA-256 verifier of `password` (clients log in with it)."""
        self._check_user(user)
        self.users[user] = scram_verifier(password)

    def set_plain(self, user, password):
        """`user` with `password` itself: the auth user, which PgBouncer logs in to the
        backend as, and can only with the password."""
        self._check_user(user)
        self.users[user] = password

    def kind_of(self, user):
        value = self.users.get(user)
        return None if value is None else secret_kind(value)

    def plain_password(self, user):
        return self.users[user] if self.kind_of(user) == "plain" else None


# --- the workload ----------------------------------------------------------


class Workload:
    def __init__(self, container, instances):
        self.container = container
        self.instances = instances
        # What this handler already read or wrote, by path (None: no such
        # file): a file is pulled from Pebble at most once per handler.
        self.seen = {}

    def service_names(self):
        return [f"pgbouncer_{n}" for n in range(self.instances)]

    def read_text(self, path):
        if path in self.seen:
            return self.seen[path]
        try:
            with self.container.pull(path) as f:
                text = f.read()
        except ops.pebble.PathError as e:
            if e.kind != "not-found":
                raise
            text = None
        except UnicodeDecodeError:
            raise Invalid(f"{path} is not UTF-8") from None
        self.seen[path] = text
        return text

    def push_text(self, path, content, mode):
        self.container.push(path, content, make_dirs=True, permissions=mode,
                            user=WORKLOAD_USER, group=WORKLOAD_USER)
        self.seen[path] = content

    def write_if_changed(self, path, content, mode):
        if self.read_text(path) == content:
            return False
        self.push_text(path, content, mode)
        return True

    def read_config(self):
        text = self.read_text(INI_PATH)
        return None if text is None else PgbConfig.parse(text)

    def current_config(self):
        if not self.container.can_connect():
            return None
        return self.read_config()

    def write_config(self, config):
        rendered = config.render_validated()
        previous = self.read_text(INI_PATH)
        pending = NONE
        if previous != rendered:
            try:
                old = PgbConfig.parse(previous) if previous is not None else None
            except Invalid:
                old = None
            pending = RELOAD if old is not None and not needs_restart(old, config) else RESTART
            self.push_text(INI_PATH, rendered, 0o644)
        for n in range(self.instances):
            path = f"{LIB_DIR}/instance_{n}/pgbouncer.ini"
            if self.write_if_changed(path, config.render_instance(n), 0o644):
                pending = max(pending, RELOAD)
        return pending

    def read_auth_file(self):
        text = self.read_text(AUTH_FILE_PATH)
        return None if text is None else AuthFile.parse(text)

    def write_auth_file(self, auth):
        return RELOAD if self.write_if_changed(AUTH_FILE_PATH, auth.render(), 0o400) else NONE

    def layer(self):
        services = {
            f"pgbouncer_{n}": {
                "override": "replace",
                "summary": f"pgbouncer instance {n}",
                "command": f"pgbouncer {LIB_DIR}/instance_{n}/pgbouncer.ini",
                "startup": "enabled",
                "user": WORKLOAD_USER,
                "group": WORKLOAD_USER,
            }
            for n in range(self.instances)
        }
        return {"summary": "pgbouncer layer", "services": services}

    def apply(self, pending):
        self.container.add_layer(LAYER_LABEL, self.layer(), combine=True)
        names = self.service_names()
        running = [s.name for s in self.container.get_services(*names).values() if s.is_running()]
        if running:
            if pending == RELOAD:
                self.container.send_signal("SIGHUP", *running)
            elif pending == RESTART:
                for name in running:
                    self.container.restart(name)
        if len(running) < len(names):
            self.container.replan()

    def stopped_services(self):
        names = self.service_names()
        return sorted(s.name for s in self.container.get_services(*names).values()
                      if not s.is_running())


# --- names, peers, backend -------------------------------------------------


def unit_hostname(unit_name, model_name):
    app, _, number = unit_name.partition("/")
    return f"{app}-{number or '0'}.{app}-endpoints.{model_name}.svc.cluster.local"


RELATION_PASSWORD_PREFIX = "relation_id_"


def relation_password_key(rel_id):
    return f"{RELATION_PASSWORD_PREFIX}{rel_id}"


def ids_with_prefix(app_bag, prefix):
    """(id, value) of the `<prefix><id>` keys, in key order as Rust's BTreeMap gives them."""
    for key in sorted(app_bag):
        rest = key[len(prefix):] if key.startswith(prefix) else ""
        if rest.isdigit() and rest.isascii():
            yield int(rest), app_bag[key]


def client_database_key(rel_id):
    return f"{CLIENT_DB_PREFIX}{rel_id}"


def client_records(app_bag):
    return dict(ids_with_prefix(app_bag, CLIENT_DB_PREFIX))


class Credentials:
    """The application's credentials (credentials.rs): one application-owned Juju secret
    holding the auth file, the console users' passwords and each client relation's, found
    through SECRET_ID in the peer app databag; SECRET_REVISION moves on with every new
    revision, which is a relation-changed on every follower (units of the owning application
    get no secret-changed). What older revisions left in the databag is taken when the
    secret lacks it, and deleted by the leader's next save."""

    KEYS = {AUTH_FILE_KEY: "auth_file", ADMIN_PASSWORD_KEY: "admin_password",
            STATS_PASSWORD_KEY: "stats_password"}

    def __init__(self, model, peers):
        bag = peers.data[model.app]
        self.auth_file = self.admin_password = self.stats_password = None
        self.client_passwords = {}
        self.secret_id = bag.get(SECRET_ID) or None
        if self.secret_id is not None:
            content = model.get_secret(id=self.secret_id).peek_content()
            for key, value in content.items():
                if key in self.KEYS:
                    setattr(self, self.KEYS[key], value)
                elif key.startswith(CLIENT_KEY_PREFIX) and key[len(CLIENT_KEY_PREFIX):].isdigit():
                    self.client_passwords[int(key[len(CLIENT_KEY_PREFIX):])] = value
        self.read = self.snapshot()
        self.legacy_keys = []
        for key, field in ((AUTH_FILE, "auth_file"), (ADMIN_PASSWORD, "admin_password")):
            if key in bag:
                if getattr(self, field) is None:
                    setattr(self, field, bag[key])
                self.legacy_keys.append(key)
        for rel_id, password in ids_with_prefix(bag, RELATION_PASSWORD_PREFIX):
            self.client_passwords.setdefault(rel_id, password)
            self.legacy_keys.append(relation_password_key(rel_id))

    def snapshot(self):
        return (self.auth_file, self.admin_password, self.stats_password,
                tuple(sorted(self.client_passwords.items())))

    def content(self):
        content = {key: getattr(self, field) for key, field in self.KEYS.items()
                   if getattr(self, field)}
        for rel_id, password in self.client_passwords.items():
            content[f"{CLIENT_KEY_PREFIX}{rel_id}"] = password
        return content

    def auth(self):
        """The auth file, if there is one and it reads as one (else logged, never its content)."""
        if self.auth_file is None:
            return None
        try:
            return AuthFile.parse(self.auth_file)
        except Invalid as e:
            logger.warning("ignoring the auth file in the application secret (%d bytes): %s",
                           len(self.auth_file), e)
            return None

    def save(self, model, peers):
        """Leader: a new revision (or the secret, the first time) when the content changed,
        the counter moved on, older revisions' databag keys deleted."""
        bag = peers.data[model.app]
        for key in self.legacy_keys:
            bag.pop(key, None)
        self.legacy_keys = []
        if self.snapshot() == self.read and self.secret_id is not None:
            return
        content = self.content()
        if not content:
            return
        if self.secret_id is not None:
            model.get_secret(id=self.secret_id).set_content(content)
        else:
            secret = model.app.add_secret(
                content, label=SECRET_LABEL,
                description="pgbouncer-k8s: the auth file and the users' passwords")
            self.secret_id = bag[SECRET_ID] = secret.id or ""
        revision = bag.get(SECRET_REVISION, "0")
        bag[SECRET_REVISION] = str((int(revision) if revision.isdigit() else 0) + 1)
        self.read = self.snapshot()


def parse_client_database(value):
    if not CLIENT_DATABASE_RE.match(value):
        raise Invalid("database must match [A-Za-z0-9_-]{1,63}")
    if value.lower() in RESERVED_DATABASES:
        raise Invalid("database is reserved")
    return value


def parse_extra_roles(value):
    if len(value) > 256:
        raise Invalid("extra-user-roles is too long")
    roles = set()
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        if entry.upper() != "CREATEDB":
            raise Invalid("extra-user-roles may only be CREATEDB")
        roles.add("CREATEDB")
    return roles


def ident(name):
    return '"' + name.replace('"', '""') + '"'


def literal(text):
    return "'" + text.replace("'", "''") + "'"


def check_role(role):
    if not ROLE_RE.match(role):
        raise SqlFailure("a bad role name")
    return role


class Backend:
    """One connection to the backend PostgreSQL, as the charm's user."""

    def __init__(self, access, database):
        host, port, user, password = access
        try:
            self.conn = psycopg2.connect(host=host, port=port, user=user, password=password,
                                         dbname=database, connect_timeout=5)
        except psycopg2.Error as e:
            raise SqlFailure(f"cannot connect to {host}:{port} as {user}: {e}") from None
        self.conn.autocommit = True

    def run(self, what, sql, args=None):
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchone() if cur.description else None
        except psycopg2.Error as e:
            raise SqlFailure(f"{what}: {e}") from None

    def role_exists(self, role):
        return self.run("looking up a role",
                        "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (role,)) is not None

    def login_state(self, role):
        """(stored password, attributes as this charm sets them) of `role`, or None."""
        return self.run(
            f"reading the login state of {role}",
            "SELECT rolpassword, rolcanlogin AND NOT rolsuper AND NOT rolcreaterole "
            "AND NOT rolreplication AND NOT rolbypassrls "
            "AND rolvaliduntil IS NOT DISTINCT FROM 'infinity' "
            "FROM pg_catalog.pg_authid WHERE rolname = %s", (role,))

    def ensure_login_role(self, role, password, group=None):
        """A login role with a SCRAM-SHA-256 verifier of `password` (made here: the password
        is never sent); an existing role whose stored verifier is of `password` keeps it."""
        check_role(role)
        state = self.login_state(role)
        attributes = "LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS"
        if state is None:
            in_role = f" IN ROLE {ident(group)}" if group else ""
            self.run(f"setting up role {role}",
                     f"CREATE ROLE {ident(role)} WITH {attributes} PASSWORD "
                     f"{literal(scram_verifier(password))} VALID UNTIL 'infinity'{in_role}")
            return
        stored, attributes_ok = state
        if stored is not None and scram_matches(stored, password):
            if not attributes_ok:
                self.run(f"setting up role {role}",
                         f"ALTER ROLE {ident(role)} WITH {attributes} VALID UNTIL 'infinity'")
            return
        self.run(f"setting up role {role}",
                 f"ALTER ROLE {ident(role)} WITH {attributes} PASSWORD "
                 f"{literal(scram_verifier(password))} VALID UNTIL 'infinity'")

    def ensure_clients_role(self, auth_user):
        marker = check_role(f"{check_role(auth_user)}_clients")
        verb = "ALTER" if self.role_exists(marker) else "CREATE"
        self.run(f"setting up role {marker}",
                 f"{verb} ROLE {ident(marker)} WITH NOLOGIN NOSUPERUSER NOCREATEROLE "
                 "NOREPLICATION NOBYPASSRLS")
        return marker

    def is_member(self, role, group):
        return self.run(
            "looking up a role membership",
            "SELECT 1 FROM pg_catalog.pg_auth_members m "
            "JOIN pg_catalog.pg_roles g ON g.oid = m.roleid "
            "JOIN pg_catalog.pg_roles r ON r.oid = m.member "
            "WHERE g.rolname = %s AND r.rolname = %s", (group, role)) is not None

    def ensure_user(self, user, password, auth_user):
        check_role(user)
        marker = self.ensure_clients_role(auth_user)
        if self.role_exists(user) and not self.is_member(user, marker):
            raise ForeignRole(f"role {user} is not this charm's")
        self.ensure_login_role(user, password, group=marker)

    def is_client_user(self, user, auth_user):
        return self.is_member(check_role(user), f"{check_role(auth_user)}_clients")

    def set_extra_roles(self, user, roles):
        createdb = "CREATEDB" if "CREATEDB" in roles else "NOCREATEDB"
        self.run(f"setting the extra roles of {user}",
                 f"ALTER ROLE {ident(check_role(user))} WITH {createdb}")

    def version(self):
        return self.run("reading the server version", "SHOW server_version")[0]

    def install_get_auth(self, auth_user):
        marker = self.ensure_clients_role(auth_user)
        database = self.run("reading the current database",
                            "SELECT pg_catalog.current_database()::text")[0]
        schema = ident(auth_user)
        self.run(f"installing {auth_user}.get_auth", f"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            ALTER SCHEMA {schema} OWNER TO CURRENT_USER;
            REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;
            GRANT USAGE ON SCHEMA {schema} TO {schema};
            CREATE OR REPLACE FUNCTION {schema}.get_auth(uname TEXT)
                RETURNS TABLE (username name, password text)
                LANGUAGE sql STABLE SECURITY DEFINER
                SET search_path = pg_catalog
                AS $$ SELECT a.rolname, a.rolpassword FROM pg_catalog.pg_authid a
                      WHERE a.rolname = $1
                        AND a.rolcanlogin
                        AND NOT a.rolsuper
                        AND NOT a.rolreplication
                        AND NOT a.rolbypassrls
                        AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil > pg_catalog.now())
                        AND EXISTS (
                            SELECT 1 FROM pg_catalog.pg_auth_members m
                            JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
                            WHERE m.member = a.oid AND r.rolname = {literal(marker)}) $$;
            REVOKE ALL ON FUNCTION {schema}.get_auth(text) FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION {schema}.get_auth(text) TO {schema};
            GRANT CONNECT ON DATABASE {ident(database)} TO {schema};""")

    def remove_get_auth(self, auth_user):
        self.run(f"removing {auth_user}.get_auth",
                 f"DROP SCHEMA IF EXISTS {ident(check_role(auth_user))} CASCADE")

    def ensure_database(self, database, owner):
        check_role(owner)
        exists = self.run("looking up a database",
                          "SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (database,))
        if exists is None:
            self.run(f"creating database {database}",
                     f"CREATE DATABASE {ident(database)} OWNER {ident(owner)} TEMPLATE template0")
        self.run(f"closing database {database} to PUBLIC",
                 f"REVOKE ALL ON DATABASE {ident(database)} FROM PUBLIC")
        self.grant_database(database, owner)

    def grant_database(self, database, user):
        self.run(f"granting database {database} to {user}",
                 f"GRANT CONNECT, TEMPORARY ON DATABASE {ident(database)} TO {ident(check_role(user))}")

    def grant_public_schema(self, user):
        u = ident(check_role(user))
        self.run(f"granting schema public to {user}",
                 f"GRANT USAGE, CREATE ON SCHEMA public TO {u};"
                 f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {u};"
                 f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {u};"
                 f"GRANT ALL ON ALL FUNCTIONS IN SCHEMA public TO {u};")

    def deactivate_role(self, role):
        if not self.role_exists(check_role(role)):
            return
        self.run(f"deactivating role {role}", f"ALTER ROLE {ident(role)} WITH NOLOGIN PASSWORD NULL")
        self.run(f"ending the sessions of {role}",
                 "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
                 "WHERE usename = %s AND pid <> pg_catalog.pg_backend_pid()", (role,))

    def release_role(self, role, heir):
        check_role(heir)
        if not self.role_exists(check_role(role)):
            return
        self.run(f"releasing what {role} owns to {heir}",
                 f"REASSIGN OWNED BY {ident(role)} TO {ident(heir)}; DROP OWNED BY {ident(role)}")

    def drop_role(self, role):
        self.run(f"dropping role {role}", f"DROP ROLE IF EXISTS {ident(check_role(role))}")


def backend_state(relation):
    """('ready', info) | ('not-ready', None) | ('refused', reason)."""
    if relation.app is None:
        return "not-ready", None
    bag = relation.data[relation.app]
    fields = {k: bag.get(k) or None for k in ("endpoints", "username", "password", "database")}
    if not (fields["endpoints"] and fields["username"] and fields["password"]):
        return "not-ready", None
    if not BACKEND_USER_RE.match(fields["username"]):
        return "refused", "username must match [a-z0-9_]{1,40}"
    first = fields["endpoints"].split(",")[0].strip()
    host, _, port = first.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or int(port) > 65535:
        return "refused", "backend endpoints are not host:port"
    info = dict(fields, database=fields["database"] or DATABASE, host=host, port=int(port),
                auth_user=AUTH_USER_PREFIX + fields["username"])
    return "ready", info


def access(info):
    return info["host"], info["port"], info["username"], info["password"]


# --- whether PgBouncer answers (probe.rs) ----------------------------------

PROBE_TIMEOUT = 2.0
# How Rust's std names an OS error (io::Error::kind(), displayed), so that the
# status reads the same; any other errno is Rust's "uncategorized error".
RUST_ERROR_KINDS = {
    errno.EPERM: "permission denied", errno.EACCES: "permission denied",
    errno.ENOENT: "entity not found", errno.EINTR: "operation interrupted",
    errno.E2BIG: "argument list too long", errno.EAGAIN: "operation would block",
    errno.ENOMEM: "out of memory", errno.EBUSY: "resource busy",
    errno.EEXIST: "entity already exists", errno.EXDEV: "cross-device link or rename",
    errno.ENOTDIR: "not a directory", errno.EISDIR: "is a directory",
    errno.EINVAL: "invalid input parameter", errno.ETXTBSY: "executable file busy",
    errno.EFBIG: "file too large", errno.ENOSPC: "no storage space",
    errno.ESPIPE: "seek on unseekable file",
    errno.EROFS: "read-only filesystem or storage medium", errno.EMLINK: "too many links",
    errno.EPIPE: "broken pipe", errno.EDEADLK: "deadlock",
    errno.ENAMETOOLONG: "invalid filename", errno.ENOSYS: "unsupported",
    errno.ENOTSUP: "unsupported", errno.ENOTEMPTY: "directory not empty",
    errno.ELOOP: "filesystem loop or indirection limit (e.g. symlink loop)",
    errno.EADDRINUSE: "address in use", errno.EADDRNOTAVAIL: "address not available",
    errno.ENETDOWN: "network down", errno.ENETUNREACH: "network unreachable",
    errno.ECONNABORTED: "connection aborted", errno.ECONNRESET: "connection reset",
    errno.ENOTCONN: "not connected", errno.ETIMEDOUT: "timed out",
    errno.ECONNREFUSED: "connection refused", errno.EHOSTUNREACH: "host unreachable",
    errno.EINPROGRESS: "in progress", errno.ESTALE: "stale network file handle",
    errno.EDQUOT: "quota exceeded",
}


def rust_error_kind(error):
    if error.errno is None and isinstance(error, TimeoutError):
        return "timed out"  # the connect timeout: Rust's ErrorKind::TimedOut
    return RUST_ERROR_KINDS.get(error.errno, "uncategorized error")


def answers(port):
    """None if something accepts a connection on 127.0.0.1:`port`; otherwise why not, as the
    unit status shows it."""
    address = f"127.0.0.1:{port}"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(PROBE_TIMEOUT)
            sock.connect(("127.0.0.1", port))
    except OSError as e:
        return f"PgBouncer does not answer on {address}: {rust_error_kind(e)}"
    return None


# --- the charm -------------------------------------------------------------


PEBBLE_ERRORS = (ops.pebble.Error, ops.pebble.ConnectionError)
# What Rust's settle turns into Waiting and a deferral (BackendDbError other than Model).
SETTLE_ERRORS = (SqlFailure, Invalid, *PEBBLE_ERRORS)


class Files:
    """The files a unit serves (serve.rs's Files)."""

    def __init__(self, config, auth, backend_ready):
        self.config = config
        self.auth = auth
        self.backend_ready = backend_ready


class PgbouncerK8sCharm(ops.CharmBase):
    _stored = ops.StoredState()

    def __init__(self, framework):
        super().__init__(framework)
        self._stored.set_default(departed_leader=None, backend_waiting=None, departing=False,
                                 pending="none", reload_failure=None, refused_clients={},
                                 unanswered=None)
        self.instances = min(max(os.cpu_count() or 1, 2), 4)
        # What update-status just asked Pebble ("pebble_up", "stopped"), for the
        # collect-status of the same dispatch, which takes it (never across dispatches).
        self._seen = {}
        # The application's credentials, read from its secret once a dispatch.
        self._credentials = None
        on = self.on
        observe = framework.observe
        observe(on[CONTAINER].pebble_ready, self._configure_event)
        observe(on.start, self._configure_event)
        observe(on.upgrade_charm, self._configure_event)
        observe(on.config_changed, self._on_config_changed)
        observe(on.update_status, self._on_update_status)
        observe(on.leader_elected, self._on_leader_elected)
        observe(on[PEERS].relation_created, self._on_peers_created)
        observe(on[PEERS].relation_joined, self._on_peers_synced)
        observe(on[PEERS].relation_changed, self._on_peers_synced)
        observe(on[PEERS].relation_departed, self._on_peers_departed)
        observe(on[BACKEND].relation_changed, self._on_backend_changed)
        observe(on[BACKEND].relation_departed, self._on_departed)
        observe(on[BACKEND].relation_broken, self._on_backend_broken)
        observe(on[CLIENT].relation_changed, self._on_client_changed)
        observe(on[CLIENT].relation_departed, self._on_departed)
        observe(on[CLIENT].relation_broken, self._on_client_broken)
        observe(on.collect_unit_status, self._on_collect_unit_status)

    # memory
    @property
    def pending(self):
        return PENDING_NAMES.index(self._stored.pending)

    @pending.setter
    def pending(self, value):
        if PENDING_NAMES[value] != self._stored.pending:
            self._stored.pending = PENDING_NAMES[value]

    def _set(self, key, value):
        if getattr(self._stored, key) != value:
            setattr(self._stored, key, value)

    @property
    def container(self):
        return self.unit.get_container(CONTAINER)

    def workload(self):
        return Workload(self.container, self.instances)

    @property
    def peers(self):
        return self.model.get_relation(PEERS)

    def own_hostname(self):
        return unit_hostname(self.unit.name, self.model.name)

    def settings(self):
        """(listen_port, pool_mode, max_db_connections), or raises Invalid naming the option."""
        config = self.config
        port = config.get("listen_port", 6432)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise Invalid(f"invalid config option listen_port: {port} is not a port number (1-65535)")
        mode = config.get("pool_mode", "session")
        if mode not in POOL_MODES:
            raise Invalid("invalid config option pool_mode: not one of session, transaction, statement")
        max_db = config.get("max_db_connections", 100)
        if not isinstance(max_db, int) or max_db < 0:
            raise Invalid("invalid config option max_db_connections: not a whole number >= 0")
        return port, mode, max_db

    def settings_or_default(self):
        try:
            return self.settings()
        except Invalid:
            return 6432, "session", 100

    # peers
    def shared_config(self, peers):
        text = peers.data[self.app].get(CFG_FILE)
        if not text:
            return None
        try:
            config = PgbConfig.parse(text)
            config.validate()
            return config
        except Invalid as e:
            logger.warning("ignoring invalid %s in the %s app databag: %s", CFG_FILE, PEERS, e)
            return None

    def credentials(self, peers):
        """The application's credentials (Credentials), read once a dispatch; a secret that
        cannot be read is an Invalid (Waiting, and the event deferred)."""
        if self._credentials is None:
            try:
                self._credentials = Credentials(self.model, peers)
            except (ops.SecretNotFoundError, ops.ModelError) as e:
                raise Invalid(f"cannot read the application secret "
                              f"{peers.data[self.app].get(SECRET_ID)}: {e}") from None
        return self._credentials

    def save_credentials(self, peers):
        self.credentials(peers).save(self.model, peers)

    def leader_shared_anything(self, peers):
        bag = peers.data[self.app]
        return any(bag.get(key) is not None for key in (CFG_FILE, SECRET_ID, AUTH_FILE))

    def publish_hostname(self, peers):
        peers.data[self.unit][PRIVATE_ADDRESS] = self.own_hostname()

    def peer_hostnames(self, peers):
        hosts = {self.own_hostname()}
        for unit in peers.units:
            host = peers.data[unit].get(PRIVATE_ADDRESS)
            if host:
                hosts.add(host)
        return sorted(hosts)

    # serve
    def leader_files(self, workload, settings):
        """The files the leader serves now: its local files, else what it shared, else the
        default; with the options, the admin console user, the backend and the client databases."""
        port, mode, max_db = settings
        peers = self.peers
        shared_config = self.shared_config(peers) if peers else None
        shared_auth = self.credentials(peers).auth() if peers else None
        local_config = self._readable(workload.read_config)
        config = local_config if local_config is not None else shared_config
        if config is None:
            config = PgbConfig.default_for(self.instances, max_db, port, mode)
        config.apply_settings(self.instances, max_db, port, mode)
        # The secret is the application's auth file; the local one only stands in where
        # there is no peer relation to keep a secret for.
        auth = shared_auth if shared_auth is not None else self._readable(workload.read_auth_file)
        if auth is not None and peers is not None:
            self.ensure_console_user(peers, auth, ADMIN_USER, "admin_password")
            self.ensure_console_user(peers, auth, STATS_USER, "stats_password")
        config.add_stats_user()
        backend = self.backend_info()
        if backend is not None:
            if auth is not None and backend["auth_user"] in auth.users:
                config.set_auth(backend["auth_user"])
            host, port_ = backend["host"], str(backend["port"])
            for name, params in config.databases():
                put_param(params, "host", host)
                put_param(params, "port", port_)
                config.set_database(name, params)
            if peers:
                for database in self.live_records(peers).values():
                    if config.database(database) is None:
                        config.set_database(database, [("host", host), ("port", port_),
                                                       ("dbname", database)])
        return Files(config, auth, backend is not None)

    def ensure_console_user(self, peers, auth, user, field):
        """A console user (admin, stats) in the auth file with a SCRAM verifier of the
        password kept in the application's secret (made the first time). The auth file and
        the password come from the same secret, so the verifier is not checked again; an
        older revision's md5 line is replaced."""
        credentials = self.credentials(peers)
        password = getattr(credentials, field)
        made = password is None
        if made:
            password = generate_password()
            setattr(credentials, field, password)
        if made or auth.kind_of(user) != "scram":
            auth.set_user(user, password)

    @staticmethod
    def _readable(read):
        """A local file that cannot be read as PgBouncer's (or through Pebble) is not a
        source of truth: logged, and replaced."""
        try:
            return read()
        except (Invalid, *PEBBLE_ERRORS) as e:
            logger.warning("ignoring a local file: %s", e)
            return None

    def serve_leader(self, workload):
        try:
            settings = self.settings()
        except Invalid as e:
            logger.warning("not rendering the config: %s", e)
            return
        files = self.leader_files(workload, settings)
        self.write_files(workload, files)
        self.share(files)
        self.take(workload)

    def write_files(self, workload, files):
        pending = workload.write_config(files.config)
        if files.auth is not None:
            pending = max(pending, workload.write_auth_file(files.auth))
        self.pending = max(self.pending, pending)

    def take(self, workload):
        """Makes PgBouncer take what was written; a failure is remembered and raised (the
        handler defers), the pending work retried at the next hook that serves."""
        try:
            workload.apply(self.pending)
        except PEBBLE_ERRORS as e:
            logger.warning("Pebble: PgBouncer did not take its files; will retry: %s", e)
            self._set("reload_failure", str(e))
            raise
        self.pending = NONE
        self._set("reload_failure", None)

    def share_only(self, workload):
        """Leader: shares its files without touching the workload (pgb-peers joined, changed)."""
        try:
            settings = self.settings()
        except Invalid:
            return
        self.share(self.leader_files(workload, settings))

    def share(self, files):
        if self._stored.departing or self.peers is None:
            return
        self.share_in(self.peers, files)

    def share_in(self, peers, files):
        """The config always; the auth file once the backend is ready and the config
        authenticates through it."""
        bag = peers.data[self.app]
        bag[CFG_FILE] = files.config.render()
        if files.auth is not None and files.backend_ready and files.config.has_auth_query():
            self.credentials(peers).auth_file = files.auth.render()
        self.save_credentials(peers)
        bag[LEADER_HOSTNAME] = self.own_hostname()

    def drop_database(self, workload, database):
        files = self.leader_files(workload, self.settings_or_default())
        if files.config.remove_database(database):
            self.write_files(workload, files)
            self.share(files)
            self.take(workload)

    def drop_backend(self, workload):
        files = self.leader_files(workload, self.settings_or_default())
        files.config.clear_auth()
        for name, _ in files.config.databases():
            files.config.remove_database(name)
        self.write_files(workload, files)
        peers = self.peers
        if peers is not None and not self._stored.departing:
            files.backend_ready = False
            self.share_in(peers, files)
        self.take(workload)

    def serve_follower(self, peers, workload):
        config = self.shared_config(peers)
        auth = self.credentials(peers).auth()
        if config is None:
            if auth is not None:
                self.pending = max(self.pending, workload.write_auth_file(auth))
                self.take(workload)
            return False
        self.write_files(workload, Files(config, auth, False))
        self.take(workload)
        return True

    def failed(self, error):
        """A database, Pebble or file failure: shown as Waiting (saying why); the caller defers."""
        logger.warning("deferring: %s", error)
        self._set("backend_waiting", str(error))
        return "defer"

    def settle(self, event, step):
        """Runs `step` (a handler's body, as Rust's settle takes its result): a database,
        Pebble or file failure defers the event, as Waiting; success clears that.
        Returns "defer" when `event` (if any) was deferred."""
        try:
            outcome = step()
        except SETTLE_ERRORS as e:
            outcome = self.failed(e)
        else:
            self._set("backend_waiting", None)
        if outcome == "defer":
            if event is not None:
                event.defer()
            return "defer"
        return "done"

    # hooks
    def _configure_event(self, event):
        if self.configure_workload() == "defer":
            event.defer()

    def configure_workload(self):
        """Leader: render, write, share the files. Follower: take the leader's, or wait."""
        try:
            self.settings()
        except Invalid as e:
            logger.warning("not rendering the config: %s", e)
            return "done"
        if not self.container.can_connect():
            logger.info("Pebble in %s is not ready; deferring", CONTAINER)
            return "defer"
        workload = self.workload()
        if self.unit.is_leader():
            return self.settle(None, lambda: self.serve_leader(workload))
        peers = self.peers
        if peers is None:
            return "defer"

        def step():
            if not self.serve_follower(peers, workload):
                logger.info("the leader has not shared its config yet; deferring")
                return "defer"
            return "done"

        return self.settle(None, step)

    def _on_config_changed(self, event):
        if not self.unit.is_leader():
            return
        if self.configure_workload() == "defer":
            event.defer()
        self.update_connection_info()

    def _on_update_status(self, _):
        """A failed restart or reload is retried; once PgBouncer runs for a ready backend,
        whether it answers where clients connect."""
        container = self.container
        pebble_up = container.can_connect()
        self._seen["pebble_up"] = pebble_up
        if not pebble_up:
            return
        workload = self.workload()
        if self._stored.pending != "none" or self._stored.reload_failure is not None:
            try:
                self.take(workload)
            except PEBBLE_ERRORS:
                pass  # logged and kept for the next hook
        serving = False
        if self.backend_info() is not None:
            try:
                stopped = workload.stopped_services()
            except PEBBLE_ERRORS:
                stopped = None
            self._seen["stopped"] = stopped
            serving = stopped == []
        unanswered = answers(self.settings_or_default()[0]) if serving else None
        self._set("unanswered", unanswered)

    def _on_leader_elected(self, event):
        self._set("departed_leader", None)
        if self.configure_workload() == "defer":
            event.defer()
        self.update_connection_info()

    def _on_peers_created(self, event):
        peers = self.model.get_relation(PEERS, event.relation.id)
        if peers is None:
            return
        self.publish_hostname(peers)
        if not self.unit.is_leader():
            return
        workload = self.workload()
        try:
            if workload.current_config() is None:
                event.defer()
                return
        except SETTLE_ERRORS:
            pass  # as Rust's matches!(.., Ok(None)): only a missing file waits here
        # What is shared is the config as the leader serves it (restored), never a poorer copy.
        try:
            self.serve_leader(workload)
            config = workload.current_config()
        except SETTLE_ERRORS as e:
            self.failed(e)
            event.defer()
            return
        if config is None or not self.backend_is_ready(config, workload):
            event.defer()

    def _on_peers_synced(self, event):
        peers = self.model.get_relation(PEERS, event.relation.id)
        if peers is None:
            return
        self.publish_hostname(peers)
        self.update_connection_info()
        workload = self.workload()
        if self.unit.is_leader():
            if not self.container.can_connect():
                event.defer()
                return
            # A leader with nothing rendered or shared yet waits for start or pebble-ready.
            try:
                no_local = workload.read_config() is None
            except SETTLE_ERRORS:
                no_local = False
            if peers.data[self.app].get(CFG_FILE) is None and no_local:
                event.defer()
                return
            self.settle(event, lambda: self.share_only(workload))
            return
        leader = peers.data[self.app].get(LEADER_HOSTNAME)
        departed = self._stored.departed_leader
        if departed and leader and leader != departed:
            self._set("departed_leader", None)
        if not self.leader_shared_anything(peers):
            return
        if not self.container.can_connect():
            logger.info("Pebble in %s is not ready; deferring", CONTAINER)
            event.defer()
            return
        self.settle(event, lambda: self.serve_follower(peers, workload) and None)

    def _note_departing(self, event):
        departing = event.departing_unit
        if departing is not None and departing.name == self.unit.name and not self._stored.departing:
            logger.info("this unit is being removed: application-wide state is left alone")
            self._stored.departing = True

    def _on_departed(self, event):
        self._note_departing(event)

    def _on_peers_departed(self, event):
        self._note_departing(event)
        peers = self.model.get_relation(PEERS, event.relation.id)
        if peers is None or self._stored.departing:
            return
        if self.unit.is_leader():
            peers.data[self.app][LEADER_HOSTNAME] = self.own_hostname()
            self.update_connection_info()
            return
        departed = event.departing_unit or event.unit
        leader = peers.data[self.app].get(LEADER_HOSTNAME)
        if departed and leader and unit_hostname(departed.name, self.model.name) == leader:
            self._set("departed_leader", leader)

    # backend
    def backend_info(self, relation=None):
        relation = relation or self.model.get_relation(BACKEND)
        if relation is None:
            return None
        state, info = backend_state(relation)
        return info if state == "ready" else None

    def backend_is_ready(self, config, workload):
        if self.backend_info() is None or not config.has_auth_query():
            return False
        try:
            return workload.read_auth_file() is not None
        except SETTLE_ERRORS:
            return False

    def _on_backend_changed(self, event):
        self.settle(event, self.backend_changed)

    def backend_changed(self):
        """Once the backend is ready: the auth user (keeping its password from the auth file
        the application has), every client that asked, then the files rendered and shared."""
        if self._stored.departing or not self.unit.is_leader():
            return "done"
        relation = self.model.get_relation(BACKEND)
        if relation is None:
            return "done"
        bag = relation.data[self.app]
        bag["database"] = DATABASE
        bag["extra-user-roles"] = EXTRA_USER_ROLES
        state, backend = backend_state(relation)
        if state == "refused":
            logger.warning("not using the backend database: %s", backend)
            return "done"
        if state != "ready":
            return "done"
        if not self.container.can_connect():
            return "defer"
        workload = self.workload()
        auth = self.leader_files(workload, self.settings_or_default()).auth
        auth_user = backend["auth_user"]
        # The auth user's password in plain: PgBouncer logs in to the backend with it.
        if auth is None or auth.plain_password(auth_user) is None:
            auth = AuthFile()
            auth.set_plain(auth_user, generate_password())
        db = Backend(access(backend), backend["database"])
        db.ensure_login_role(auth_user, auth.plain_password(auth_user))
        peers = self.peers
        if peers is None:
            # Nowhere to keep the application's secret: the files only.
            self.pending = max(self.pending, workload.write_auth_file(auth))
            self.serve_leader(workload)
            return "done"
        db.ensure_clients_role(auth_user)
        db.install_get_auth(auth_user)
        # The auth file is the application's (its secret) before the files are rendered,
        # which point auth_query at the auth user only once the auth file has it.
        self.credentials(peers).auth_file = auth.render()
        self.pending = max(self.pending, workload.write_auth_file(auth))
        self.revoke_departed(peers, backend)
        provisioned = self.serve_requests(peers, backend)
        self.serve_leader(workload)
        self.update_connection_info()
        self.answer_provisioned(peers, provisioned)
        return "done"

    def _on_backend_broken(self, event):
        self.settle(event, lambda: self.backend_broken(event.relation.id))

    def backend_broken(self, rel_id):
        if self._stored.departing or not self.unit.is_leader():
            return "done"
        if not self.container.can_connect():
            return "defer"
        workload = self.workload()
        relation = self.model.get_relation(BACKEND, rel_id)
        backend = self.backend_info(relation) if relation else None
        try:
            config = workload.read_config()
        except SETTLE_ERRORS:
            config = None
        if backend is not None and config is not None:
            try:
                self.remove_auth_user(backend, config)
            except SqlFailure as e:
                logger.warning("could not remove the auth user from the backend: %s", e)
        self.drop_backend(workload)
        return "done"

    @staticmethod
    def remove_auth_user(backend, config):
        auth_user = backend["auth_user"]
        for name, params in config.databases():
            db = Backend(access(backend), dict(params).get("dbname", name))
            db.remove_get_auth(auth_user)
            db.release_role(auth_user, backend["username"])
        db = Backend(access(backend), backend["database"])
        db.remove_get_auth(auth_user)
        db.release_role(auth_user, backend["username"])
        db.drop_role(auth_user)
        db.drop_role(f"{auth_user}_clients")

    # clients
    def live_records(self, peers):
        live = {r.id for r in self.model.relations[CLIENT]}
        return {i: db for i, db in client_records(peers.data[self.app]).items() if i in live}

    def grants(self, peers):
        passwords = self.credentials(peers).client_passwords
        out = {}
        for rel_id, database in self.live_records(peers).items():
            password = passwords.get(rel_id)
            if password:
                out[rel_id] = (relation_password_key(rel_id), password, database)
        return out

    def connection_info(self):
        port = self.settings_or_default()[0]
        leader = self.own_hostname()
        peers = self.peers
        hosts = self.peer_hostnames(peers) if peers else [leader]
        return f"{leader}:{port}", [f"{h}:{port}" for h in sorted(set(hosts)) if h != leader]

    def update_connection_info(self):
        if self._stored.departing or not self.unit.is_leader():
            return
        clients = self.model.relations[CLIENT]
        if not clients:
            return
        info = self.connection_info()
        peers = self.peers
        grants = self.grants(peers) if peers else {}
        for client in clients:
            self.answer(client, info, grants.get(client.id), None)

    def answer(self, relation, info, grant, version):
        endpoint, read_only = info
        bag = relation.data[self.app]
        bag["endpoints"] = endpoint
        bag["read-only-endpoints"] = ",".join(read_only)
        if grant is None:
            return
        user, password, database = grant
        uri = lambda host: f"postgresql://{user}:{password}@{host}/{database}"  # noqa: E731
        fields = {"username": user, "password": password, "uris": uri(endpoint),
                  "read-only-uris": ",".join(uri(h) for h in read_only)}
        bag["database"] = database
        if version is not None:
            bag["version"] = version
        if self.wants_secrets(relation):
            content = {k: v for k, v in fields.items() if v}
            bag["secret-user"] = self.put_user_secret(relation, content)
            for key in SECRET_FIELDS:
                bag.pop(key, None)
        else:
            for key, value in fields.items():
                bag[key] = value

    def wants_secrets(self, relation):
        if relation.app is None:
            return False
        text = relation.data[relation.app].get("requested-secrets")
        if not text:
            return False
        try:
            fields = json.loads(text)
            return isinstance(fields, list) and any(f in SECRET_FIELDS for f in fields)
        except ValueError:
            logger.warning("ignoring requested-secrets of %s relation %d", CLIENT, relation.id)
            return False

    def put_user_secret(self, relation, content):
        uri = relation.data[self.app].get("secret-user")
        if uri:
            secret = self.model.get_secret(id=uri)
            if secret.peek_content() != content:
                secret.set_content(content)
            return uri
        secret = self.app.add_secret(content, label=f"{CLIENT}.{relation.id}.user.secret")
        secret.grant(relation)
        return secret.id or ""

    def read_request(self, relation):
        if relation.app is None:
            return None
        bag = relation.data[relation.app]
        database = bag.get("database")
        if not database:
            return None
        try:
            return parse_client_database(database), parse_extra_roles(bag.get("extra-user-roles", ""))
        except Invalid as e:
            return str(e)

    def _on_client_changed(self, event):
        self.settle(event, lambda: self.client_changed(event.relation.id))

    def client_changed(self, rel_id):
        """Once the client asked for a valid database and the backend is ready: its user and
        database, served through PgBouncer, and the answer. Before that, the backend's own
        relation-changed serves every client that asked."""
        if self._stored.departing or not self.unit.is_leader():
            return "done"
        self.update_connection_info()
        relation = self.model.get_relation(CLIENT, rel_id)
        if relation is None:
            return "done"
        backend, peers = self.backend_info(), self.peers
        if backend is None or peers is None:
            logger.info("%s relation %d is served once the backend database is ready", CLIENT, rel_id)
            return "done"
        if not self.container.can_connect():
            return "defer"
        provisioned = self.provision_request(peers, backend, relation)
        if provisioned is None:
            return "done"
        grant, version = provisioned
        self.serve_leader(self.workload())
        self.answer(relation, self.connection_info(), grant, version)
        return "done"

    def provision_request(self, peers, backend, relation):
        """(grant, version) once a valid request got its user and database; None when there
        is no request yet or it was refused (the reason kept for the status)."""
        rel_id = relation.id
        request = self.read_request(relation)
        if request is None:
            return None
        if isinstance(request, str):
            logger.warning("refusing the request of %s relation %d: %s", CLIENT, rel_id, request)
            self._stored.refused_clients[str(rel_id)] = request
            return None
        database, extra_roles = request
        if str(rel_id) in self._stored.refused_clients:
            del self._stored.refused_clients[str(rel_id)]
        bag = peers.data[self.app]
        previous = client_records(bag).get(rel_id)
        if previous is not None and previous != database:
            logger.warning("%s relation %d asked for another database; keeping the one it was given",
                           CLIENT, rel_id)
            return None
        user = relation_password_key(rel_id)
        credentials = self.credentials(peers)
        password = credentials.client_passwords.get(rel_id)
        if password is None:
            password = credentials.client_passwords[rel_id] = generate_password()
            self.save_credentials(peers)
        grant = (user, password, database)
        try:
            version = self.provision(backend, grant, extra_roles)
        except ForeignRole as e:
            logger.warning("refusing %s relation %d: %s", CLIENT, rel_id, e)
            credentials.client_passwords.pop(rel_id, None)
            self.save_credentials(peers)
            self._stored.refused_clients[str(rel_id)] = str(e)
            return None
        bag[client_database_key(rel_id)] = database
        return grant, version

    def serve_requests(self, peers, backend):
        """Every client relation that asked, given its user and database: [(relation, version)]."""
        provisioned = []
        for relation in self.model.relations[CLIENT]:
            done = self.provision_request(peers, backend, relation)
            if done is not None:
                provisioned.append((relation, done[1]))
        return provisioned

    def answer_provisioned(self, peers, provisioned):
        info = self.connection_info()
        grants = self.grants(peers)
        for relation, version in provisioned:
            self.answer(relation, info, grants.get(relation.id), version)

    @staticmethod
    def provision(backend, grant, extra_roles):
        user, password, database = grant
        parse_client_database(database)
        auth_user = backend["auth_user"]
        db = Backend(access(backend), backend["database"])
        db.ensure_clients_role(auth_user)
        db.ensure_user(user, password, auth_user)
        db.set_extra_roles(user, extra_roles)
        db.ensure_database(database, user)
        db.grant_database(database, user)
        version = db.version()
        client_db = Backend(access(backend), database)
        client_db.install_get_auth(auth_user)
        client_db.grant_public_schema(user)
        return version

    def revoke_departed(self, peers, backend):
        """Revokes the users of client relations that went while no backend could be reached."""
        live = {r.id for r in self.model.relations[CLIENT]}
        bag = peers.data[self.app]
        records = client_records(bag)
        credentials = self.credentials(peers)
        for rel_id in sorted(credentials.client_passwords):
            if rel_id in live:
                continue
            user = relation_password_key(rel_id)
            self.revoke(backend, user, records.get(rel_id), None)
            credentials.client_passwords.pop(rel_id, None)
            self.save_credentials(peers)
            bag.pop(client_database_key(rel_id), None)
            logger.info("revoked the user of the departed %s relation %d", CLIENT, rel_id)

    def _on_client_broken(self, event):
        self.settle(event, lambda: self.client_broken(event.relation.id))

    def client_broken(self, rel_id):
        """Revoke the client's user, stop serving its database when no other relation uses
        it, forget the records; a revocation that fails keeps them and defers."""
        if str(rel_id) in self._stored.refused_clients:
            del self._stored.refused_clients[str(rel_id)]
        if self._stored.departing or not self.unit.is_leader():
            return "done"
        peers = self.peers
        if peers is None:
            return "done"
        user = relation_password_key(rel_id)
        bag = peers.data[self.app]
        credentials = self.credentials(peers)
        if rel_id not in credentials.client_passwords:
            return "done"
        records = client_records(bag)
        database = records.get(rel_id)
        sharers = [relation_password_key(i) for i, db in records.items()
                   if i != rel_id and db == database]
        backend = self.backend_info()
        if backend is None:
            logger.warning("no backend database to revoke the user of %s relation %d in yet; "
                           "it is revoked once there is one", CLIENT, rel_id)
            return self.finish_broken(database, sharers)
        try:
            self.revoke(backend, user, database, sharers[0] if sharers else None)
        except SqlFailure as e:
            logger.warning("could not revoke the user of %s relation %d; will retry: %s",
                           CLIENT, rel_id, e)
            # As in Rust: an error, which settle defers and shows as Waiting.
            raise
        bag.pop(client_database_key(rel_id), None)
        credentials.client_passwords.pop(rel_id, None)
        self.save_credentials(peers)
        try:
            self.model.get_secret(label=f"{CLIENT}.{rel_id}.user.secret").remove_all_revisions()
        except (ops.SecretNotFoundError, ops.ModelError):
            pass
        return self.finish_broken(database, sharers)

    def finish_broken(self, database, sharers):
        if not self.container.can_connect():
            return "done"  # the relation is gone: the next render leaves the entry out
        if database is not None and not sharers:
            self.drop_database(self.workload(), database)
        return "done"

    @staticmethod
    def revoke(backend, user, database, heir):
        db = Backend(access(backend), backend["database"])
        if not db.is_client_user(user, backend["auth_user"]):
            return
        db.deactivate_role(user)
        heir = heir or backend["username"]
        if database is not None and CLIENT_DATABASE_RE.match(database):
            try:
                Backend(access(backend), database).release_role(user, heir)
            except SqlFailure as e:
                logger.warning("cannot reach the client database to release the user: %s", e)
        db.release_role(user, heir)
        db.drop_role(user)

    # status
    def _on_collect_unit_status(self, event):
        seen, self._seen = self._seen, {}
        event.add_status(self.unit_status(seen))

    def unit_status(self, seen):
        try:
            self.settings()
        except Invalid as e:
            return ops.BlockedStatus(str(e))
        if self._stored.departed_leader:
            return ops.MaintenanceStatus(LEADER_REMOVED)
        pebble_up = seen.get("pebble_up")
        if not (self.container.can_connect() if pebble_up is None else pebble_up):
            return ops.WaitingStatus(f"waiting for Pebble in the {CONTAINER} container")
        if self._stored.reload_failure:
            return ops.BlockedStatus(f"PgBouncer did not take its files: {self._stored.reload_failure}")
        stopped = seen.get("stopped")
        try:
            if stopped is None:
                stopped = self.workload().stopped_services()
        except PEBBLE_ERRORS as e:
            return ops.WaitingStatus(f"cannot ask Pebble: {e}")
        if stopped:
            return ops.BlockedStatus(f"{', '.join(stopped)} not running")
        if self._stored.unanswered:
            return ops.BlockedStatus(self._stored.unanswered)
        backend = self.model.get_relation(BACKEND)
        if backend is None:
            return ops.BlockedStatus("waiting for backend database relation")
        state, detail = backend_state(backend)
        if state == "not-ready":
            return ops.BlockedStatus("backend database relation not ready")
        if state == "refused":
            return ops.BlockedStatus(f"backend database refused: {detail}")
        peers = self.peers
        if not self.unit.is_leader() and peers is not None and not peers.data[self.app].get(CFG_FILE):
            return ops.WaitingStatus("waiting for the leader's config")
        refused = self._stored.refused_clients
        if refused:
            rel_id = min(refused, key=int)
            return ops.BlockedStatus(f"{CLIENT} relation {rel_id} refused: {refused[rel_id]}")
        if self._stored.backend_waiting:
            return ops.WaitingStatus(f"waiting for backend database: {self._stored.backend_waiting}")
        return ops.ActiveStatus("")


if __name__ == "__main__":
    ops.main(PgbouncerK8sCharm, use_juju_for_storage=True)
