# Serving: a process loads a model from the mount with plain open() and a
# shared mmap() (numpy.load(mmap_mode="r")), through an alias (SPEC §3).
. "$TESTS_DIR/lib.sh"

"$PY" -c 'import numpy' 2>/dev/null || die "python3-numpy is not installed"
R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
"$PY" - "$WORK" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(7)
np.save(sys.argv[1] + "/arr.npy", rng.standard_normal((512, 1024)).astype(np.float32))
np.save(sys.argv[1] + "/small.npy", np.arange(10, dtype=np.int64))
PY
ok mf push "$R" churn "$WORK/arr.npy" "$WORK/small.npy" --alias production
start_mount "$R" "$M"

check "np.load(mmap_mode='r') through production equals the original"
ok "$PY" - "$WORK" "$M" <<'PY'
import mmap, numpy as np, sys
work, mnt = sys.argv[1], sys.argv[2]
want = np.load(work + "/arr.npy")
got = np.load(mnt + "/churn/production/arr.npy", mmap_mode="r")
assert isinstance(got, np.memmap), type(got)
assert got.shape == want.shape and got.dtype == want.dtype
assert np.array_equal(got, want), "mmap contents differ"
assert np.array_equal(np.load(mnt + "/churn/production/small.npy"), np.arange(10))
# A plain shared mapping of the raw file, every page touched.
with open(mnt + "/churn/v1/arr.npy", "rb") as f:
    m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
    raw = open(work + "/arr.npy", "rb").read()
    assert m[:] == raw
    m.close()
print("ok")
PY

assert_clean_log
pass
