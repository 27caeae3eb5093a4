"""docker-compose.yml against the code: no Docker engine runs here, so the file is parsed and
every command, variable, port, volume and mount is checked against what the code really has.
The broker's container configuration is run with a real Mosquitto."""

from __future__ import annotations

import getpass
import importlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import TypeAdapter
from pydantic_settings import BaseSettings

from core.registry import build_registry
from core.standards import load_standards
from devstack.servers import DYNSEC_PLUGINS, Mosquitto, find_binary
from mqtt.access import DYNSEC_FILE, build_auth, new_service_passwords, write_auth
from tests.conftest import ROOT, wait_until

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
BROKER_CONF = ROOT / "config" / "mosquitto" / "mosquitto.conf"

# Built in parallel on other branches; each entry must go once its code is merged (the tests
# below fail while an entry names something that exists, so the lists only shrink).
PENDING_MODULES: set[str] = set()
PENDING_ENV: set[str] = set()
PENDING_FILES: set[str] = set()

# Settings classes: the foundation's, mqtt.access's, and every <package>/settings.py there is.
SETTINGS_MODULES = ["core.settings", "mqtt.access", "ingest.settings", *sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for p in [*ROOT.glob("*/settings.py"), *ROOT.glob("*/*/settings.py")]
    if p.parts[-2] not in ("tests", ".venv"))]


def settings_fields() -> dict[str, Any]:
    """EMS_* variable name -> the pydantic field it sets, over all Settings classes."""
    out: dict[str, Any] = {}
    for name in SETTINGS_MODULES:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseSettings) and obj is not BaseSettings:
                prefix = str(obj.model_config.get("env_prefix", ""))
                for field_name, info in obj.model_fields.items():
                    out[(prefix + field_name).upper()] = info
    return out


FIELDS = settings_fields()


def runnable(module: str) -> bool:
    """``python -m module`` finds something to run in this repository (files are looked at
    rather than imported: an installed copy elsewhere must not count)."""
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


def python_module(argv: list[str]) -> str | None:
    if len(argv) >= 3 and argv[0] == "python" and argv[1] == "-m":
        return argv[2]
    return None


def env_of(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def literal(value: str) -> bool:
    return "${" not in value


# Commands ------------------------------------------------------------------------------------

def commands() -> list[tuple[str, list[str]]]:
    out = []
    for name, svc in SERVICES.items():
        if "command" in svc:
            out.append((name, svc["command"]))
        test = (svc.get("healthcheck") or {}).get("test")
        if test and test[0] == "CMD":
            out.append((f"{name} healthcheck", test[1:]))
    return out


@pytest.mark.parametrize(("where", "argv"), commands())
def test_python_commands_name_runnable_modules(where: str, argv: list[str]) -> None:
    module = python_module(argv)
    if module is None:
        assert argv[0] in ("curl",), f"{where}: unexpected command {argv}"
        return
    if module in PENDING_MODULES:
        assert not runnable(module), (
            f"{module} exists now: remove it from PENDING_MODULES in {__file__}")
    else:
        assert runnable(module), f"{where}: `python -m {module}` has nothing to run"
    for arg in argv[3:]:
        if "/" in arg and not arg.startswith(("http://", "-")):
            if arg in PENDING_FILES:
                assert not (ROOT / arg).exists(), f"{arg} exists now: remove it from PENDING"
            else:
                assert (ROOT / arg).exists(), f"{where}: {arg} is not in the repository"


def test_every_python_service_has_a_command_of_its_own() -> None:
    built = [n for n, s in SERVICES.items() if "build" in s]
    assert sorted(python_module(SERVICES[n]["command"]) or "" for n in built) == sorted([
        "alerts", "alerts.notify", "api", "api", "forward", "mqtt.access", "store.schema",
        "ingest", "ingest.gateway", "simulators"])


# Environment ---------------------------------------------------------------------------------

def env_items() -> list[tuple[str, str, str]]:
    return [(svc, k, v) for svc in SERVICES for k, v in env_of(svc).items()
            if k.startswith("EMS_")]


@pytest.mark.parametrize(("service", "name", "value"), env_items())
def test_env_variables_are_settings_fields(service: str, name: str, value: str) -> None:
    if name in PENDING_ENV:
        assert name not in FIELDS, f"{name} is a setting now: remove it from PENDING_ENV"
        return
    assert name in FIELDS, f"{service}: no Settings class reads {name}"
    if literal(value):  # the value must parse as the field's type
        TypeAdapter(FIELDS[name].annotation).validate_python(value)


def test_pending_lists_are_only_what_others_build() -> None:
    assert {k for _, k, _ in env_items()} >= PENDING_ENV
    assert all(k.startswith(("EMS_API_", "EMS_ALERTS_", "EMS_GATEWAY_")) for k in PENDING_ENV)


def test_secrets_come_from_the_env_file_never_from_this_file() -> None:
    for service, name, value in env_items():
        if "PASSWORD" in name:
            assert not literal(value), f"{service}: {name} has a literal secret"
    for k, v in env_of("influxdb").items():
        if "PASSWORD" in k:
            assert not literal(v)
    example = (ROOT / ".env.example").read_text()
    needed = set(re.findall(r"\$\{([A-Z_]+)[:?}-]", (ROOT / "docker-compose.yml").read_text()))
    assert needed <= set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))


# Ports and addresses -------------------------------------------------------------------------

def listener_port() -> int:
    match = re.search(r"^listener (\d+)\s*$", BROKER_CONF.read_text(), re.MULTILINE)
    assert match, "the container broker config has no listener"
    return int(match.group(1))


def published(service: str) -> dict[int, int]:
    """container port -> host port"""
    out = {}
    for spec in SERVICES[service].get("ports", []):
        host, container = str(spec).rsplit(":", 1)[-2:] if ":" in str(spec) else (spec, spec)
        out[int(container)] = int(str(host).rsplit(":", 1)[-1])
    return out


def test_everyone_reaches_the_broker_where_it_listens() -> None:
    port = listener_port()
    assert port in published("mosquitto")
    for svc in SERVICES:
        env = env_of(svc)
        if "EMS_MQTT_HOST" in env:
            assert env["EMS_MQTT_HOST"] == "mosquitto", svc
            assert int(env["EMS_MQTT_PORT"]) == port, svc
    assert f"-p {port} " in SERVICES["mosquitto"]["healthcheck"]["test"][1]


def test_everyone_reaches_influxdb_where_it_listens() -> None:
    for svc in SERVICES:
        url = env_of(svc).get("EMS_INFLUX_URL")
        if url:
            parts = urlsplit(url)
            assert (parts.hostname, parts.port) == ("influxdb", 8086), svc
    assert "http://127.0.0.1:8086/ping" in SERVICES["influxdb"]["healthcheck"]["test"]


@pytest.mark.parametrize("service", [s for s in SERVICES if "healthcheck" in SERVICES[s]])
def test_health_checks_ask_the_port_the_service_serves(service: str) -> None:
    test = SERVICES[service]["healthcheck"]["test"]
    urls = [a for a in test if isinstance(a, str) and a.startswith("http://")]
    env = env_of(service)
    ports = {int(v) for k, v in env.items()
             if k.endswith("PORT") and k != "EMS_MQTT_PORT" and literal(v)}
    for url in urls:
        port = urlsplit(url).port
        if service != "influxdb":
            assert port in ports, f"{service}: health check asks {port}, serves {ports}"


@pytest.mark.parametrize("service", ["api", "gateway"])
def test_published_ports_are_the_ones_served(service: str) -> None:
    env = env_of(service)
    port = int(env[f"EMS_{service.upper()}_PORT"])
    assert env[f"EMS_{service.upper()}_HOST"] == "0.0.0.0"  # reachable from outside
    assert port in published(service)


@pytest.mark.parametrize("service", ["ingest", "gateway", "forward", "notify", "reports"])
def test_services_are_healthy_when_ready_not_merely_alive(service: str) -> None:
    test = SERVICES[service]["healthcheck"]["test"]
    assert [urlsplit(a).path for a in test if a.startswith("http://")] == ["/ready"]


def test_the_reports_service_runs_the_schedule() -> None:
    assert SERVICES["reports"]["command"] == ["python", "-m", "api", "reports", "run"]


def test_the_notifier_reads_the_recipients_of_the_deploy_folder() -> None:
    path = env_of("notify")["EMS_NOTIFY_RECIPIENTS_PATH"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["notify"]["volumes"]}
    assert mounts[str(Path(path).parent)] == "./deploy"
    assert "recipients.toml" in (ROOT / "deploy" / "README.md").read_text()


def test_ingest_metrics_port_is_the_settings_field() -> None:
    assert FIELDS["EMS_INGEST_METRICS_PORT"].annotation is int
    assert env_of("ingest")["EMS_INGEST_METRICS_PORT"] == "9101"


# Structure -----------------------------------------------------------------------------------

def test_images_are_pinned() -> None:
    assert re.fullmatch(r"influxdb:1\.\d+\.\d+", SERVICES["influxdb"]["image"])
    assert re.fullmatch(r"eclipse-mosquitto:2\.\d+\.\d+", SERVICES["mosquitto"]["image"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)


@pytest.mark.parametrize("service", list(SERVICES))
def test_restart_policies_and_health_checks(service: str) -> None:
    svc = SERVICES[service]
    one_shot = service in ("schema", "broker-auth", "simulator")
    assert svc["restart"] == ("no" if one_shot else "unless-stopped")
    if not one_shot:
        assert "healthcheck" in svc, f"{service} runs for good but has no health check"


def test_dependencies_exist_and_wait_for_the_right_state() -> None:
    for name, svc in SERVICES.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            one_shot = SERVICES[dep]["restart"] == "no"
            expected = "service_completed_successfully" if one_shot else "service_healthy"
            assert cond["condition"] == expected, (name, dep)


def test_volumes_are_declared_and_bind_mounts_exist() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for name, svc in SERVICES.items():
        for spec in svc.get("volumes", []):
            source = spec.split(":", 1)[0]
            if source.startswith("."):
                path = ROOT / source
                assert path.exists() or source in ("./backup",), f"{name}: {source} missing"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared


def test_demo_profile_holds_the_simulator_only() -> None:
    profiled = {n: s["profiles"] for n, s in SERVICES.items() if "profiles" in s}
    assert profiled == {"simulator": ["demo"]}


def test_broker_auth_and_broker_meet_on_the_same_files() -> None:
    conf = BROKER_CONF.read_text()
    auth_env = env_of("broker-auth")
    auth_dir = auth_env["EMS_BROKER_AUTH_DIR"]
    vol = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["broker-auth"]["volumes"]}
    broker_vol = {v.split(":")[0]: v.split(":")[1] for v in SERVICES["mosquitto"]["volumes"]}
    broker_dir = broker_vol[vol[auth_dir]]
    assert f"plugin_opt_config_file {broker_dir}/{DYNSEC_FILE}" in conf
    assert "password_file" not in conf
    assert "acl_file" not in conf
    assert re.search(r"^allow_anonymous false$", conf, re.MULTILINE)
    assert "allow_anonymous true" not in conf
    # the shared settings are included from broker.conf, not copied
    include = re.search(r"^include_dir (\S+)$", conf, re.MULTILINE)
    assert include
    assert broker_vol["./config/mosquitto/broker.conf"] == f"{include.group(1)}/broker.conf"
    assert "max_queued_messages" not in conf
    # every service user the compose file logs in with gets a password from broker-auth
    users = {env_of(s).get("EMS_MQTT_USERNAME") for s in SERVICES} - {None}
    given = {k.removeprefix("EMS_BROKER_").removesuffix("_PASSWORD").lower()
             for k in auth_env if k.endswith("_PASSWORD")}
    assert users <= given


# The container broker configuration, run for real ------------------------------------------

class ShippedMosquitto(Mosquitto):
    """Mosquitto started with config/mosquitto/mosquitto.conf, its container paths mapped to
    this test's folders and its listener moved to a free loopback port."""

    auth_dir: Path = Path()

    def write_config(self) -> Path:
        conf_d = self.workdir / "conf.d"
        conf_d.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        (conf_d / "broker.conf").write_text((ROOT / "config/mosquitto/broker.conf").read_text())
        text = (BROKER_CONF.read_text()
                .replace("/mosquitto/auth", str(self.auth_dir))
                .replace("/usr/lib/mosquitto_dynamic_security.so",
                         find_binary("dynsec", *DYNSEC_PLUGINS))
                .replace("/mosquitto/data", str(self.workdir / "data"))
                .replace("/mosquitto/config/conf.d", str(conf_d))
                .replace(f"listener {listener_port()}", f"listener {self.port} 127.0.0.1"))
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(text + f"user {getpass.getuser()}\n")
        return conf


def _connack(port: int, user: str | None, password: str | None) -> str:
    result: list[str] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if user:
        c.username_pw_set(user, password)
    c.on_connect = lambda _c, _u, _f, reason, _p: result.append(str(reason))
    c.connect_async("127.0.0.1", port)
    c.loop_start()
    try:
        return str(wait_until(lambda: result and result[0], 10, what="CONNACK"))
    finally:
        c.disconnect()
        c.loop_stop()


def test_the_container_broker_config_runs_and_refuses_anonymous(tmp_path: Path) -> None:
    registry = build_registry({}, load_standards(ROOT / "config" / "limits.toml"))
    services = new_service_passwords(["ingest", "monitor"])
    write_auth(build_auth(registry, {}, services), tmp_path / "auth")
    broker = ShippedMosquitto("mosquitto", tmp_path / "mosquitto")
    broker.auth_dir = tmp_path / "auth"
    broker.start()
    try:
        assert _connack(broker.port, None, None) == "Not authorized"
        assert _connack(broker.port, "ingest", services["ingest"]) == "Success"
        assert _connack(broker.port, "monitor", "wrong") != "Success"
        # broker.conf was read through include_dir: persistence writes where it was told
        broker.stop()
        assert (tmp_path / "mosquitto" / "data" / "mosquitto.db").exists()
    finally:
        broker.stop()
