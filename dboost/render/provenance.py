"""A result page's header: which profile it shows, what produced its rows (data, recipe, seeds,
hardware, commit), what rerunning them costs, and the banners of a partial or a smoke run."""
from __future__ import annotations

import re

import pandas as pd

from ..analysis.rows import row_list, rows, runs_root, unit_row
from ..config import PROFILE_RANK
from .markdown import term


# ----------------------------------------------------------------------------- which rows a page shows

def best_profile(experiment: str) -> str | None:
    """The best profile with results for ``experiment`` (the order of ``experiments.PROFILE_RANK``)."""
    for p in PROFILE_RANK:
        if (runs_root() / p / experiment / "results.csv").exists():
            return p
    return None


def load_rows(experiment, profile=None):
    """Rows of ``experiment`` for ``profile`` (None: the best profile that has them)."""
    p = profile if profile is not None else best_profile(experiment)
    df = rows(experiment, p) if p else pd.DataFrame()
    return (df, p) if not df.empty else (pd.DataFrame(), None)


def provenance(df: pd.DataFrame, rerun: bool = True) -> str:
    """One Markdown paragraph: what produced these numbers (and, with ``rerun``, a second one: the
    command that reruns the page and its measured cost, :func:`rerun_line`)."""
    if df.empty:
        return "*No results yet.*"
    first = df.iloc[0]
    wall = _wall_once(df)
    seeds = sorted(set(int(s) for s in df["seed"]))
    hw = ", ".join(sorted(set(_named(f"{h} ({d})") for h, d in zip(df["env_hardware"], df["env_device"]))))
    if "member_trained_on" in df:  # boosting rows: members may have been trained elsewhere (cached outputs)
        hw = f"{members_note(df)}; ensemble metrics on {hw}"
    if "precision" in df and df["precision"].notna().all():
        prec = "/".join(sorted(set(df["precision"])))
    else:  # rows written before precision was recorded: the trainer's default then, by device
        where = df["member_trained_on"] if "member_trained_on" in df else df["env_device"]  # boosting: the members'
        prec = "/".join(sorted({"bf16" if "cuda" in str(d) else "fp32" for d in where})) + \
            " (not recorded; the trainer's default for the device)"
    n_tr = "full" if first["dataset"] != "synthetic" and int(first["n_train"]) >= 50_000 else f"{int(first['n_train']):,}"
    ex = "/".join(sorted(set(df["executor"].fillna("local")))) if "executor" in df else "local"
    if first.get("split", "standard") == "authors":
        n_tr += ", the authors' split: 'test' = the last 5k training images"
    epochs = sorted(set(int(e) for e in df["epochs"]))
    epochs = str(epochs[0]) if len(epochs) == 1 else "/".join(map(str, epochs))
    with_rerun = rerun and "experiment" in df  # its line gives the training time, each network counted once
    hw += resumed_note(df)
    return (f"**Run:** {term('profile')} `{first['profile']}` · data `{first['dataset']}` (train {n_tr}, "
            f"test {int(first['n_test']):,}) · recipe `{first['recipe']}`, {epochs} epochs, "
            f"batch {int(first['batch_size'])} · precision {prec} · executor {ex} · seeds {seeds} · {len(df)} rows · hardware {hw} · "
            + ("" if with_rerun else f"training wall time {wall / 60:.1f} min (its networks, each counted once) · ")
            + f"torch {first['env_torch']} · {commits_note(df)}."
            + ("\n\n" + rerun_line(df) if with_rerun else ""))


def _wall_once(df: pd.DataFrame) -> float:
    """Training seconds of the networks behind ``df``, each once: a shared unit (a boosting member in
    several ensembles, a gap-0 net in several experiments) is one network, not one per row."""
    for key, col in (("member_unit", "member_wall_time_s"), ("unit", "train_wall_time_s")):
        if key in df and col in df:
            keyed = df[df[key].notna()].drop_duplicates(key)
            return float(keyed[col].sum() + df.loc[df[key].isna(), col].sum())
    return float(df.filter(regex=r"(train_wall_time_s|member_wall_time_s)$").sum().sum())


def _named(place: str) -> str:
    """Rows of older runs name only the CPU's architecture as their hardware; say so."""
    return re.sub(r"^(x86_64|aarch64|arm64) \(", r"\1, CPU model not recorded (", place)


def _commit_span(commits: list[str]) -> str:
    """"commit a1" or "3 commits, a1 to c3 (each row records its own)": ``commits`` oldest first."""
    return (f"commit {commits[0]}" if len(commits) == 1 else
            f"{len(commits)} commits, {commits[0]} to {commits[-1]} (each row records its own)")


def commits_note(df: pd.DataFrame) -> str:
    """The commits the rows were written at, oldest first by when their rows finished: rows of a
    resumed experiment span sessions, and naming only the first row's commit would pass for all."""
    c = df["env_git_commit"].fillna("?").astype(str)
    when = df["finished_at"] if "finished_at" in df else pd.Series(range(len(df)), index=df.index)
    order = pd.DataFrame(dict(c=c, t=when.astype(str))).groupby("c")["t"].min().sort_values()
    return _commit_span(list(order.index))


def _member_networks(df: pd.DataFrame) -> list[str]:
    """Which network each boosting row's last member is: its unit where the row records one, else
    (rows from before units were recorded) its chain position -- seed, rule, members -- with the
    first member shared by several rules counted once."""
    out = []
    for _, r in df.iterrows():
        u = r.get("member_unit")
        if isinstance(u, str) and u:
            out.append(u)
        else:
            shared = bool(r.get("shared_first_member")) and int(r.get("members", 0)) == 1
            out.append(f"seed {r.get('seed')}, {'first' if shared else r.get('rule')}, member {r.get('members')}")
    return out


def members_note(df: pd.DataFrame) -> str:
    """Where a boosting page's members trained: per machine, how many networks (a member shared by
    several ensembles counted once) and at which commits.  ``member_trained_on`` reads
    "<hardware> (<device>), torch <v>, commit <c>"; rows of older runs name only the CPU's
    architecture (``x86_64``), which is said."""
    nets: dict[str, dict[str, str]] = {}  # place -> {member network: its commit}
    for t, u in zip(df["member_trained_on"], _member_networks(df)):
        if isinstance(t, str):
            place, _, commit = t.partition(", commit ")
            nets.setdefault(place, {})[str(u)] = commit or "?"
    parts = []
    for place, by_unit in sorted(nets.items(), key=lambda kv: -len(kv[1])):
        shown = _named(place)
        commits = sorted(set(by_unit.values()))
        parts.append(f"{shown}: {len(by_unit)} network{'s' * (len(by_unit) != 1)}, "
                     + (f"commit {commits[0]}" if len(commits) == 1 else f"{len(commits)} commits"))
    return "members trained on " + "; ".join(parts)


def resumed_note(df: pd.DataFrame) -> str:
    """" (k rows trained in several stretches, resumed from a checkpoint: on A; B)", or "": a row
    records only the machine that finished it in ``env``, its stretches in ``train_segments``."""
    if "train_segments" not in df:
        return ""
    split = [s for s in df["train_segments"] if isinstance(s, list) and len(s) > 1]
    if not split:
        return ""
    machines = sorted({str(seg.get("machine", "?")) for s in split for seg in s})
    return (f" ({len(split)} row{'s' * (len(split) != 1)} trained in several stretches, resumed from a checkpoint"
            f" after an interruption, on {'; '.join(machines)})")


# ----------------------------------------------------------------------------- rerun cost

def duration(seconds: float) -> str:
    """A training time as a reader reads it: '40 s', '12 min', '3.4 h'."""
    s = float(seconds)
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def rerun_command(profile: str, experiment: str) -> str:
    """The command that trains what ``experiment`` at ``profile`` lacks and re-renders its page."""
    return f"dboost run --profile {profile} --only {experiment}"


def rerun_cost(profile: str, experiment: str) -> dict:
    """What the stored rows of ``experiment`` at ``profile`` cost to train: the number of trained
    networks (a network several rows share -- a boosting member in every larger ensemble, the
    longest length of the training-length study -- counted once), the sum of their training wall
    times in seconds, and the hardware they record.  A boosting row's own env is where its ensemble
    was scored; its member trained where the member's unit row says."""
    nets = {}  # network -> (seconds, hardware)
    for r in row_list(experiment, profile):
        wall = r.get("member_wall_time_s", r.get("train_wall_time_s"))
        if wall is None:
            continue
        env = (unit_row(profile, r["member_unit"]) or {}).get("env", {}) if r.get("member_unit") else r.get("env", {})
        t = env.get("cpu_threads", "?")
        hw = (f"CPU ({t} thread{'s' * (t != 1)})" if env.get("device") == "cpu"
              else f"{env.get('hardware', '?')} ({env.get('device', '?')})")
        nets[r.get("member_unit") or r.get("unit") or r["key"]] = (float(wall), hw)
    return dict(profile=profile, experiment=experiment, command=rerun_command(profile, experiment),
                networks=len(nets), seconds=sum(w for w, _ in nets.values()),
                hardware=" and ".join(sorted({h for _, h in nets.values()})))


def rerun_costs() -> pd.DataFrame:
    """:func:`rerun_cost` of every (profile, experiment) with rows in ``runs/``."""
    from ..registry import EXPERIMENTS
    root = runs_root()
    out = [rerun_cost(p.name, e) for p in sorted(root.iterdir()) if p.is_dir() for e in EXPERIMENTS
           if (p / e / "rows").is_dir()]
    return pd.DataFrame(out, columns=["profile", "experiment", "command", "networks", "seconds", "hardware"])


def rerun_line(df: pd.DataFrame, lead: str = "Rerun this page") -> str:
    """One Markdown line for a result page: the command that reruns it and what its rows cost."""
    if df.empty:
        return ""
    c = rerun_cost(str(df["profile"].iloc[0]), str(df["experiment"].iloc[0]))
    return (f"**{lead}:** `{c['command']}` (measured: {c['networks']} {term('units', 'unit')}, "
            f"{duration(c['seconds'])} of training on {c['hardware'] or 'unrecorded hardware'}; units already in "
            "`runs/` are not trained again).")


# ----------------------------------------------------------------------------- banners


def smoke_warning(df: pd.DataFrame) -> str:
    """A banner for pages whose best run is the synthetic smoke profile."""
    if not df.empty and (df["profile"] == "smoke").all():
        return ("**Pipeline check only:** this page shows the `smoke` profile (synthetic data, tiny nets). "
                "It tests the code path and says nothing about the poster's claims; run the `interp`, `cpu` or `gpu` profile.")
    return ""


# ----------------------------------------------------------------------------- one network on several pages

# Where each experiment keeps the gap-0 frozen-×10 ResNet9 of a seed at the profile's width and length:
# one training configuration on four pages (one shared unit where the rows record unit keys).
# experiment -> (the page's name, the columns the pick reads, the pick)
_BASELINE = {
    "gap_sweep": ("gap sweep", ("gap_label",), lambda d: d["gap_label"].eq("0")),
    "frozen_last_layer": ("heads", ("gap_label", "head_label"),
                          lambda d: d["gap_label"].eq("0") & d["head_label"].eq("freeze_last x10")),
    "architectures": ("architectures", ("gap_label", "arch"), lambda d: d["gap_label"].eq("0") & d["arch"].eq("resnet9")),
    "boosting": ("boosting", ("rule", "members"), lambda d: d["rule"].eq("zero") & d["members"].eq(1)),
}


def retrained_note(profile: str) -> str:
    """Where one configuration -- the gap-0 frozen-×10 ResNet9 of a seed -- was trained apart for
    several pages and so shows different values on them (rows from before units were shared, or
    hardware that is not bit-deterministic); "" where every page shows the same network."""
    from ..config import PROFILES
    p = PROFILES.get(profile, {})
    acc, net = {}, {}
    for e, (_, cols, pick) in _BASELINE.items():
        if e == "architectures" and p.get("arch_width") != p.get("width"):
            continue  # another width: another network
        d = rows(e, profile)  # empty where the experiment has no rows
        if d.empty or not {"seed", "test_acc", *cols} <= set(d):
            continue
        d = d[pick(d)].groupby("seed").first()
        if len(d):
            acc[e] = d["test_acc"]
            key = "member_unit" if e == "boosting" else "unit"  # the network's unit key, where the rows record it
            net[e] = d[key] if key in d else pd.Series(index=d.index, dtype=object)
    t = pd.DataFrame(acc).dropna()  # the seeds every page has
    if t.shape[1] < 2 or t.empty:
        return ""
    ids = pd.DataFrame(net).reindex(t.index)

    def distinct(s) -> float:
        """One seed: the spread of test accuracy between its different networks (one unit key = one network,
        whatever the rounding of a stored ensemble's logits makes of its value)."""
        seen = {}
        for e in t.columns:
            k = ids.at[s, e]
            seen.setdefault(k if isinstance(k, str) and k else f"row of {e}", t.at[s, e])
        v = list(seen.values())
        return max(v) - min(v)

    spread = pd.Series({s: distinct(s) for s in t.index})
    if spread.max() < 5e-5:
        return ""
    n = len(t)
    across = float(t.iloc[:, 0].std(ddof=1)) if n > 1 else float("nan")
    means = ", ".join(f"{100 * t[e].mean():.1f} % ({_BASELINE[e][0]})" for e in t)
    pages = list(t.columns)
    return (f"**One configuration, several networks** (`{profile}`). The gap-0 frozen ×10 ResNet9 of a seed is one "
            f"configuration on the {', '.join(_BASELINE[e][0] for e in pages[:-1])} and {_BASELINE[pages[-1]][0]} pages, "
            f"but these rows hold more than one network for it (trained apart for different pages), so the pages show "
            f"different values for it: test accuracy {means}, mean over the {n} seed{'s' * (n != 1)} they share. On one "
            f"seed its networks differ by up to {100 * spread.max():.1f} pt "
            f"(seed {int(spread.idxmax())})"
            + (f", where the {n} seeds of the {_BASELINE[t.columns[0]][0]} spread {100 * across:.1f} pt (sd)" if n > 1 else "")
            + ". Each comparison pairs arms trained for its own page, so this spread lies between pages, not inside a "
            "pair. Why they differ the rows cannot tell where they record no unit key (trained before one network "
            "served every page; on a GPU, kernels that are not bit-deterministic; in older code, another random stream).")


def float16_note(df: pd.DataFrame, profile: str) -> str:
    """How far a one-member ensemble's test accuracy (from the member's committed float16 test logits)
    lies from its network's own row (float32 logits), in test images: the price of ensembles that a
    resumed chain and a recomputation reproduce exactly; "" where the rows cannot tell."""
    if df.empty or "member_unit" not in df or "test_acc" not in df:
        return ""
    one = df[(df["members"] == 1)].dropna(subset=["member_unit"]).drop_duplicates("member_unit")
    diffs = []
    for _, r in one.iterrows():
        u = unit_row(profile, str(r["member_unit"]))
        acc = (u or {}).get("test", {}).get("acc")
        n = (u or {}).get("test", {}).get("n") or r.get("test_n") or r.get("n_test")
        if acc is not None and n and n == n:
            diffs.append(abs(round((float(r["test_acc"]) - float(acc)) * float(n))))
    if not diffs:
        return ""
    k, worst = sum(d > 0 for d in diffs), max(diffs)
    lead = ("Ensemble metrics are computed from the members' committed float16 test logits, so a resumed chain and a "
            "recomputation from `runs/` give the same numbers. ")
    if not k:
        return lead + (f"Each of the {len(diffs)} one-member ensembles here has the same test accuracy as its network's "
                       "own row (float32 logits).")
    return lead + (f"A one-member ensemble can therefore differ from its network's own row (float32 logits): "
                   f"{k} of the {len(diffs)} here do, by at most {worst} test image{'s' * (worst != 1)} (rounded "
                   "logits that tie or swap the top class).")
