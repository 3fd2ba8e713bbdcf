"""`crossgrad sweep --workers N / --scheduler`: on a Dask LocalCluster of processes, the report is the serial
one (planted bug, groups, shrunk cases, rerun commands), a worker killed mid-sweep loses no configuration, and
a configuration that kills its workers is a failure of its own with its rerun command."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import numpy as np
import pytest

from harness import cli
from harness.sweep import batches as B
from harness.sweep.draw import FAMILY_SIZE

distributed = pytest.importorskip("distributed", reason="needs the dask extra: pip install -e '.[dask]'")

import cloudpickle  # noqa: E402  (with distributed)
from distributed.diagnostics.plugin import WorkerPlugin  # noqa: E402

from harness.sweep import on_dask  # noqa: E402
from harness.sweep.run import CRASHED, Settings  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])    # the plugin below travels to the workers
TIMINGS = {"seconds", "configurations_per_second", "time_split_seconds", "created", "command"}


class Plant(WorkerPlugin):
    """In every worker process, now and after a restart: `manual` with ∂L/∂W[largest] off by `relative`
    (0: correct), killing its process on configurations `crash`, and once on `kill_once` (a marker file
    says it happened), sleeping `slow_seconds` on configurations `slow` (results arrive out of order)."""

    name = "crossgrad-test-plant"

    def __init__(self, relative=0.0, crash=(), kill_once=None, marker=None, slow=(), slow_seconds=0.0):
        self.relative, self.crash, self.kill_once, self.marker = relative, tuple(crash), kill_once, marker
        self.slow, self.slow_seconds = tuple(slow), slow_seconds

    def setup(self, worker=None):
        import os
        import re
        import signal
        from pathlib import Path

        import impls.manual
        real = impls.manual.__dict__.setdefault("_unplanted_run", impls.manual.run)
        plant = self

        def run(problem, config=None):
            import time
            drawn = re.fullmatch(r"sweep-.*?(\d+)", problem.name)        # shrunk cases have other names
            index = int(drawn.group(1)) if drawn else None
            if index in plant.slow:
                time.sleep(plant.slow_seconds)
            once = plant.kill_once is not None and index == plant.kill_once and not Path(plant.marker).exists()
            if index in plant.crash or once:
                if index == plant.kill_once:
                    Path(plant.marker).touch()
                os.kill(os.getpid(), signal.SIGKILL)
            trace = real(problem, *(() if config is None else (config,)))
            return _off(trace, plant.relative) if plant.relative else trace

        impls.manual.run = run


def _off(trace, relative):
    import dataclasses
    first = trace.steps[0]
    g = np.array(first.grad_filter, copy=True)
    i = np.unravel_index(np.argmax(np.abs(g)), g.shape)
    g[i] = g[i] * (1 + relative)
    return dataclasses.replace(trace, steps=(dataclasses.replace(first, grad_filter=g),) + trace.steps[1:])


@pytest.fixture(scope="module")
def client():
    with on_dask.connect(workers=2) as c:
        yield c


@pytest.fixture
def planted(client, monkeypatch):
    """plant(**kw) installs Plant(**kw) on the workers; `crossgrad sweep --workers 2` then uses them."""
    monkeypatch.setattr(on_dask, "connect", lambda *a, **k: contextlib.nullcontext(client))

    def plant(**kw):
        client.register_plugin(Plant(**kw))
    plant.client = client
    yield plant
    client.register_plugin(Plant())


def _report(capsys, argv):
    rc = cli.main(argv)
    out = capsys.readouterr().out
    return rc, json.loads(out)


def _without_timings(d):
    d = {k: v for k, v in d.items() if k not in TIMINGS}
    for g in d["mismatch_groups"]:
        g.get("shrunk", {}).pop("seconds", None)
    return d


def _out_free(d, *folders):
    """The report with its folder names (the two runs write to different ones) taken out."""
    text = json.dumps(d)
    for f in folders:
        text = text.replace(str(f), "OUT")
    return json.loads(text)


def test_planted_bug_report_equals_the_serial_one(planted, monkeypatch, tmp_path, capsys):
    """Same configurations, failures, groups, shrunk cases and rerun commands as serial, on 2 workers."""
    import impls.manual
    planted(relative=1e-3)
    args = ["sweep", "--count", "20", "--seed", "4", "--impl", "exact,manual", "--json"]
    rc_w, on_workers = _report(capsys, args + ["--workers", "2", "--out", str(tmp_path / "w")])
    real = impls.manual.run
    monkeypatch.setattr(impls.manual, "run", lambda p, c=None: _off(real(p, *(() if c is None else (c,))), 1e-3))
    rc_s, serial = _report(capsys, args + ["--out", str(tmp_path / "s")])
    assert rc_s == rc_w == 1, f"observed exit {rc_w} on workers, {rc_s} serial; expected 1 (the planted bug)"
    assert serial["mismatch_groups"] and serial["mismatch_groups"][0]["shrunk"], "expected a shrunk failure"
    a = _out_free(_without_timings(serial), tmp_path / "s")
    b = _out_free(_without_timings(on_workers), tmp_path / "w")
    diff = {k for k in a if a[k] != b[k]}
    assert not diff, f"observed {diff} differing from the serial report, e.g. {diff and (a[min(diff)], b[min(diff)])}"


def test_worker_killed_mid_sweep_loses_no_configuration(planted, tmp_path, capsys):
    planted(kill_once=25, marker=str(tmp_path / "killed"))
    rc, d = _report(capsys, ["sweep", "--count", "40", "--seed", "2", "--impl", "exact,manual", "--json",
                             "--workers", "2", "--out", str(tmp_path)])
    assert (tmp_path / "killed").exists(), "expected configuration 25 to have killed its worker"
    assert rc == 0 and d["agree"], f"observed exit {rc}, groups {d['mismatch_groups']}, expected 0 as serial"
    assert d["configurations_run"] == 40 and d["configurations_requested"] == 40, f"observed {d['configurations_run']}"


def test_configuration_that_crashes_workers_is_its_own_failure(planted, tmp_path, capsys):
    planted(crash=(13,))
    rc, d = _report(capsys, ["sweep", "--count", "20", "--seed", "2", "--impl", "exact,manual", "--json",
                             "--workers", "2", "--out", str(tmp_path)])
    assert rc == 1 and d["configurations_run"] == 20, f"observed exit {rc}, {d['configurations_run']} run"
    groups = [(g["impl"], g["quantity"], g["indices"]) for g in d["mismatch_groups"]]
    assert groups == [(CRASHED, "error", [13])], f"observed groups {groups}, expected only #13 crashing"
    g = d["mismatch_groups"][0]
    assert "crashed the worker" in g["example"] and "shrunk" not in g, f"observed {g}"
    rerun = g["smallest_drawn"]["rerun"]
    assert "--only 13" in rerun and "--impl exact,manual" in rerun and "--workers" not in rerun, f"observed {rerun!r}"


def test_ctrl_c_keeps_the_batches_done_in_drawn_order(client):
    """KeyboardInterrupt while waiting (here from the progress callback, after the second batch)."""
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == 2:
            raise KeyboardInterrupt

    result = on_dask.sweep(Settings(seed=0, count=200, impls=("exact", "manual")), client, progress)
    ran = [c.case.index for c in result.cases]
    assert result.interrupted and 0 < len(ran) < 200, f"observed {len(ran)} run, interrupted={result.interrupted}"
    assert ran == sorted(ran) and len(ran) == seen[-1], f"observed {ran[:20]}…, expected drawn order"


def test_sweep_on_its_own_local_cluster_equals_serial(tmp_path, capsys):
    """The whole command: its own LocalCluster of 2 processes, then closed."""
    args = ["sweep", "--count", "20", "--seed", "6", "--impl", "exact,manual", "--json", "--no-report"]
    rc_w, on_workers = _report(capsys, args + ["--workers", "2"])
    rc_s, serial = _report(capsys, args)
    assert rc_w == rc_s == 0, f"observed exit {rc_w} on workers, {rc_s} serial"
    a, b = _without_timings(serial), _without_timings(on_workers)
    assert a == b, f"observed {[k for k in a if a[k] != b[k]]} differing from the serial report"


def _comparable(result):
    from harness.sweep import report
    return _without_timings(report.to_dict(result, {}, "reports"))


@pytest.mark.parametrize("threads", [1, 8])
def test_report_is_the_serial_one_whatever_the_worker_count_and_arrival_order(threads, planted, monkeypatch):
    """The first batch sleeps, so later batches arrive first (checked); `threads` sets the batch plan and
    how many batches are in flight (what the number of workers decides): the report is the serial one."""
    from harness.sweep.run import sweep as serial_sweep
    planted(slow=(0, 1), slow_seconds=0.4)
    arrived = []
    real_order = on_dask.in_drawn_order

    def spy(indices, by_index):
        arrived.extend(by_index)                   # a dict keeps insertion order: the order results came
        return real_order(indices, by_index)
    monkeypatch.setattr(on_dask, "in_drawn_order", spy)
    monkeypatch.setattr(on_dask, "_threads", lambda *a: threads)
    settings = Settings(seed=5, count=40, impls=("exact", "manual"))
    on_workers = on_dask.sweep(settings, planted.client)
    serial = serial_sweep(settings)
    assert [c.case.index for c in on_workers.cases] == list(range(40)), "expected every configuration, in order"
    if threads > 1:
        assert arrived != sorted(arrived), f"expected results out of drawn order with {threads} in flight"
    assert _comparable(on_workers) == _comparable(serial), f"observed a report differing from serial ({threads})"


# --- batches ------------------------------------------------------------------------------------

@pytest.mark.parametrize("total, workers", [(7, 2), (400, 2), (10_000, 3), (1_000_000, 100)])
def test_batches_are_whole_families_in_drawn_order(total, workers):
    plan = B.plan(tuple(range(total)), workers)
    assert [i for b in plan for i in b] == list(range(total)), "observed configurations lost or reordered"
    size = B.batch_size(total, workers)
    assert all(len(b) <= size for b in plan) and size <= B.MAX_BATCH
    assert all(b[0] % FAMILY_SIZE == 0 for b in plan), "observed a batch starting inside a family"
    assert len(plan) >= min(total // B.MAX_BATCH, 2 * workers) or total < 2 * workers * FAMILY_SIZE


def test_only_indices_keep_their_order_and_families():
    assert B.families((35, 3, 4, 5, 12, 11)) == [(35,), (3, 4, 5), (12,), (11,)]
    assert B.plan((35, 3, 4, 5, 12, 11), 2) == [(35, 3, 4, 5, 12, 11)], "expected one batch of 6 (≤ 10)"
    assert B.plan(tuple(range(5, 25)), 2) == [tuple(range(5, 10)), tuple(range(10, 20)), tuple(range(20, 25))]
    assert B.in_drawn_order((35, 3, 4), {4: "d", 35: "a", 3: "b"}) == ["a", "b", "d"]


# --- bad input, and no Dask -----------------------------------------------------------------------

@pytest.mark.parametrize("args, where", [
    (["--workers", "0"], "--workers"), (["--scheduler", "localhost"], "--scheduler"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
    (["--workers", "1", "--dtype", "bfloat16", "--impl", "exact,manual"], "--impl: nothing to compare")],
    ids=["workers-0", "no-scheme", "unreachable", "both", "nothing-to-compare-on-a-worker"])
def test_bad_parallel_options_are_one_line_exit_2(args, where, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(on_dask, "CONNECT_SECONDS", 1)
    with pytest.raises(SystemExit) if "--workers" in args and "--scheduler" in args else contextlib.nullcontext():
        rc = cli.main(["sweep", "--count", "3", *args, "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert rc == 2 and where in err and len(err.strip().splitlines()) == 1, f"observed exit {rc}, stderr {err!r}"
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_without_dask_the_core_runs_and_workers_is_one_line_exit_2(tmp_path):
    block = ("import sys; sys.modules['dask'] = sys.modules['distributed'] = None; from harness import cli; "
             "sys.exit(cli.main(sys.argv[1:]))")
    base = [sys.executable, "-c", block, "sweep", "--count", "3", "--impl", "exact,manual", "--no-report"]
    ok = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, f"observed exit {ok.returncode} without dask: {ok.stderr[-300:]!r}"
    bad = subprocess.run(base + ["--workers", "2"], capture_output=True, text=True, timeout=120)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1 and "crossgrad[dask]" in lines[0], \
        f"observed exit {bad.returncode}, stderr {bad.stderr!r}"
