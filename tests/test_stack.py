"""The local stack's process handling: logs read per run, exits of watched services noticed.
(The whole stack runs in tests/test_scenarios.py.)"""

from __future__ import annotations

from pathlib import Path

from devstack.stack import LocalStack


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
