# A draft of 100,000 files (issue 15, item 3): `cp -r` into the mount and
# the seal both work while the daemon may hold at most 1,024 descriptors,
# because a draft's nodes hold none (they are addressed by path) and the
# seal checks and hashes one file at a time; the version has every file,
# and the daemon's descriptor count stays bounded throughout.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
S=$WORK/src
FILES=100000
ok mf init "$R"
# 10 directories of 10 subdirectories of 1,000 small files. Contents repeat
# every 1,000 files: the blob store keeps each once, so the seal's time is
# the draft's walk and hashing, not 100,000 blob fsyncs.
"$PY" - "$S" "$FILES" <<'PY'
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(top, "d%d" % (i // 10000), "s%d" % (i // 1000 % 10))
    if i % 1000 == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write("content %d\n" % (i % 1000))
PY
MOUNT_WRAP="prlimit --nofile=1024:1024" start_mount "$R" "$M"
assert_eq 1024 "$(awk '/Max open files/ {print $4}' "/proc/$MOUNT_PID/limits")" "the daemon's descriptor limit"

# The daemon's open descriptors, sampled every 0.2 s until the test ends.
"$PY" - "$MOUNT_PID" "$WORK/fds" <<'PY' &
import os, sys, time
pid, out = sys.argv[1], sys.argv[2]
most = 0
while True:
    try:
        most = max(most, len(os.listdir("/proc/%s/fd" % pid)))
    except OSError:
        break
    with open(out + ".tmp", "w") as f:
        f.write(str(most))
    os.replace(out + ".tmp", out)
    time.sleep(0.2)
PY
SAMPLER=$!
on_exit "kill $SAMPLER 2>/dev/null"

check "cp -r of $FILES files into a draft through the mount (daemon limited to 1,024 descriptors)"
ok mkdir "$M/wide"
t0=$(date +%s)
timeout 500 cp -r "$S" "$M/wide/v1" || die "cp -r into the draft failed; daemon log:
$(mount_log | tail -5)"
t1=$(date +%s)
echo "    cp -r of $FILES files: $((t1 - t0)) s"
assert_eq "$FILES" "$(find "$M/wide/v1" -type f | wc -l)" "files in the draft"

check "seal the draft while the kernel still holds its $FILES nodes"
MF_TIMEOUT=600 ok mf seal "$R" wide@1
t2=$(date +%s)
echo "    seal of $FILES files: $((t2 - t1)) s"
assert_eq ready "$(getfattr --only-values -n user.registry.state "$M/wide/v1")" "state after seal"

check "the version has every file, each with its own bytes"
ok mf show "$R" wide@1 --json
echo "$OUT" >"$WORK/v1.json"
ok "$PY" - "$WORK/v1.json" "$S" "$R" "$M/wide/v1" <<'PY'
import json, os, random, sys
j = json.load(open(sys.argv[1]))
src, root, mnt = sys.argv[2], sys.argv[3], sys.argv[4]
want = {}
for d, _, names in os.walk(src):
    for n in names:
        p = os.path.join(d, n)
        want[os.path.relpath(p, src)] = open(p, "rb").read()
files = {f["path"]: f for f in j["files"]}
assert j["file_count"] == len(want) == len(files), (j["file_count"], len(want), len(files))
assert set(files) == set(want), "paths differ"
# Equal bytes, equal digest; different bytes, different digest.
by_content = {}
for path, data in want.items():
    f = files[path]
    assert f["size"] == len(data), path
    assert by_content.setdefault(data, f["digest"]) == f["digest"], path
assert len(set(by_content.values())) == len(by_content) == 1000
for path in random.Random(7).sample(sorted(want), 300):
    d = files[path]["digest"]
    blob = os.path.join(root, "blobs", d[:2], d[2:])
    assert open(blob, "rb").read() == want[path], "blob of " + path
    assert open(os.path.join(mnt, path), "rb").read() == want[path], "mounted " + path
print("ok")
PY
ok cmp "$S/d9/s9/f99999.txt" "$M/wide/v1/d9/s9/f99999.txt"

check "the daemon's descriptors stayed bounded"
sleep 0.3
most=$(cat "$WORK/fds")
echo "    most descriptors open in the daemon at once: $most"
[ "$most" -lt 200 ] || die "the daemon held $most descriptors at once"
pid_alive "$MOUNT_PID" || die "the daemon died; log:
$(mount_log | tail -5)"

assert_clean_log
pass
