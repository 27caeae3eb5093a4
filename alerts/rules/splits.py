"""Exceedance episodes split where an inspector resolved them while they went on. Pure.

An inspector who resolves an alert whose exceedance is still running closes the workflow of
the part seen so far (the API stores the alert's ``updated`` time as ``seen_until_ms``). The
exceedance must not vanish into the resolved alert: if it goes on, the part from the cut on is
a new episode, with its own id, that *follows* the resolved one. So an episode derived by
``episodes.derive_episodes`` that starts where a resolved alert starts and has an exceeded
period at or after that alert's cut becomes:

- the *head*: its periods before the cut, closed at the cut (the resolved alert keeps its
  status, and its end is the cut);
- then the episodes derived again from the cut on; the first of them continues the exceedance
  (no valid compliant period lies between the cut and its start, or the original episode would
  have closed) and follows the resolved alert. It may itself have been resolved mid-way: the
  rule applies again, so chains of resolutions give chains of alerts.

The periods are hours or days alike: only their order matters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alerts.rules import episodes

Cut = tuple[int, str]  # (cut, epoch s; id of the resolved alert)


@dataclass(frozen=True, slots=True)
class Part:
    """An episode and the id of the resolved alert it continues (None: a fresh one)."""

    episode: episodes.ExceedanceEpisode
    follows: str | None = None


def split_resolved(verdicts: list[episodes.ExceedanceHour], cuts: dict[int, Cut]) -> list[Part]:
    """Episodes of ``verdicts`` (time order) with resolved ones split at their cuts.

    ``cuts``: episode start (epoch s) -> (cut, resolved alert id), for resolved alerts that
    were still active when resolved.
    """
    out: list[Part] = []
    rest = verdicts
    follows: str | None = None
    while True:
        split = False
        for i, ep in enumerate(episodes.derive_episodes(rest)):
            lead = follows if i == 0 else None
            cut = cuts.get(ep.start_s)
            if cut is None or not ep.start_s < cut[0] <= ep.last_exceeded_s:
                out.append(Part(ep, lead))
                continue
            head = [v for v in rest if ep.start_s <= v.hour_start_s < cut[0]]
            first = episodes.derive_episodes(head)[0]
            out.append(Part(replace(first, closed_s=cut[0]), lead))
            rest = [v for v in rest if v.hour_start_s >= cut[0]]
            follows, split = cut[1], True
            break
        if not split:
            return out
