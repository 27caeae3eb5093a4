"""Rendering: what the simulator says the ingester will store or refuse is what the real
reading parser stores or refuses."""

from __future__ import annotations

import random

import orjson
import pytest

from core.readings import JsonReadingParser, Limits
from core.registry import build_registry
from ingest.gateway.admission import Admitted, admit
from ingest.parsers.hj212 import Hj212Parser
from simulators.hj212 import encode
from simulators.malformations import HJ212_MALFORMATIONS, JSON_MALFORMATIONS
from simulators.payloads import (
    Hj212Frame,
    corrupt_crc,
    expected_rejections,
    format_ts,
    hj212_frame,
    render_json,
    sample,
    stored_entries,
)
from simulators.plan import plan_outlet
from simulators.process import INDUSTRY_MODELS
from simulators.registry import scenario_fleet
from tests.sim_helpers import COAL, STANDARDS, T0, h, registry_of, scenario

WATER = '[[enterprise]]\nid = "WA"\nindustry = "wastewater"\n'
MALFORMED_ALL = ('[[incident]]\nkind = "malformed"\ntarget = "*"\nstart_h = 0\n'
                 'duration_h = 1\nevery = 1\n')


@pytest.mark.parametrize("fleet", [COAL, WATER], ids=["gas", "water"])
def test_every_malformation_is_refused_as_announced_and_the_rest_is_stored(fleet: str) -> None:
    sc = scenario(fleet + MALFORMED_ALL, hours=1)
    parser = JsonReadingParser(registry_of(sc), Limits())
    spec = sc.outlets[0]
    noise = dict(INDUSTRY_MODELS[spec.industry].noise)
    rng = random.Random(5)
    seen = set()
    for msg in plan_outlet(sc, 0):
        assert msg.malformed is not None
        seen.add(msg.malformed)
        values = sample(msg, noise, rng)
        parsed = parser.parse(spec.topic, render_json(msg, spec, values), h(1))
        assert sorted(r.reason for r in parsed.rejections) == expected_rejections(msg, spec)
        want = stored_entries(msg, spec)
        got = {r.pollutant: (r.value, r.flag, r.ts_ms) for r in parsed.readings}
        assert set(got) == set(want), msg.malformed
        assert all(got[k] == (values[k], want[k][1], msg.stamp_ms) for k in got)
    assert seen == set(JSON_MALFORMATIONS)


def test_clean_messages_keep_flags_and_every_time_format() -> None:
    body = COAL + (
        '[[enterprise.outlet]]\nid = "G1"\nts_format = "local"\n'
        '[[enterprise.outlet]]\nid = "G2"\nts_format = "epoch_ms"\n'
        '[[enterprise.outlet]]\nid = "G3"\n'
        '[[incident]]\nkind = "maintenance"\ntarget = "PA"\nstart_h = 0\nduration_h = 0.1\n'
        'keys = ["so2"]\n')
    sc = scenario(body, hours=1)
    parser = JsonReadingParser(registry_of(sc), Limits())
    rng = random.Random(1)
    for i, spec in enumerate(sc.outlets):
        msg = next(plan_outlet(sc, i))
        payload = render_json(msg, spec, sample(msg, {}, rng))
        parsed = parser.parse(spec.topic, payload, h(1))
        assert parsed.rejections == []
        assert {r.ts_ms for r in parsed.readings} == {T0}
        assert {r.pollutant: r.flag for r in parsed.readings}["so2"] == "M"
        assert orjson.loads(payload)["flags"] == {"so2": "M"}
    assert format_ts(T0, "local") == "2026-11-23T00:00:00+08:00"
    assert format_ts(T0, "rfc3339") == "2026-11-22T16:00:00Z"
    assert format_ts(T0, "epoch_ms") == T0


def test_noise_stays_in_the_catalogue_range_and_exact_values_stay_exact() -> None:
    sc = scenario(COAL + '[[incident]]\nkind = "flatline"\ntarget = "PA"\npollutant = "pm"\n'
                  'start_h = 0\nduration_h = 1\n', hours=1)
    rng = random.Random(2)
    noise = dict(INDUSTRY_MODELS["coal_power"].noise)
    pms = set()
    for msg in plan_outlet(sc, 0):
        values = sample(msg, noise, rng)
        pms.add(values["pm"])
        assert values["so2"] != msg.values["so2"]  # noisy
        assert 0 <= values["o2"] <= 25
    assert len(pms) == 1


# A frame of the right shape (hj212.md §3); its CRC field is not checked here.
FRAME = b"##0012QN=1;CP=&&&&1C80\r\n"


@pytest.mark.parametrize(("frame", "want"), [
    (FRAME, b"##0012QN=1;CP=&&&&E37F\r\n"),
    (b"##0004ABCD0000\r\n", b"##0004ABCDFFFF\r\n"),
])
def test_corrupt_crc_changes_every_digit_of_the_crc_only(frame: bytes, want: bytes) -> None:
    assert corrupt_crc(frame) == want


@pytest.mark.parametrize("frame", [b"", b"QN=1;CP=&&&&", b"##00x2QN=1", b"##0040QN=1;CP=&&&&"])
def test_corrupt_crc_refuses_what_is_not_a_frame(frame: bytes) -> None:
    with pytest.raises(ValueError, match="frame"):
        corrupt_crc(frame)


def test_hj212_frame_carries_device_time_and_flags() -> None:
    sc = scenario(WATER, hours=1)
    msg = next(plan_outlet(sc, 0))
    frame = hj212_frame(msg, sc.outlets[0], {"cod": 1.0}, "pw")
    assert isinstance(frame, Hj212Frame)
    assert (frame.mn, frame.pw, frame.st, frame.cn) == (sc.outlets[0].mn, "pw", "32", "2051")
    assert int(frame.data_time.timestamp() * 1000) == T0
    assert frame.flags["cod"] == "N"


HJ212_ALL = MALFORMED_ALL.replace('target = "*"', 'target = "*"\nkinds = ["bad_time", '
                                  '"bad_value", "unknown_code", "bad_flag"]')


@pytest.mark.parametrize("protocol", ["hj212", "hj212-tcp"])
@pytest.mark.parametrize("fleet", ["coal_power", "wastewater"])
def test_every_hj212_malformation_passes_the_gateway_and_is_refused_as_announced(
        protocol: str, fleet: str) -> None:
    body = (f'[[enterprise]]\nid = "PA"\nindustry = "{fleet}"\n[[enterprise.outlet]]\n'
            f'id = "X1"\nprotocol = "{protocol}"\n' + HJ212_ALL)
    sc = scenario(body, hours=1)
    fleet = scenario_fleet(sc)
    registry = build_registry(fleet.registry, STANDARDS)
    spec = sc.outlets[0]
    password = fleet.passwords[spec.mn]
    parser = Hj212Parser(registry, Limits())
    rng = random.Random(4)
    seen = set()
    for msg in plan_outlet(sc, 0):
        assert msg.malformed is not None
        seen.add(msg.malformed)
        values = sample(msg, dict(INDUSTRY_MODELS[spec.industry].noise), rng)
        frame = encode(hj212_frame(msg, spec, values, password))
        assert isinstance(admit(frame, registry), Admitted), msg.malformed
        parsed = parser.parse(spec.topic, frame, h(1))
        assert sorted(r.reason for r in parsed.rejections) == expected_rejections(msg, spec)
        want = stored_entries(msg, spec)
        got = {r.pollutant: (r.value, r.flag, r.ts_ms) for r in parsed.readings}
        assert set(got) == set(want), msg.malformed
        assert all(got[k] == (values[k], want[k][1], msg.stamp_ms) for k in got)
    assert seen == set(HJ212_MALFORMATIONS)
