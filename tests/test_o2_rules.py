"""The O2 signs (``alerts.rules.oxygen``), table-driven, values computed by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alerts.rules.oxygen import against_flow_runs, below_norm_runs
from core.o2norms import O2Norm, load_norms, norm_for

H = 3600
FLOW = {"shift_pct": 1.5, "tolerance": 0.1, "similar_min": 3, "history_s": 48 * H,
        "min_hours": 2}
# Hours 0-7; from hour 4 on judged. Hour 4 (flow 100): hours 0-2 are within 10 % (100, 105,
# 95; hour 3 at 200 is not), usual O2 (7.0 + 7.2 + 6.8) / 3 = 7.0, 5.4 <= 7.0 - 1.5: flagged,
# so not history. Hour 5 (flow 102, tolerance 10.2): hours 0-2 again, 7.0; 5.2 flagged.
# Hour 6 (7.1): not flagged, joins. Hour 7 (5.0 vs (7.0 + 7.2 + 6.8 + 7.1) / 4 = 7.025): flagged
# alone, a run of 1 < 2. The run 4-5: farthest at hour 5 (1.8 points under, 1.6 at hour 4).
O2 = [7.0, 7.2, 6.8, 5.0, 5.4, 5.2, 7.1, 5.0]
FLOWS = [100.0, 105.0, 95.0, 200.0, 100.0, 102.0, 100.0, 100.0]


def _h(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * H


def _against(o2: list[float], flow: list[float], usable: list[bool] | None = None,
             start_h: int = 4, **kw: float) -> list[tuple[int, int, float, float, float, int]]:
    usable_a = np.array(usable if usable is not None else [True] * len(o2))
    runs = against_flow_runs(_h(len(o2)), np.array(o2), np.array(flow), usable_a, start_h * H,
                             **{**FLOW, **kw})  # type: ignore[arg-type]
    return [(r.start_s // H, r.last_s // H, r.o2, r.flow, round(r.usual, 6), r.similar)
            for r in runs]


@pytest.mark.parametrize(("o2", "flow", "usable", "kw", "expected"), [
    (O2, FLOWS, None, {}, [(4, 5, 5.2, 102.0, 7.0, 3)]),
    # Three hours of history: hour 4 sees hours 1-3, two of similar flow (< 3): not judged;
    # hour 5 sees 2-4 (hour 4 joined): two again. Nothing.
    (O2, FLOWS, None, {"history_s": 3 * H}, []),
    # A shift of 2 points: 5.2 (1.8 under) is not flagged; hour 4 alone (1.6 < 2) neither.
    (O2, FLOWS, None, {"shift_pct": 2.0}, []),
    # Hour 0 not usable: hours 1 and 2 only (2 < 3 similar) until hour 6 joins; nothing.
    (O2, FLOWS, [False] + [True] * 7, {}, []),
    # Honest: O2 falls as flow rises (7 % at 100, 5 % at 200): at the same flow, the same O2.
    ([7.0, 7.1, 5.0, 6.9, 5.1, 7.0, 5.0, 7.1], [100.0, 100.0, 200.0, 100.0, 200.0, 100.0,
                                                  200.0, 100.0], None, {}, []),
    # NaN flow (no flow minutes): the hour is not judged and not history.
    (O2, [100.0, 105.0, 95.0, 200.0, float("nan"), 102.0, 100.0, 100.0], None, {}, []),
])
def test_against_flow(o2: list[float], flow: list[float], usable: list[bool] | None,
                      kw: dict[str, float], expected: list[tuple[int, ...]]) -> None:
    assert _against(o2, flow, usable, **kw) == expected


def test_against_flow_detail_names_the_numbers() -> None:
    run = against_flow_runs(_h(8), np.array(O2), np.array(FLOWS), np.ones(8, dtype=np.bool_),
                            4 * H, **FLOW)[0]  # type: ignore[arg-type]
    assert run.detail() == ("O2 5.2 % at flow 102 where the 3 hours of flow within 10 % in the "
                            "48 h before read 7 % (1.8 points more), for 2 h: O2 does not "
                            "follow the flow")


NORM = O2Norm("coal-fired industrial boiler", ("boiler.*.coal",), 4.0)


@pytest.mark.parametrize(("o2", "usable", "hour_s", "expected"), [
    # 3.9 and 3.5 under 4.0 (a run of 2); 4.0 is not under; 3.0 alone; 2.9 not usable; 3.1 alone
    ([5.0, 3.9, 3.5, 4.0, 3.0, 2.9, 3.1], [True] * 5 + [False, True], None,
     [(1, 2, 3.5, 3.9)]),
    # a missing hour between breaks the run: hours 0-1, and 3 alone
    ([3.0, 3.2, 3.0], [True] * 3, [0, 1, 3], [(0, 1, 3.0, 3.2)]),
    ([3.0, 3.2, 3.0], [True] * 3, [0, 1, 2], [(0, 2, 3.0, 3.2)]),
    ([float("nan"), 3.0], [True, True], None, []),
])
def test_below_norm(o2: list[float], usable: list[bool], hour_s: list[int] | None,
                    expected: list[tuple[int, ...]]) -> None:
    h = np.array(hour_s, dtype=np.int64) * H if hour_s is not None else _h(len(o2))
    runs = below_norm_runs(h, np.array(o2), np.array(usable), NORM, min_hours=2)
    assert [(r.start_s // H, r.last_s // H, r.o2_low, r.o2_high) for r in runs] == expected
    if expected and expected[0][:2] == (1, 2):
        assert runs[0].detail() == ("O2 3.5-3.9 % for 2 operating h, under the 4 % floor of "
                                    "normal operation of a coal-fired industrial boiler "
                                    "(config/o2_norms.toml)")


@pytest.mark.parametrize(("category", "floor"), [
    ("boiler.in_use.coal", 4.0), ("boiler.new.gas", 0.8), ("boiler.special.oil", 0.8),
    ("power.coal.ultra_low", 2.5), ("lcp.solid.existing", 2.5), ("power.gas.turbine", 11.0),
    ("power.gas.special.turbine", 11.0), ("power.gas.boiler", 0.8), ("incineration.msw", 5.0),
    ("power.gas.special", None), ("", None), ("wastewater.municipal", None),
])
def test_shipped_norms_by_limit_category(category: str, floor: float | None) -> None:
    norm = norm_for(load_norms(), category)
    assert (norm.floor_pct if norm else None) == floor


@pytest.mark.parametrize(("text", "error"), [
    ('[[norm]]\nmatch = ["a.*"]\nfloor_pct = 0\n', "floor_pct"),
    ('[[norm]]\nmatch = ["a.*"]\nfloor_pct = 21\n', "floor_pct"),
    ('[[norm]]\nmatch = "a.*"\nfloor_pct = 3\n', "match"),
    ('[[norm]]\nfloor_pct = 3\n', "match"),
])
def test_bad_norms_are_refused(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "norms.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        load_norms(path)
