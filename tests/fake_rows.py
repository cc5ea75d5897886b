"""Hand-made result rows that the reporting tests share (a gap-sweep row, a boosting row)."""

ENV = dict(hardware="testbox", device="cpu", torch="0", torchvision="0", python="3", git_commit="abc", cpu_threads=1)


def sweep_row(seed, label, gap, acc, m0=2.0, nll=1.0):
    return dict(profile="cpu", experiment="gap_sweep", dataset="cifar10", n_train=5000, n_test=10000, recipe="fast",
                epochs=1, batch_size=100, env=ENV, seed=seed, arch="resnet9", variant="sweep", gap_label=label,
                gap=gap, m0=m0 if label != "0" else None, train_acc=0.7, train_mean_margin=m0 if label == "0" else 3.0,
                train_wall_time_s=1.0,
                test=dict(acc=acc, auc_proba=0.9 + acc / 10, auc_logits=0.9, auc_log_proba=0.9, mis_auroc=0.8,
                          nll=nll, ece=0.1))


def boost_row(seed, rule, members, acc, auc):
    return dict(profile="cpu", experiment="boosting", dataset="cifar10", n_train=5000, n_test=10000, recipe="fast",
                epochs=1, batch_size=100, env=ENV, seed=seed, rule=rule, members=members, member_trained_on="testbox",
                member_wall_time_s=1.0, test=dict(acc=acc, auc_proba=auc))
