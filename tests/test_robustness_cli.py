"""The CLI never shows a traceback for bad input, reports internal errors as such, and writes
reports atomically (an interrupted run leaves the previous report or the new one)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from harness.atomic import write_atomic
from harness.cli import main


def test_internal_error_exit_3_and_traceback_only_with_debug(capsys, monkeypatch):
    import impls.manual as manual

    def broken(problem, config):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(manual, "run", broken)
    assert main(["check", "--impl", "exact,manual", "--no-report"]) == 3
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: planted" in err and "bug in crossgrad" in err
    assert "Traceback" not in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "check", "--impl", "exact,manual", "--no-report"])


def test_keyboard_interrupt_exits_130(capsys, monkeypatch):
    import impls.manual as manual

    def interrupted(problem, config):
        raise KeyboardInterrupt

    monkeypatch.setattr(manual, "run", interrupted)
    assert main(["check", "--impl", "exact,manual", "--no-report"]) == 130


def test_write_atomic_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    write_atomic(target, '{"old": true}\n')

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, '{"new": true}\n')
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]   # the temp file was removed


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_check_leaves_a_whole_report(tmp_path, sig):
    """Kill `crossgrad check` at many moments while it writes; the report always parses."""
    cmd = [sys.executable, "-m", "harness", "check", "batch", "--impl", "exact,manual", "--out", str(tmp_path)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=120)
    report = tmp_path / "check-batch-cpu-float64.json"
    before = json.loads(report.read_text())
    for delay in (0.05, 0.15, 0.25, 0.35, 0.45, 0.6):
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(sig)
        proc.wait(timeout=60)
        data = json.loads(report.read_text())      # never truncated
        assert data["case"] == before["case"]
        if sig == signal.SIGTERM:
            assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_interrupt_wrapped_in_a_system_error_still_exits_130(capsys, monkeypatch):
    """Ctrl-C landing inside a C call (Fraction arithmetic in NumPy) surfaces as SystemError from it."""
    import impls.manual as manual

    def interrupted_in_c(problem, config):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("<function Fraction.numerator> returned a result with an exception set") from exc

    monkeypatch.setattr(manual, "run", interrupted_in_c)
    assert main(["check", "--impl", "exact,manual", "--no-report"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_reader_that_stops_early_gives_the_sigpipe_status_not_success(capsys, monkeypatch):
    import harness.cmd_verify as cmd

    def broken(args):
        raise BrokenPipeError

    monkeypatch.setattr(cmd, "run", broken)
    rc = main(["verify", str(ROOT / "examples" / "seed.toml")])
    assert rc == 141, f"observed exit {rc}, expected 141 (128 + SIGPIPE): a cut-off verdict is not a success"


@pytest.mark.parametrize("command", [["check"], ["sweep", "--count", "2"],
                                     ["bench", "--shape", "1,1,1,3,2", "--impl", "manual", "--repeat", "1"]],
                         ids=["check", "sweep", "bench"])
@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_a_report_folder_that_cannot_be_one_is_exit_2_before_any_work(tmp_path, capsys, command, where):
    afile = tmp_path / "afile"
    afile.write_text("x")
    out = afile if where == "file" else afile / "sub"
    rc = main([*command, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "--out" in err, f"observed exit {rc}, stderr {err!r}"
    assert afile.read_text() == "x", "the file in the way is left as it was"


def test_check_in_a_dtype_numpy_lacks_skips_manual_and_sweep_with_nothing_to_compare_is_exit_2(capsys):
    assert main(["check", "--dtype", "bfloat16", "--impl", "exact,manual"]) == 2
    assert "manual is unavailable: NumPy has no bfloat16" in capsys.readouterr().err
    assert main(["sweep", "--count", "2", "--impl", "manual", "--dtype", "bfloat16", "--no-report"]) == 2
    assert "nothing to compare in bfloat16" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["explian", "seed"], "unknown command 'explian' (did you mean 'explain'?)"),
    (["verfy", "x.toml"], "unknown command 'verfy' (did you mean 'verify'?)"),
    (["sed"], "unknown case 'sed' (did you mean 'seed'?)"),
], ids=["command-typo", "command-typo-2", "case-typo"])
def test_a_typo_gets_a_suggestion_and_exit_2(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1, f"observed {err!r}, expected …{expected}…"
