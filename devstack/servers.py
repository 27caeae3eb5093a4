"""Run the real Mosquitto and InfluxDB binaries as child processes.

Used by the local stack (``make run``), the test fixtures and the benchmarks: each instance gets
its own loopback ports and data directory, so several can run side by side. InfluxDB 1.x binds
an RPC port besides HTTP (DESIGN §7), so each instance gets its own pair.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

# Mosquitto's dynamic security plugin: Debian/Ubuntu's package, then the eclipse-mosquitto image.
DYNSEC_PLUGINS = ("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
                  "/usr/lib/mosquitto_dynamic_security.so")
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


PG_BINDIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class ServerError(RuntimeError):
    """A server binary is missing or did not come up in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str, *candidates: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for c in candidates:
        if Path(c).exists():
            return c
    raise ServerError(f"{name} is not installed: run `make install` "
                      f"(apt-get install mosquitto influxdb)")


def _wait(check: object, what: str, proc: subprocess.Popen[bytes], log_path: Path,
          timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise ServerError(f"{what} exited with {proc.returncode}:\n{tail}")
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise ServerError(f"{what} did not come up within {timeout_s} s")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Process:
    """One child server process with its own directory."""

    name: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        logf = self.log_path.open("ab")
        self.proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        return self.proc

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout_s)


@dataclass
class Mosquitto(Process):
    """A broker; anonymous unless given the dynamic security file that mqtt.access writes.

    ``extra_conf`` is appended last, so its options override the shared ones (tests use it for
    a small queue limit or a short ``sys_interval``).
    """

    port: int = 0
    extra_conf: str = ""
    dynsec_file: Path | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()

    def auth_conf(self) -> str:
        if self.dynsec_file is None:
            return "allow_anonymous true\n"
        plugin = find_binary("mosquitto_dynamic_security.so", *DYNSEC_PLUGINS)
        return (f"allow_anonymous false\nplugin {plugin}\n"
                f"plugin_opt_config_file {self.dynsec_file}\n")

    def write_config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        user = getpass.getuser()
        conf.write_text(
            (CONFIG_DIR / "mosquitto" / "broker.conf").read_text()
            + f"\nuser {user}\npersistence_location {data}/\nlog_dest stdout\n"
            + "log_type error\nlog_type warning\nlog_type notice\nconnection_messages false\n"
            + f"listener {self.port} 127.0.0.1\n"
            + self.auth_conf() + self.extra_conf)
        return conf

    def start(self, timeout_s: float = 15.0) -> Mosquitto:
        conf = self.write_config()
        binary = find_binary("mosquitto", "/usr/sbin/mosquitto")
        proc = self._spawn([binary, "-c", str(conf)])
        _wait(lambda: port_open(self.port), "mosquitto", proc, self.log_path, timeout_s)
        log.info("mosquitto up on 127.0.0.1:%s", self.port)
        return self


@dataclass
class InfluxDB(Process):
    port: int = 0
    rpc_port: int = 0

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.rpc_port = self.rpc_port or free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        d = self.workdir
        d.mkdir(parents=True, exist_ok=True)
        conf = d / "influxdb.conf"
        conf.write_text(f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d / 'meta'}"
[data]
  dir = "{d / 'data'}"
  wal-dir = "{d / 'wal'}"
  query-log-enabled = false
  cache-max-memory-size = 1073741824
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-body-size = 100000000
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""")
        return conf

    def _ping(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.TransportError:
            return False

    def start(self, timeout_s: float = 30.0) -> InfluxDB:
        conf = self.write_config()
        binary = find_binary("influxd", "/usr/bin/influxd")
        proc = self._spawn([binary, "-config", str(conf)])
        _wait(self._ping, "influxd", proc, self.log_path, timeout_s)
        log.info("influxd up on %s", self.url)
        return self


@dataclass
class PostgreSQL(Process):
    """A PostgreSQL server from Debian's ``postgresql`` package, with a cluster of its own in
    ``workdir`` (created on first start), listening on a loopback port only, trusting local
    connections of the user ``ems``. As root the server runs as the ``postgres`` user (it
    refuses to run as root), so ``workdir`` must be reachable by that user.

    ``durable=False`` turns off fsync and synchronous commit: for tests, never for data.
    """

    port: int = 0
    database: str = "ems"
    durable: bool = True

    def __post_init__(self) -> None:
        self.port = self.port or free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://ems@127.0.0.1:{self.port}/{self.database}"

    def _as_server_user(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        import pwd

        user = pwd.getpwnam("postgres")
        for path in (self.workdir, *self.workdir.rglob("*")):
            os.chown(path, user.pw_uid, user.pw_gid)
        return ["runuser", "-u", "postgres", "--"]

    def start(self, timeout_s: float = 60.0) -> PostgreSQL:
        if not PG_BINDIRS:
            raise ServerError("PostgreSQL is not installed: run `make install` "
                              "(apt-get install postgresql)")
        bindir = PG_BINDIRS[0]
        data = self.workdir / "pgdata"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        prefix = self._as_server_user()
        if not (data / "PG_VERSION").exists():
            subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "ems",
                            "--auth=trust", "-E", "UTF8", "--no-instructions"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        options = [] if self.durable else ["-c", "fsync=off", "-c", "synchronous_commit=off",
                                           "-c", "full_page_writes=off"]
        proc = self._spawn([*prefix, str(bindir / "postgres"), "-D", str(data),
                            "-p", str(self.port), "-h", "127.0.0.1",
                            "-k", str(self.workdir), *options])
        _wait(lambda: port_open(self.port) and self._create_database(), "postgres", proc,
              self.log_path, timeout_s)
        log.info("postgres up on 127.0.0.1:%s", self.port)
        return self

    def _create_database(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(host="127.0.0.1", port=self.port, user="ems",
                                 dbname="postgres", autocommit=True, connect_timeout=2) as c:
                found = c.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (self.database,)).fetchone()
                if not found:
                    c.execute(f'CREATE DATABASE "{self.database}"')
        except psycopg.OperationalError:
            return False  # still starting up
        return True
