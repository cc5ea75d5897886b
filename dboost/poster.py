"""The poster's (and thesis') numbers, read off their figures by eye -- reference points, not results.

Source: ../shared/design/replication-spec.md ("The numbers to compare against"); figures were
read by eye, so treat them as +-0.2 accuracy points and +-0.0003 ROC-AUC.  The book draws them
beside our measured curves and labels them as the poster's.
"""
SOURCE = "poster / thesis figures read by eye (replication-spec.md); +-0.2 acc points, +-0.0003 AUC"
# The reading tolerance of every value below (a figure read by eye): accuracy as a fraction, ROC-AUC.
ACC_TOLERANCE = 0.002
AUC_TOLERANCE = 0.0003

# Gap sweep, ResNet9_freeze_last_10norm, CIFAR-10, one seed: (gap, test acc).
GAP_SWEEP_ACC = [(0.1, 0.896), (1.8, 0.91), (14.0, 0.925), (21.0, 0.925), (32.0, 0.921), (73.0, 0.921), (250.0, 0.909)]
# (gap, train mean margin); the gap-0-like model (g = 0.1) had train mean margin ~29.
GAP_SWEEP_TRAIN_MARGIN = [(0.1, 29.0), (1.8, 40.0), (21.0, 62.0), (110.0, 100.0), (250.0, 100.0)]
M0 = 29.0
# One check of the authors' code (replication-spec.md, "Logged margins"): the mean margin their dashboards log
# (train mode, augmented inputs, true class masked by -1) against the true one of the same net.
LOGGED_CHECK = (41.2, 65.7)
BEST_GAP_THESIS = 34.0
BEST_GAP_RANGE = (14.0, 34.0)  # the gaps of the poster's sweep within its best ~0.5 points (GAP_SWEEP_ACC, thesis)
# ... made of two sources: its figure's peak (the two best gaps, 92.5 %) and the thesis' best constant gap
BEST_GAP_FIGURE = (14.0, 21.0)

# Head variants: test accuracy with gap 0 and with gap = m0 of the gap-0 model (ranges).
HEADS_GAP0 = (0.905, 0.92)
HEADS_GAPM0 = (0.925, 0.94)
FROZEN_GAP0, FROZEN_GAPM0 = 0.915, 0.935

# ROC-AUC: plain CE vs the discounted loss (which AUROC is unstated).
AUC_CE, AUC_DISCOUNTED = 0.99779, 0.99973

# Boosting test results: members -> (acc, roc_auc) for each column of the poster's table.
BOOSTING = {
    "zero": {1: (0.916, 0.9870), 2: (0.924, 0.9887), 5: (0.928, 0.9902), 10: (0.932, 0.9909), 15: (0.932, 0.9910)},
    "constant": {1: (0.934, 0.9941), 2: (0.942, 0.9955), 5: (0.945, 0.9963), 10: (0.947, 0.9965), 15: (0.948, 0.9966)},
    "save_mean_reverse": {1: (0.916, 0.9872), 2: (0.938, 0.9952), 5: (0.944, 0.9976), 10: (0.944, 0.9980),
                          15: (0.945, 0.9981)},
    "zero_mean_reverse": {1: (0.915, 0.9870), 2: (0.930, 0.9940), 5: (0.933, 0.9960), 10: (0.938, 0.9966),
                          15: (0.939, 0.9966)},
}
SINGLE_MODEL_ACC = 0.916  # one ResNet9, authors' recipe, 50 epochs

# Minimum width (thesis eq. 5, Table 2; CIFAR-10, learning rate tuned per gap): gap -> width; smaller = wider.
MIN_WIDTH = {0: 22.9, 50: 11.9, 1000: 116.3}
