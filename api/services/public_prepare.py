"""Preparing the public tier's answers ahead of its readers (issue 14): every enterprise's
default answers and pages of a publication cut are computed in a background thread as soon as
the hour is published, so that a crowd spread over all the enterprises finds them in the cache
(``api.services.public``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from prometheus_client import Gauge

from api.services.public import (
    ALERTS_API,
    ALERTS_PAGE,
    alerts,
    amounts,
    default_range,
    hours,
    one_enterprise,
    published_until,
)
from api.state import AppState
from core.registry import Enterprise
from store.influx import StoreError

log = logging.getLogger(__name__)

PREPARED = Gauge("api_public_prepared_until_seconds",
                 "The publication cut whose public answers are all prepared (epoch s)")


class Publisher:
    """Prepares every enterprise's default public answers (and, through ``pages``, its pages)
    as soon as an hour is published, in a background thread, so that a crowd spread over all
    the enterprises finds them ready. ``prepared_until`` is the cut last prepared in full (the
    gauge ``api_public_prepared_until_seconds``)."""

    def __init__(self, state: AppState, pages: Callable[[Enterprise, int], object] | None = None,
                 poll_s: float = 10.0) -> None:
        self.state = state
        self.pages = pages
        self.poll_s = poll_s
        self.prepared_until = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="public-prepare", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def prepare(self, until: int) -> bool:
        """Every enterprise's answers of the cut ``until``; False if stopped half-way."""
        state = self.state
        for ent in state.registry.enterprises.values():
            if self._stop.is_set() or published_until(state) != until:
                return False
            one_enterprise(state, until, ent)
            hours(state, until, ent, default_range(until))
            alerts(state, until, ent, ALERTS_API)
            alerts(state, until, ent, ALERTS_PAGE)
            amounts(state, until, ent)
            if self.pages is not None:
                self.pages(ent, until)
        return True

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            until = published_until(self.state)
            if until != self.prepared_until:
                try:
                    done = self.prepare(until)
                except StoreError as exc:
                    if not failing:
                        log.warning("could not prepare the public answers: %s", exc)
                    failing, done = True, False
                else:
                    if failing and done:
                        log.info("public answers prepared again")
                    failing = failing and not done
                if done:
                    self.prepared_until = until
                    PREPARED.set(until / 1000)
            self._stop.wait(self.poll_s)
