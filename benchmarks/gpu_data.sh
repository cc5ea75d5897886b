#!/usr/bin/env bash
# Prepare CIFAR-10 for a lent GPU machine in four carry calls (benchmarks/README.md, "GPU session").
#
#   bash benchmarks/gpu_data.sh [SRC]      # SRC: the .npy folder (default $DBOOST_DATA, else ../shared/data/cifar10)
#
# Writes one uncompressed tar of the 9 files, cut into four equal parts .gpu-data/p0..p3/cifar10.tar.part
# (git-ignored).  Why four, not DEVICE.md's three: every call also carries the whole tracked tree
# (~9 MB now, and runs/ grows); 64 MiB = 67.1 MB per call leaves room for 46 MB of data, not 61.5 MB
# (two 30.7 MB arrays).  CIFAR-10's bytes do not compress.  gpu_session.sh reassembles the parts.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-${DBOOST_DATA:-../shared/data/cifar10}}
files=(train_x_00.npy train_x_01.npy train_x_02.npy train_x_03.npy train_x_04.npy train_y.npy test_x.npy test_y.npy README.md)
for f in "${files[@]}"; do [[ -f $SRC/$f ]] || { echo "missing $SRC/$f" >&2; exit 2; }; done
git check-ignore -q .gpu-data/p0 || { echo ".gpu-data/ is not git-ignored here: it would travel in every call" >&2; exit 2; }
rm -rf .gpu-data/p0 .gpu-data/p1 .gpu-data/p2 .gpu-data/p3 .gpu-data/parts
mkdir -p .gpu-data/parts
tar cf .gpu-data/parts/cifar10.tar -C "$SRC" "${files[@]}"
split -n 4 -d .gpu-data/parts/cifar10.tar .gpu-data/parts/cifar10.tar.part-
rm .gpu-data/parts/cifar10.tar
for i in 0 1 2 3; do
  mkdir -p .gpu-data/p$i && mv .gpu-data/parts/cifar10.tar.part-0$i .gpu-data/p$i/cifar10.tar.part
done
rmdir .gpu-data/parts
tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
part=$(stat -c %s .gpu-data/p0/cifar10.tar.part)
echo "parts: 4 x $part bytes; tracked tree $tree bytes; per call $((part + tree)) of $((64 * 1024 * 1024)) bytes"
(( part + tree < 64 * 1024 * 1024 - 2 * 1024 * 1024 )) || { echo "too close to the 64 MiB per-call limit" >&2; exit 1; }
