# The PyTorch serving example (examples/serving/torch_load.py) against a
# real mount: torch.load(weights_only=True) of a state_dict from
# /models/MODEL/production gives the same outputs as the file pushed.
# python3-torch is large (~600 MB installed with its dependencies), so
# scripts/setup installs it only with MODELFS_TORCH=1; without it this test
# is skipped (exit 77), saying so. safetensors is not packaged for Debian
# bookworm, so there is no safetensors example.
. "$TESTS_DIR/lib.sh"

EX=$TESTS_DIR/../examples/serving
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "SKIP: $PY cannot import torch (python3-torch; MODELFS_TORCH=1 scripts/setup installs it)"
  exit 77
fi
R=$WORK/reg
M=$WORK/mnt
A=$WORK/artifacts
mkdir -p "$A"
ok mf init "$R"
"$PY" -B - "$A" "$EX" <<'PY' || die "cannot make the artifacts"
import json, sys
import torch
a, ex = sys.argv[1], sys.argv[2]
sys.path.insert(0, ex)
import torch_load
torch.manual_seed(3)
torch.save(torch_load.architecture().state_dict(), f"{a}/model.pt")
json.dump(torch.randn(5, 4).round(decimals=3).tolist(), open(f"{a}/rows.json", "w"))
PY
ok mf push "$R" churn "$A/model.pt" --alias production
start_mount "$R" "$M"

check "torch.load(weights_only=True) through production equals the file pushed"
ok timeout 300 "$PY" "$EX/torch_load.py" "$M/churn/production" <"$A/rows.json"
mounted=$OUT
ok timeout 300 "$PY" "$EX/torch_load.py" "$A" <"$A/rows.json"
assert_eq "$OUT" "$mounted" "torch_load.py through the mount vs the artifact pushed"
"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); assert len(j) == 5 and len(j[0]) == 2, j' "$mounted" ||
  die "torch_load.py's answer has the wrong shape: $mounted"

check "a damaged state_dict is refused, not served"
head -c 100 "$A/model.pt" >"$A/torn.pt"
mkdir -p "$A/torn" && mv "$A/torn.pt" "$A/torn/model.pt"
ok mf push "$R" churn "$A/torn"
run "$PY" "$EX/torch_load.py" "$M/churn/v2" <"$A/rows.json"
[ "$RC" -ne 0 ] || die "torch_load.py loaded a torn file: $OUT"

assert_clean_log
pass
