# Large directories list completely and exactly: a version with 20,000
# files, a model with 2,000 versions; readdir and readdirplus (ls -l),
# seeking back to the start (rewinddir), and the daemon's memory bounded.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
mkdir -p "$WORK/many"
"$PY" - "$WORK/many" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(20000):
    with open(os.path.join(d, "f%05d.bin" % i), "w") as f:
        f.write(str(i))
PY
# 20,000 blobs are 40,000 fsyncs: slow on a busy disk, and this test is
# about listing, not push speed.
MF_TIMEOUT=600 ok mf push "$R" wide "$WORK/many"
printf 'x' >"$WORK/one.bin"
t0=$(date +%s)
for i in $(seq 2000); do mf push "$R" deep "$WORK/one.bin" >/dev/null || die "push $i failed"; done
echo "    2,000 pushes: $(($(date +%s) - t0)) s"
start_mount "$R" "$M"

check "ls of a 20,000-file version: exact count and names"
assert_eq 20000 "$(ls "$M/wide/v1" | wc -l)" "ls | wc -l"
assert_eq "$(ls "$WORK/many" | md5sum)" "$(ls "$M/wide/v1" | md5sum)" "names"
assert_eq 20002 "$(ls -fa "$M/wide/v1" | wc -l)" "with . and .."

check "ls -l (readdirplus) of the same: every entry with its size"
out=$(ls -l "$M/wide/v1")
assert_eq 20000 "$(echo "$out" | grep -c '^-r--r--r-- 1 ')" "ls -l lines"
assert_eq "-r--r--r-- 1 root root 5 " "$(echo "$out" | grep 'f19999.bin' | grep -o '^.* 5 ')" "ls -l of f19999.bin"

check "a model with 2,000 versions (+ latest and the card, README.md)"
assert_eq 2002 "$(ls "$M/deep" | wc -l)" "ls | wc -l"
assert_eq 2002 "$(stat -c %h "$M/deep")" "nlink"
assert_eq "v2000" "$(readlink "$M/deep/latest")" "latest"
want=$( (seq 2000 | sed 's/^/v/'; echo latest; echo README.md) | sort)
assert_eq "$want" "$(ls "$M/deep" | sort)" "names"
assert_eq 2002 "$(find "$M/deep" -mindepth 1 -maxdepth 1 | wc -l)" "find"

check "rewinddir and seekdir re-list from the start (python os.scandir twice on one fd)"
ok "$PY" - "$M/wide/v1" <<'PY'
import ctypes, ctypes.util, os, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.opendir.restype = ctypes.c_void_p
libc.readdir.restype = ctypes.c_void_p
libc.readdir.argtypes = [ctypes.c_void_p]
libc.rewinddir.argtypes = [ctypes.c_void_p]
libc.telldir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.closedir.argtypes = [ctypes.c_void_p]
class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]
d = libc.opendir(sys.argv[1].encode())
def names(limit=None):
    out = []
    while limit is None or len(out) < limit:
        p = libc.readdir(d)
        if not p:
            break
        out.append(ctypes.cast(p, ctypes.POINTER(Dirent)).contents.d_name)
    return out
first = names(5000)
pos = libc.telldir(d)
after = names(10)
libc.rewinddir(d)
again = names()
assert len(again) == 20002, len(again)
assert again[:5000] == first
libc.seekdir(d, pos)
assert names(10) == after, "seekdir to a telldir position"
libc.closedir(d)
print("ok")
PY

check "the daemon's memory stays bounded after walking everything"
ls -lR "$M" >/dev/null
rss=$(awk '/VmRSS/ {print $2}' "/proc/$MOUNT_PID/status")
echo "    daemon RSS after ls -lR of 22,000 names: ${rss} kB"
# Sanitizer builds keep freed memory in quarantine: the bound is for real builds.
if ! grep -q libasan "/proc/$MOUNT_PID/maps"; then
  [ "$rss" -lt 100000 ] || die "daemon RSS ${rss} kB"
fi

assert_clean_log
pass
