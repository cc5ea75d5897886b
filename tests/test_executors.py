"""The executors (local, processes, Ray, submitit): the same rows wherever units train.

The Ray and submitit tests need the optional extras and are skipped without them; they use a
small smoke configuration and one thread per unit, so the rows are bit-identical to an
in-process run at one thread (CPU training is deterministic at a fixed thread count).
"""
import json

import pytest

from dboost import executors, experiments, rounds

SMALL = dict(n_train=200, n_test=100, batch_size=25, members=2, rules=("zero", "save_mean_reverse", "constant"),
             archs=("resnet9",), lengths=(1, 2))
METRICS = ("acc", "nll", "auc_proba", "ece")


def _rows(root, profile="smoke"):
    out = {}
    for p in sorted((root / profile).glob("*/rows/*.json")):
        if p.parts[-3] == "units":
            continue
        r = json.loads(p.read_text())
        out[(p.parts[-3], p.stem)] = tuple(r["test"][m] for m in METRICS)
    return out


def _cfgs(only, **kw):
    return {e: experiments.configure(e, "smoke", device="cpu", progress=False, **dict(SMALL, **kw)) for e in only}


def _local_then_elsewhere(only, runs, monkeypatch, elsewhere):
    """Train ``only`` in-process into ``runs`` and return its rows; then point the runs folder at
    ``elsewhere``, where the executor under test writes the same experiments afresh."""
    for cfg in _cfgs(only).values():
        experiments.run(cfg)
    local = _rows(runs)
    monkeypatch.setenv("DBOOST_RUNS", str(elsewhere))
    return local


def _overlapping(units):
    """Pairs of unit rows whose worker spans overlap in time (they ran at once)."""
    return [(a, b) for a in units for b in units
            if a is not b and a["worker_span"][0] < b["worker_span"][1] and b["worker_span"][0] < a["worker_span"][1]]


# ----------------------------------------------------------------------------- Ray

@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, num_gpus=4, include_dashboard=False, log_to_driver=False)  # fake GPUs: bookkeeping only
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_rows_of_local_and_one_gpu_per_task(runs, tmp_path, monkeypatch, ray_local, one_thread):
    only = ("gap_sweep", "boosting")
    local = _local_then_elsewhere(only, runs, monkeypatch, tmp_path / "ray")
    n = executors.run_ray(_cfgs(only), gpus_per_unit=1)
    assert n > 0
    assert _rows(tmp_path / "ray") == local
    units = [json.loads(p.read_text()) for p in (tmp_path / "ray/smoke/units/rows").glob("*.json")]
    assert {u["executor"] for u in units} == {"ray"}
    assert {u["cuda_visible_devices"] for u in units} <= {"0", "1", "2", "3"}
    # tasks that ran at the same time saw different GPUs (one GPU per unit)
    for a, b in _overlapping(units):
        assert a["cuda_visible_devices"] != b["cuda_visible_devices"]
    assert _overlapping(units)  # and some did run at the same time
    # boosting members name their predecessor: the chain order is in the rows
    rows = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "ray/smoke/boosting/rows").glob("*.json")}
    for k, r in rows.items():
        prev = rows.get(k[:-1] + str(r["members"] - 1)) if r["members"] > 1 else None
        assert r["previous_member_unit"] == (prev["member_unit"] if prev else None)
    # a second run finds every unit stored: nothing is sent out again
    assert executors.run_ray(_cfgs(only), gpus_per_unit=1) == 0


@pytest.mark.slow
def test_ray_retries_a_killed_worker_without_loss_or_duplicates(runs, tmp_path, monkeypatch, ray_local):
    marker = tmp_path / "killed-once"
    monkeypatch.setenv("DBOOST_FAULT_KILL_ONCE", str(marker))
    cfgs = _cfgs(("gap_sweep",))
    # the env var must reach the workers: Ray workers inherit the driver's environment at start, so
    # pass it through the task's runtime env
    n = executors.run_ray(cfgs, gpus_per_unit=0, runtime_env={"env_vars": {"DBOOST_FAULT_KILL_ONCE": str(marker)}})
    assert marker.exists()  # one worker did die mid-unit
    stored = list((runs / "smoke/units/rows").glob("*.json"))
    # retried, nothing lost, nothing twice (3 units for 4 rows: on the tiny synthetic set m0 < 0,
    # so the gap-m0 net, clamped to gap 0, is the gap-0 unit)
    assert n == len(stored) == 3
    assert len(list((runs / "smoke/gap_sweep/rows").glob("*.json"))) == 4


# ----------------------------------------------------------------------------- submitit

@pytest.mark.slow
@pytest.mark.parametrize("cluster", ["debug", "local"])
def test_submitit_gives_the_rows_of_local(cluster, runs, tmp_path, monkeypatch, one_thread):
    pytest.importorskip("submitit")
    only = ("gap_sweep",)
    local = _local_then_elsewhere(only, runs, monkeypatch, tmp_path / cluster)
    n = executors.run_slurm(_cfgs(only), folder=tmp_path / "submitit", cluster=cluster, cpus_per_task=1, time_min=5)
    assert n == 3  # 4 rows, 3 units (the clamped gap-m0 net is the gap-0 unit here)
    assert _rows(tmp_path / cluster) == local


# ----------------------------------------------------------------------------- worker processes

@pytest.mark.slow
def test_processes_give_the_rows_of_local(runs, tmp_path, monkeypatch, one_thread):
    only = ("gap_sweep", "boosting")
    local = _local_then_elsewhere(only, runs, monkeypatch, tmp_path / "proc")
    n = executors.run_processes(_cfgs(only), workers=2, threads=1)
    assert n > 0
    assert _rows(tmp_path / "proc") == local
    units = [json.loads(p.read_text()) for p in (tmp_path / "proc/smoke/units/rows").glob("*.json")]
    assert {u["executor"] for u in units} == {"processes"}
    assert executors.run_processes(_cfgs(only), workers=2, threads=1) == 0  # all stored: nothing is sent again


@pytest.mark.slow
def test_time_limit_starts_no_unit_after_the_deadline_and_a_rerun_resumes(runs, tmp_path, monkeypatch, one_thread):
    import time
    only = ("gap_sweep", "boosting")
    local = _local_then_elsewhere(only, runs, monkeypatch, tmp_path / "proc")
    # a deadline already past: nothing starts, nothing is written but what the stored units give
    assert executors.run_processes(_cfgs(only), workers=2, threads=1, deadline=time.monotonic()) == 0
    assert not list((tmp_path / "proc").glob("smoke/units/rows/*.json"))
    # a deadline inside the run: it stops early, every finished unit stored with its experiment rows
    n1 = executors.run_processes(_cfgs(only), workers=1, threads=1, deadline=time.monotonic() + 1.0)
    stored = {p.stem for p in (tmp_path / "proc/smoke/units/rows").glob("*.json")}
    assert n1 == len(stored)
    partial = _rows(tmp_path / "proc")
    assert len(partial) < len(local) and all(local[k] == v for k, v in partial.items())
    # the progress bar's total: a stand-in plan of what is left, the stored units counting as trained
    rest = rounds._stand_in_plan(_cfgs(only), "smoke", remaining=True)
    assert len(rest) + len(stored) == len(rounds.plan("smoke", only, **SMALL))
    assert not stored & {u["key"] for u in rest}
    # the rerun trains only the rest and ends with the rows of an uninterrupted run
    n2 = executors.run_processes(_cfgs(only), workers=2, threads=1, progress=True)
    assert n2 == len(rest) > 0 and n1 + n2 == len(list((tmp_path / "proc/smoke/units/rows").glob("*.json")))
    assert _rows(tmp_path / "proc") == local


def test_batch_set_and_time_limit_are_checked_before_any_work(runs):
    from dboost import runner
    assert runner._parse_set('rules=["zero","constant"]') == ("rules", ("zero", "constant"))
    assert runner._parse_set("members=3") == ("members", 3)
    assert runner._parse_set("recipe=fast") == ("recipe", "fast")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        runner._parse_set("members")
    with pytest.raises(ValueError, match="unknown profile setting 'memberz'"):
        runner.run("smoke", ["gap_sweep"], device="cpu", notebooks=False, overrides=dict(memberz=3),
                  executor="processes")
    with pytest.raises(ValueError, match="does not combine with --no-train"):
        runner.run("smoke", ["gap_sweep"], device="cpu", train=False, time_limit_min=1.0)
    with pytest.raises(ValueError, match="positive number of minutes"):
        runner.run("smoke", ["gap_sweep"], device="cpu", notebooks=False, executor="processes", time_limit_min=0)
    with pytest.raises(ValueError, match="workers must be a positive int"):
        executors.run_processes(_cfgs(("gap_sweep",)), workers=0)
    assert not runs.exists() or not list(runs.rglob("*.json"))


def test_missing_extra_is_one_clear_error(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_ray(name, *a, **k):
        if name == "ray":
            raise ImportError("no ray")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ValueError, match=r'pip install -e "\.\[ray\]"'):
        executors._need("ray", "ray")


@pytest.mark.slow
def test_processes_pin_one_gpu_per_worker(runs, one_thread):
    # gpu_count=2 on a CPU run: the workers still train on the CPU, but each sets its own
    # CUDA_VISIBLE_DEVICES as it would on a two-GPU machine, and the unit rows record it
    n = executors.run_processes(_cfgs(("gap_sweep",)), workers=2, threads=1, gpu_count=2)
    units = [json.loads(p.read_text()) for p in (runs / "smoke/units/rows").glob("*.json")]
    assert n == len(units) > 0
    assert {u["cuda_visible_devices"] for u in units} <= {"0", "1"}
    # the two workers took different GPUs, so units that overlapped in time saw different ones
    for a, b in _overlapping(units):
        assert a["cuda_visible_devices"] != b["cuda_visible_devices"]
