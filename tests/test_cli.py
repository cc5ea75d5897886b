"""The ``dboost`` command (dboost.cli): its subcommands reach the runner and the plan."""
import pytest

from dboost import cli, rounds, runner


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in ("run", "plan", "render"))


def test_plan_prints_the_plans_units_per_round(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path / "runs"))
    units = rounds.plan("smoke", ["boosting"], n_train=200, n_test=100, members=2)
    assert cli.main(["plan", "--profile", "smoke", "--only", "boosting", "--set", "n_train=200", "--set",
                     "n_test=100", "--set", "members=2"]) == 0
    out = capsys.readouterr().out
    assert f"{len(units)} unit(s) in {max(u['round'] for u in units)} round(s)" in out
    for r in {u["round"] for u in units}:
        assert f"round {r:>3}: {sum(u['round'] == r for u in units):>4} unit(s)" in out
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("argv,no_train", [(["run", "--profile", "smoke", "--no-publish"], False),
                                           (["render", "--profile", "smoke", "--no-publish"], True)])
def test_run_and_render_are_the_runner(monkeypatch, argv, no_train):
    seen = {}
    monkeypatch.setattr(runner, "run", lambda profile, only, device, **kw: seen.update(profile=profile, **kw))
    assert cli.main(argv) == 0
    assert seen["profile"] == "smoke" and seen["train"] is not no_train and seen["publish_book"] is False


def test_bad_arguments_exit_2_before_any_work(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DBOOST_RUNS", str(tmp_path / "runs"))
    assert cli.main(["run", "--profile", "nope", "--no-publish"]) == 2
    assert not (tmp_path / "runs").exists()
    assert cli.main(["plan", "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err
