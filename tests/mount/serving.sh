# The serving examples (examples/serving/, shown in the README) run against
# a real mount: numpy's mmap, scikit-learn through joblib and ONNX each load
# a model from /models/MODEL/production and answer exactly as the same code
# does on the files that were pushed. Debian's own /usr/bin/python3 runs
# them (a python3 earlier on PATH may lack Debian's modules); the modules
# come with scripts/setup. PyTorch is tests/mount/serving_torch.sh.
. "$TESTS_DIR/lib.sh"

EX=$TESTS_DIR/../examples/serving
PY=/usr/bin/python3
for mod in numpy sklearn joblib onnx; do
  "$PY" -c "import $mod" 2>/dev/null ||
    die "$PY cannot import $mod: run scripts/setup (python3-numpy, python3-sklearn, python3-joblib, python3-onnx)"
done
R=$WORK/reg
M=$WORK/mnt
A=$WORK/artifacts
mkdir -p "$A"
ok mf init "$R"

# The artifacts, as a training job would leave them, and input rows.
"$PY" - "$A" <<'PY' || die "cannot make the artifacts"
import json, sys
import numpy as np, joblib, onnx
from onnx import helper, numpy_helper, TensorProto
from sklearn.linear_model import LogisticRegression
a = sys.argv[1]
rng = np.random.default_rng(11)
np.save(f"{a}/weights.npy", rng.standard_normal((4, 3)).astype(np.float32))
np.save(f"{a}/bias.npy", rng.standard_normal(3).astype(np.float32))
x = rng.standard_normal((200, 4))
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
joblib.dump(LogisticRegression().fit(x, y), f"{a}/model.joblib")
w = numpy_helper.from_array(rng.standard_normal((4, 2)).astype(np.float32), "w")
b = numpy_helper.from_array(rng.standard_normal(2).astype(np.float32), "b")
graph = helper.make_graph(
    [helper.make_node("Gemm", ["x", "w", "b"], ["y"])], "churn",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])], [w, b])
onnx.save(helper.make_model(graph), f"{a}/model.onnx")
json.dump(rng.standard_normal((5, 4)).round(3).tolist(), open(f"{a}/rows.json", "w"))
PY
ok mf push "$R" churn "$A/weights.npy" "$A/bias.npy" "$A/model.joblib" "$A/model.onnx" --alias production
ok mf push "$R" churn "$A/weights.npy"  # latest moves on; production stays at v1
start_mount "$R" "$M"
assert_eq v1 "$(readlink "$M/churn/production")" "production"

# serve EXAMPLE: runs examples/serving/EXAMPLE against the mount and against
# the artifacts as pushed; both answers must be the same, and not empty.
serve() {
  local ex=$1
  ok timeout 120 "$PY" "$EX/$ex" "$M/churn/production" <"$A/rows.json"
  local mounted=$OUT
  ok timeout 120 "$PY" "$EX/$ex" "$A" <"$A/rows.json"
  assert_eq "$OUT" "$mounted" "$ex through the mount vs the artifacts pushed"
  [ ${#mounted} -gt 20 ] || die "$ex printed too little: $mounted"
  echo "    $ex: ${mounted:0:100}..."
}

check "numpy: np.load(mmap_mode='r') of the weights, a matrix product"
serve numpy_mmap.py
# And the numbers are the model's: computed here without the example.
"$PY" - "$A" "$OUT" <<'PY' || die "numpy_mmap.py's scores are not x @ W + b"
import json, sys, numpy as np
a, out = sys.argv[1], json.loads(sys.argv[2])
rows = np.asarray(json.load(open(f"{a}/rows.json")), dtype=np.float32)
want = rows @ np.load(f"{a}/weights.npy") + np.load(f"{a}/bias.npy")
assert np.array_equal(np.asarray(out, dtype=np.float32), want), (out, want)
PY

check "scikit-learn: joblib.load(mmap_mode='r'), predict and predict_proba"
serve sklearn_joblib.py
"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); assert len(j["labels"]) == 5 and len(j["proba"][0]) == 2, j' "$OUT" ||
  die "sklearn_joblib.py's answer has the wrong shape: $OUT"

check "ONNX: onnx.load and onnx.checker through the mount, the weights as pushed"
serve onnx_load.py
"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); assert j["inputs"] == ["x"] and j["outputs"] == ["y"] and len(j["initializers"]["w"]) == 4, j' "$OUT" ||
  die "onnx_load.py's answer: $OUT"

check "a file that is not the model fails loudly (the examples do not mask errors)"
run "$PY" "$EX/numpy_mmap.py" "$M/churn/v2" <"$A/rows.json"
[ "$RC" -ne 0 ] || die "numpy_mmap.py on a version without bias.npy succeeded: $OUT"
assert_contains "$ERR" "bias.npy" "numpy_mmap.py on v2"

assert_clean_log
pass
