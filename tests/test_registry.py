"""Registry and standards loading, and the store's translation of driver errors."""

from __future__ import annotations

import tomllib

import pytest

from core.registry import RegistryError, build_registry, hash_password, load_registry
from core.standards import load_standards
from devstack.servers import free_port
from store.influx import InfluxStore, StoreRejected, StoreUnavailable
from tests.conftest import ROOT

STANDARDS = load_standards(ROOT / "config" / "limits.toml")


def test_standards_keep_their_sources() -> None:
    lim = STANDARDS["cn.gb13271-2014.new.coal.so2"]
    assert (lim.pollutant, lim.averaging, lim.o2_ref_pct) == ("so2", "hour", 9.0)
    assert lim.source.startswith("http")
    ph = STANDARDS["cn.gb8978-1996.t4.ph.all.g1"]
    assert ph.is_range
    assert (ph.limit_min, ph.limit_max, ph.o2_ref_pct) == (6.0, 9.0, None)
    assert len(STANDARDS) == 153  # 141 + nine GB 13223 entries split by reference O2


def test_example_registry_loads() -> None:
    reg = load_registry(ROOT / "config" / "registry.example.toml", STANDARDS)
    outlet = reg.outlet("E0001", "G1")
    assert outlet is not None
    assert [lim.pollutant for lim in outlet.limits] == ["so2", "nox", "pm"] * 2
    assert [lim.policy_target for lim in outlet.limits] == [False] * 3 + [True] * 3
    assert reg.devices[outlet.devices[0].mn].outlet_id == "G1"


def test_device_password_is_checked_against_its_hash() -> None:
    reg = build_registry({"enterprise": [{"id": "E1", "outlet": [
        {"id": "G1", "device": [{"mn": "MN1", "pw_sha256": hash_password("s3cret")}]}]}]},
        STANDARDS)
    dev = reg.devices["MN1"]
    assert dev.password_ok("s3cret")
    assert not dev.password_ok("s3cret ")
    assert not dev.password_ok("")


def test_permit_condition_inline_limit() -> None:
    reg = build_registry({"enterprise": [{"id": "E1", "outlet": [
        {"id": "G1", "limits": [{"pollutant": "nox", "limit": 50, "o2_ref_pct": 6,
                                 "source": "permit 2024-017"}]}]}]}, STANDARDS)
    (lim,) = reg.enterprises["E1"].outlets["G1"].limits_for("nox")
    assert (lim.limit, lim.o2_ref_pct, lim.source) == (50, 6, "permit 2024-017")


def test_registration_time_of_an_outlet() -> None:
    noon = "2025-11-01T12:00:00+08:00"
    toml = ('[[enterprise]]\nid = "E1"\n[[enterprise.outlet]]\nid = "G1"\n'
            f"registered = {noon}\n[[enterprise.outlet]]\nid = \"G2\"\n"
            f'registered = "{noon}"\n[[enterprise.outlet]]\nid = "G3"\n')
    outlets = build_registry(tomllib.loads(toml), STANDARDS).enterprises["E1"].outlets
    assert outlets["G1"].registered_ms == outlets["G2"].registered_ms == 1_761_969_600_000
    assert outlets["G3"].registered_ms is None


@pytest.mark.parametrize("value", ["2025-11-01T12:00:00", "yesterday", 1_761_969_600])
def test_registration_time_needs_an_offset(value: object) -> None:
    doc = {"enterprise": [{"id": "E1", "outlet": [{"id": "G1", "registered": value}]}]}
    with pytest.raises(RegistryError, match="registered"):
        build_registry(doc, STANDARDS)


def test_registration_time_as_a_local_toml_datetime_is_refused() -> None:
    doc = tomllib.loads('[[enterprise]]\nid = "E1"\n[[enterprise.outlet]]\nid = "G1"\n'
                        "registered = 2025-11-01T12:00:00\n")
    with pytest.raises(RegistryError, match="with an offset"):
        build_registry(doc, STANDARDS)


@pytest.mark.parametrize(("doc", "message"), [
    ({"enterprise": [{"id": "bad id"}]}, "must match"),
    ({"enterprise": [{"id": "E1"}, {"id": "E1"}]}, "listed twice"),
    ({"enterprise": [{"id": "E1", "outlet": [{"id": "G1", "limits": ["no.such.limit"]}]}]},
     "unknown limit id"),
    ({"enterprise": [{"id": "E1", "outlet": [{"id": "G1", "device": [{"mn": "A"}]},
                                             {"id": "G2", "device": [{"mn": "A"}]}]}]},
     "device A is listed twice"),
    ({"enterprise": [{"id": "E1", "outlet": [{"id": "G1", "limits": [
        {"pollutant": "dioxins", "limit": 0.1}]}]}]}, "not in the pollutant catalogue"),
])
def test_inconsistent_registry_is_refused_with_a_reason(doc: dict[str, object],
                                                        message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        build_registry(doc, STANDARDS)


def test_store_errors_are_translated(store: InfluxStore) -> None:
    with pytest.raises(StoreRejected) as bad:
        store.write_lines(["this is not line protocol"])
    assert bad.value.status == 400
    with pytest.raises(StoreRejected):
        store.query("SELEKT nonsense")
    down = InfluxStore(f"http://127.0.0.1:{free_port()}", "x", timeout_s=1)
    with pytest.raises(StoreUnavailable):
        down.write_lines(['reading,enterprise=E,outlet=O,pollutant=so2 value=1 1'])
    assert down.ping() is False


def test_example_registry_amount_entries() -> None:
    reg = load_registry(ROOT / "config" / "registry.example.toml", STANDARDS)
    assert reg.enterprises["E0001"].permit.t_a["so2"] == 1500.0
    outlet = reg.outlet("E0005", "G1")
    assert outlet is not None
    assert (outlet.stack_height_m, outlet.flow_basis.basis, outlet.flow_basis.moisture_pct) == (
        40.0, "actual", 6.0)
    assert outlet.rate_limits[0].table[3] == (40.0, 25.0)
    assert outlet.permit.t_a == {"so2": 80.0}
    g1 = reg.outlet("E0001", "G1")
    assert g1 is not None
    assert g1.flow_basis.standard_dry


@pytest.mark.parametrize(("extra", "message"), [
    ({"rate_limits": {"so2": {"15": 2.6}}}, "need the outlet's stack_height_m"),
    ({"stack_height_m": -3}, "stack_height_m must be a positive number"),
    ({"flow_basis": "wet"}, "flow_basis is"),
    ({"permit_t_a": {"so2": -1}}, "permit_t_a.so2 must be positive"),
])
def test_amount_entries_are_checked(extra: dict[str, object], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        build_registry({"enterprise": [{"id": "E1", "outlet": [{"id": "G1", **extra}]}]},
                       STANDARDS)


def test_coordinates_are_optional_degrees() -> None:
    base = {"id": "E1", "name": "n", "region": "r", "industry": "boiler"}
    reg = build_registry({"enterprise": [{**base, "lat": 31.2, "lon": 121}]}, STANDARDS)
    assert (reg.enterprises["E1"].lat, reg.enterprises["E1"].lon) == (31.2, 121.0)
    assert build_registry({"enterprise": [base]}, STANDARDS).enterprises["E1"].lat is None
    for bad in ({"lat": 91}, {"lon": -181}, {"lat": "31"}, {"lon": True}):
        with pytest.raises(RegistryError, match="degrees"):
            build_registry({"enterprise": [{**base, **bad}]}, STANDARDS)
