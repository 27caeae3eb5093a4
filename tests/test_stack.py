"""The local stack's process handling: logs read per run, exits of watched services noticed.
(The whole stack runs in tests/test_scenarios.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.run import StackSettings, _banner
from devstack.stack import LocalStack, Ports


def test_a_childs_log_is_its_own_run_only_and_one_off_commands_are_not_watched(
        tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, tmp_path / "registry.toml", tmp_path / "secrets.toml")
    stack.logs.mkdir(parents=True)
    (stack.logs / "simulator.log").write_text("caught up with the present (an earlier run)\n")
    try:
        child = stack.start("simulator", "--help", watched=False)
        assert child.proc.wait(60) == 0
        text = child.log_text()
        assert "python -m simulators" in text
        assert "earlier run" not in text
        assert "earlier run" in child.log_path.read_text()  # appended, not overwritten
        assert stack.dead() is None
        broken = stack.start("simulator", "--no-such-option")
        assert broken.proc.wait(60) == 2
        dead = stack.dead()
        assert dead is not None
        assert dead.startswith("simulator exited with 2")
        assert "python -m simulators: error" in dead  # the end of its log
    finally:
        stack.stop()


def test_the_reports_job_runs_its_schedule_and_the_new_ports_answer_ready(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, tmp_path / "registry.toml", tmp_path / "secrets.toml")
    stack.logs.mkdir(parents=True)
    stack.ports = Ports().resolved()
    try:
        child = stack.start("reports", "--help", watched=False)
        assert child.proc.wait(60) == 0
        assert "usage: python -m api reports run" in child.log_text()
    finally:
        stack.stop()
    notify = stack.ports.notify_metrics
    assert stack.ports.ready_url("notify") == f"http://127.0.0.1:{notify}/ready"
    assert stack.ports.ready_url("reports") is not None
    assert stack.ports.ready_url("alerts") is None  # metrics only
    env = stack.env()
    assert env["EMS_NOTIFY_METRICS_PORT"] == str(stack.ports.notify_metrics)
    assert env["EMS_API_REPORTS_METRICS_PORT"] == str(stack.ports.reports_metrics)


def test_the_banner_says_where_to_look_and_how_to_configure_recipients(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMS_NOTIFY_RECIPIENTS_PATH", raising=False)
    stack = LocalStack(tmp_path, tmp_path / "registry.toml", tmp_path / "secrets.toml",
                       Ports().resolved())
    st = StackSettings(recipients_path=None)
    text = _banner(stack, st, "demo", ("k-inspector", "k-enterprise"))
    assert f"{stack.api_url}/web/reports" in text
    assert f"{stack.api_url}/api/v1/audit" in text
    assert "--role admin" in text
    assert "EMS_STACK_RECIPIENTS_PATH" in text
    assert f":{stack.ports.notify_metrics}/metrics" in text
    people = tmp_path / "recipients.toml"
    text = _banner(stack, StackSettings(recipients_path=people), "demo", ("a", "b"))
    assert f"recipients of the notifier {people}" in text
    assert "EMS_STACK_RECIPIENTS_PATH" not in text
