"""NOx as NO2 from NO and NO2 measured separately. Pure numpy, no I/O.

compliance-rules.md §1.2 [S]: ``C_NOx = C_NO x 46/30 + C_NO2`` (mass concentrations, NOx
expressed as NO2; §5 item 2: adding NO to NO2 without the factor understates NOx by about 35 %).
HJ 212-2017 codes: NO a21003 (catalogue ``no``), NO2 a21004 (``no2``).

Per minute, where an outlet sends NO and NO2 but no NOx value at that time, a NOx minute is
added: its value is ``no2 + no * 46 / 30``; its flag is ``N`` when both are ``N``, ``T`` when
one is ``T`` and the other ``N`` or ``T`` (the sum is then a lower bound), else the first
non-N flag of the pair (invalid data stays invalid). A minute with only one of the two is not
a NOx value. A NOx value the device sent itself always wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alerts.rules.compliance import FLAG_N, FLAG_T, Minutes

NO_AS_NO2 = 46.0 / 30.0  # molar masses of NO2 and NO, rounded as in the rule (§1.2)


def _pick(m: Minutes, series: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.flatnonzero(m.series == series)
    order = np.argsort(m.ts_s[rows], kind="stable")
    rows = rows[order]
    return m.ts_s[rows], m.value[rows], m.flag[rows]


def _pair_flag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ok = (a == FLAG_N) | (a == FLAG_T)
    ok_b = (b == FLAG_N) | (b == FLAG_T)
    over = ok & ok_b & ((a == FLAG_T) | (b == FLAG_T))
    first_bad = np.where(a != FLAG_N, a, b)
    out = np.where(ok & ok_b, FLAG_N, first_bad)
    return np.where(over, FLAG_T, out).astype(np.uint8)


def nox_from_no_no2(m: Minutes, triples: Sequence[tuple[int, int, int]]) -> Minutes:
    """``m`` plus derived NOx minutes, for each ``(no_series, no2_series, nox_series)``."""
    parts = [m]
    for no_s, no2_s, nox_s in triples:
        t_no, v_no, f_no = _pick(m, no_s)
        t_no2, v_no2, f_no2 = _pick(m, no2_s)
        both, i, j = np.intersect1d(t_no, t_no2, assume_unique=False, return_indices=True)
        have = m.ts_s[m.series == nox_s]
        keep = ~np.isin(both, have)
        i, j, ts = i[keep], j[keep], both[keep]
        value = v_no2[j] + v_no[i] * NO_AS_NO2
        parts.append(Minutes(np.full(len(ts), nox_s, dtype=np.int32), ts, value,
                             _pair_flag(f_no[i], f_no2[j])))
    if len(parts) == 1:
        return m
    return Minutes(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("series", "ts_s", "value", "flag")))
