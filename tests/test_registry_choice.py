"""Which registry a command beside the services reads (``store.registry_loads.choose_registry``)
and the key commands ``make run`` prints (``devstack.run.key_commands``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import ApiSettings
from core.registry import build_registry
from core.standards import load_standards
from devstack.run import key_commands
from simulators.fleet import build_fleet
from store.registry_loads import choose_registry, load_recorded, loads, service_load
from store.sql import open_records
from tests.conftest import ROOT

LIMITS = ROOT / "config" / "limits.toml"


def test_the_registry_of_the_services_unless_one_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMS_REGISTRY_PATH", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file of the project
    records = open_records(f"sqlite:///{tmp_path / 'records.db'}")
    try:
        default = ApiSettings()
        empty = choose_registry(default, records)
        assert empty.path == default.registry_path
        assert "default" in empty.why
        fleet = build_fleet(2, outlets_per=1, seed=1)
        older, newer = tmp_path / "old.toml", tmp_path / "stack" / "registry.toml"
        fleet.write(older, tmp_path / "s1.toml")
        fleet.write(newer, tmp_path / "s2.toml")
        registry = build_registry(fleet.registry, load_standards(LIMITS))
        service_load(records, older, registry, "ingest", 1_000)
        service_load(records, newer, registry, "api", 2_000)
        chosen = choose_registry(default, records)
        assert chosen.path == newer
        assert "api service" in chosen.why
        assert chosen.describe().endswith("set EMS_REGISTRY_PATH to read another")
        newer.unlink()  # gone (an earlier stack's): the one before that is still there
        assert choose_registry(default, records).path == older
        named = ApiSettings(registry_path=tmp_path / "mine.toml")
        assert choose_registry(named, records) == type(chosen)(tmp_path / "mine.toml",
                                                               "EMS_REGISTRY_PATH")
        monkeypatch.setenv("EMS_REGISTRY_PATH", str(tmp_path / "env.toml"))
        assert choose_registry(ApiSettings(), records).path == tmp_path / "env.toml"
    finally:
        records.close()


def test_key_commands_name_the_records_database_only_when_not_the_default() -> None:
    here = key_commands(f"sqlite:///{ROOT / 'var' / 'records.db'}", "WWT09",
                        python=str(ROOT / ".venv" / "bin" / "python"))
    assert here == [".venv/bin/python -m api keys create --role inspector",
                    ".venv/bin/python -m api keys create --role enterprise --enterprise WWT09",
                    ".venv/bin/python -m api keys list"]
    elsewhere = key_commands("sqlite:////srv/ems/records.db", "WWT09", python="/usr/bin/python3")
    assert elsewhere[1] == ("EMS_RECORDS_URL=sqlite:////srv/ems/records.db /usr/bin/python3 -m "
                            "api keys create --role enterprise --enterprise WWT09")


def test_a_service_started_bare_loads_the_running_stacks_registry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMS_REGISTRY_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'records.db'}"
    fleet = build_fleet(3, outlets_per=1, seed=2)
    stack = tmp_path / "var" / "demo" / "registry.toml"
    fleet.write(stack, tmp_path / "secrets.toml")
    # The stack's API loaded its registry (EMS_REGISTRY_PATH set, as devstack does).
    load_recorded(ApiSettings(registry_path=stack, records_url=url, limits_path=LIMITS), "api")
    # `python -m alerts once` by hand, with no EMS_REGISTRY_PATH: the same registry.
    bare = ApiSettings(records_url=url, limits_path=LIMITS)
    assert sorted(load_recorded(bare, "alerts").enterprises) == ["E0001", "E0002", "E0003"]
    records = open_records(url)
    try:
        assert [(load.loaded_by.split("@")[0], load.source) for load in loads(records)] == [
            ("api", str(stack)), ("alerts", str(stack))]
    finally:
        records.close()
