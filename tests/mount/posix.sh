# Drafts as a POSIX filesystem (issue 15, item 7): symbolic links made with
# ln -s and cp -r/-a are kept when they resolve inside the version and
# refused at seal otherwise; open/mkdir/rmdir/unlink/rename/truncate give
# POSIX's errors; permission bits are kept until seal; special files are
# EPERM. Driven with the real tools and python's os calls.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
start_mount "$R" "$M"
ok mkdir "$M/hf"

# A Hugging Face style snapshot: shards, and links to them inside it.
S=$WORK/snap
mkdir -p "$S/shards"
head -c 100000 /dev/urandom >"$S/shards/model-00001.safetensors"
head -c 50000 /dev/urandom >"$S/shards/model-00002.safetensors"
printf '{"a": 1}' >"$S/config.json"
ln -s shards/model-00001.safetensors "$S/model.safetensors"
ln -s shards "$S/weights"
ln -s ../config.json "$S/shards/config.json"

check "cp -r of a snapshot with relative links into a draft keeps them as links"
ok cp -r "$S" "$M/hf/v1"
assert_eq shards/model-00001.safetensors "$(readlink "$M/hf/v1/model.safetensors")" "readlink"
[ -L "$M/hf/v1/weights" ] || die "weights is not a symlink"
ok cmp "$S/shards/model-00001.safetensors" "$M/hf/v1/model.safetensors"
ok cmp "$S/config.json" "$M/hf/v1/weights/config.json"
assert_contains "$(ls -l "$M/hf/v1")" "model.safetensors -> shards/model-00001.safetensors" "ls -l"

check "ln -s in the draft (python os.symlink too); a name taken is EEXIST"
ok ln -s shards/model-00002.safetensors "$M/hf/v1/second.safetensors"
ok "$PY" - "$M/hf/v1" <<'PY'
import errno, os, sys
d = sys.argv[1]
os.symlink("config.json", os.path.join(d, "cfg"))
try:
    os.symlink("x", os.path.join(d, "cfg"))
    raise SystemExit("symlink over a name: no error")
except OSError as e:
    assert e.errno == errno.EEXIST, e
assert os.readlink(os.path.join(d, "cfg")) == "config.json"
assert os.lstat(os.path.join(d, "cfg")).st_size == len("config.json")
PY

check "seal keeps the links; the version shows them; cp -r and cp -a out recreate them"
ok setfattr -n user.registry.state -v ready "$M/hf/v1"
assert_eq shards/model-00001.safetensors "$(readlink "$M/hf/v1/model.safetensors")" "readlink after seal"
assert_eq "lrwxrwxrwx" "$(stat -c %A "$M/hf/v1/weights")" "mode of a sealed link"
ok cmp "$S/shards/model-00002.safetensors" "$M/hf/v1/second.safetensors"
ok cp -r "$M/hf/v1" "$WORK/out-r"
ok cp -a "$M/hf/v1" "$WORK/out-a"
for o in out-r out-a; do
  assert_eq shards/model-00001.safetensors "$(readlink "$WORK/$o/model.safetensors")" "$o: model link"
  assert_eq ../config.json "$(readlink "$WORK/$o/shards/config.json")" "$o: link in a subdirectory"
  ok cmp "$S/shards/model-00001.safetensors" "$WORK/$o/model.safetensors"
done
ok mf show "$R" hf@1 --json
assert_eq '["cfg", "config.json", "model.safetensors", "second.safetensors", "weights"]' \
  "$(echo "$OUT" | jpy 'sorted(f["path"] for f in j["files"] if "/" not in f["path"])')" "top-level files"
assert_eq shards "$(echo "$OUT" | jpy '[f["target"] for f in j["files"] if f["path"] == "weights"][0]')" "target in show --json"
ok mf fsck "$R"

check "a link out of the version refuses the seal, naming it and suggesting cp -L"
# As in a Hugging Face cache: snapshots/<rev>/x -> ../../blobs/<hash>.
C=$WORK/cache
mkdir -p "$C/blobs" "$C/snapshots/abc"
printf 'tensor bytes' >"$C/blobs/1234"
ln -s ../../blobs/1234 "$C/snapshots/abc/model.safetensors"
ok mkdir "$M/hf/v2"
ok cp -r "$C/snapshots/abc/." "$M/hf/v2/"
run setfattr -n user.registry.state -v ready "$M/hf/v2"
assert_contains "$ERR" "Invalid argument"
assert_contains "$(mount_log)" "hf@2: symlink model.safetensors -> ../../blobs/1234 leads outside the version"
assert_contains "$(mount_log)" "cp -L"
run mf seal "$R" hf@2
[ "$RC" -eq 1 ] || die "modelfs seal of a draft with an escaping link: exit $RC"
assert_contains "$ERR" "symlink model.safetensors -> ../../blobs/1234 leads outside the version"
ln -s /etc/hostname "$M/hf/v2/abs" || die "ln -s of an absolute target in a draft"
ok rm "$M/hf/v2/model.safetensors"
run mf seal "$R" hf@2
assert_contains "$ERR" "symlink abs -> /etc/hostname is absolute"
ok rm "$M/hf/v2/abs"
ok cp -rL "$C/snapshots/abc/." "$M/hf/v2/"
ok setfattr -n user.registry.state -v ready "$M/hf/v2"
assert_eq "tensor bytes" "$(cat "$M/hf/v2/model.safetensors")" "the bytes cp -L copied"

check "push: the same rule for links in its input; --dereference stores the bytes"
run mf push "$R" hf "$C/snapshots/abc"
[ "$RC" -eq 1 ] || die "push of a tree with an escaping link: exit $RC"
assert_contains "$ERR" "symlink model.safetensors -> ../../blobs/1234 leads outside the version"
assert_contains "$ERR" "--dereference"
ok mf push "$R" hf "$C/snapshots/abc" --dereference
ok mf push "$R" hf "$S"
ok mf show "$R" hf@4 --json
assert_eq "$(mf show "$R" hf@1 --json | jpy '[(f["path"], f["digest"]) for f in j["files"] if f["path"] != "cfg" and f["path"] != "second.safetensors"]')" \
  "$(echo "$OUT" | jpy '[(f["path"], f["digest"]) for f in j["files"]]')" "push and seal of the same links"

check "POSIX errors in a draft (python os calls)"
ok mkdir "$M/hf/v5"
ok "$PY" - "$M/hf/v5" <<'PY'
import errno, os, stat, sys
d = sys.argv[1]
p = lambda *n: os.path.join(d, *n)
def fails(err, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except OSError as e:
        assert e.errno == err, "%s%r: %s, expected %s" % (fn.__name__, args, e, errno.errorcode[err])
        return
    raise AssertionError("%s%r: no error, expected %s" % (fn.__name__, args, errno.errorcode[err]))

with open(p("f"), "w") as f:
    f.write("data")
os.mkdir(p("dir"))
os.mkdir(p("full"))
open(p("full", "x"), "w").close()
os.mkdir(p("empty"))

# ENOTDIR: a file used as a directory.
fails(errno.ENOTDIR, os.open, p("f", "x"), os.O_RDONLY)
fails(errno.ENOTDIR, os.open, p("f", "x"), os.O_CREAT | os.O_WRONLY)
fails(errno.ENOTDIR, os.mkdir, p("f", "sub"))
fails(errno.ENOTDIR, os.rmdir, p("f"))
fails(errno.ENOTDIR, os.rename, p("dir"), p("f"))
# EISDIR: a directory used as a file.
fails(errno.EISDIR, os.open, p("dir"), os.O_WRONLY)
fails(errno.EISDIR, os.unlink, p("dir"))
fails(errno.EISDIR, os.rename, p("f"), p("dir"))
fails(errno.EISDIR, os.truncate, p("dir"), 0)
# EEXIST: O_EXCL, mkdir, symlink over a name.
fails(errno.EEXIST, os.open, p("f"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
fails(errno.EEXIST, os.mkdir, p("dir"))
fails(errno.EEXIST, os.symlink, "f", p("dir"))
# ENOTEMPTY: rmdir, and a rename over a directory that is not empty.
fails(errno.ENOTEMPTY, os.rmdir, p("full"))
fails(errno.ENOTEMPTY, os.rename, p("dir"), p("full"))
# ENOENT, ENAMETOOLONG.
fails(errno.ENOENT, os.open, p("nothing"), os.O_RDONLY)
fails(errno.ENOENT, os.rmdir, p("nothing"))
fails(errno.ENAMETOOLONG, os.open, p("n" * 256), os.O_CREAT | os.O_WRONLY)
fails(errno.ENAMETOOLONG, os.mkdir, p("n" * 256))
# ELOOP: O_NOFOLLOW on a link, and a loop of links.
os.symlink("f", p("lf"))
fails(errno.ELOOP, os.open, p("lf"), os.O_RDONLY | os.O_NOFOLLOW)
os.symlink("loop2", p("loop1"))
os.symlink("loop1", p("loop2"))
fails(errno.ELOOP, os.open, p("loop1"), os.O_RDONLY)
assert open(p("lf")).read() == "data"  # followed otherwise
os.unlink(p("loop1")); os.unlink(p("loop2"))
# Special files and hard links: EPERM.
fails(errno.EPERM, os.mkfifo, p("fifo"))
fails(errno.EPERM, os.mknod, p("sock"), stat.S_IFSOCK | 0o644)
fails(errno.EPERM, os.link, p("f"), p("hard"))

# rename over an existing file replaces it; over an empty directory too.
with open(p("g"), "w") as f:
    f.write("new")
os.rename(p("g"), p("f"))
assert open(p("f")).read() == "new" and not os.path.exists(p("g"))
os.mkdir(p("moving"))
open(p("moving", "inside"), "w").close()
os.rename(p("moving"), p("empty"))
assert os.listdir(p("empty")) == ["inside"] and not os.path.exists(p("moving"))

# A renamed directory's files follow it, even one open across the rename.
os.makedirs(p("a", "b"))
with open(p("a", "b", "c"), "w") as f:
    f.write("c1")
fd = os.open(p("a", "b", "c"), os.O_RDWR)
os.rename(p("a"), p("z"))
assert open(p("z", "b", "c")).read() == "c1"
os.pwrite(fd, b"C", 0)
assert os.fstat(fd).st_size == 2
os.close(fd)
assert open(p("z", "b", "c")).read() == "C1"
os.chmod(p("z", "b", "c"), 0o600)
assert stat.S_IMODE(os.stat(p("z", "b", "c")).st_mode) == 0o600

# renameat2(RENAME_EXCHANGE) of two directories: what is below each follows it.
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
os.makedirs(p("x1", "in"))
os.makedirs(p("x2", "in"))
with open(p("x1", "in", "one"), "w") as f:
    f.write("1")
with open(p("x2", "in", "two"), "w") as f:
    f.write("2")
held = [os.open(p(x, "in"), os.O_RDONLY | os.O_DIRECTORY) for x in ("x1", "x2")]
AT_FDCWD, RENAME_EXCHANGE = -100, 2
if libc.renameat2(AT_FDCWD, p("x1").encode(), AT_FDCWD, p("x2").encode(), RENAME_EXCHANGE) != 0:
    raise OSError(ctypes.get_errno(), "renameat2")
# First by descriptor: no lookup by name that would refresh a stale node.
for fd, m in zip(held, (0o711, 0o701)):
    os.fchmod(fd, m)
    os.close(fd)
assert open(p("x2", "in", "one")).read() == "1" and open(p("x1", "in", "two")).read() == "2"
assert stat.S_IMODE(os.stat(p("x2", "in")).st_mode) == 0o711
assert stat.S_IMODE(os.stat(p("x1", "in")).st_mode) == 0o701
os.chmod(p("x1", "in", "two"), 0o640)
assert stat.S_IMODE(os.stat(p("x1", "in", "two")).st_mode) == 0o640

# Unlink of an open file: its descriptor works until closed.
fd = os.open(p("tmp"), os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"hello")
os.unlink(p("tmp"))
assert not os.path.exists(p("tmp"))
os.write(fd, b" world")
assert os.fstat(fd).st_size == 11
assert os.pread(fd, 100, 0) == b"hello world"
os.ftruncate(fd, 5)
assert os.fstat(fd).st_size == 5
os.close(fd)
# A new file under the old name is another file.
with open(p("tmp"), "w") as f:
    f.write("x")
assert open(p("tmp")).read() == "x"

# truncate grows and shrinks.
os.truncate(p("tmp"), 3)
assert open(p("tmp"), "rb").read() == b"x\0\0"
print("ok")
PY

check "permission bits set in a draft are kept until seal; then read-only, x kept"
ok "$PY" - "$M/hf/v5" <<'PY'
import os, stat, sys
d = sys.argv[1]
p = lambda *n: os.path.join(d, *n)
mode = lambda q: stat.S_IMODE(os.stat(q).st_mode)
os.umask(0)
fd = os.open(p("made640"), os.O_CREAT | os.O_WRONLY, 0o640)
os.write(fd, b"1")
os.close(fd)
assert mode(p("made640")) == 0o640, oct(mode(p("made640")))
os.chmod(p("f"), 0o600)
assert mode(p("f")) == 0o600
os.chmod(p("tmp"), 0o751)
assert mode(p("tmp")) == 0o751
os.mkdir(p("d700"), 0o700)
assert mode(p("d700")) == 0o700
os.chmod(p("dir"), 0o750)
assert mode(p("dir")) == 0o750
os.chmod(d, 0o500)  # the version directory's mode is the registry's
assert mode(d) == 0o755, oct(mode(d))
open(p("still-writable"), "w").close()
print("ok")
PY
assert_eq 700 "$(stat -c %a "$R"/staging/draft-*)" "the staging directory of the only draft, after chmod of its version"
ok install -m 0604 /dev/null "$M/hf/v5/installed"
assert_eq 604 "$(stat -c %a "$M/hf/v5/installed")" "install -m 0604"
ok setfattr -n user.registry.state -v ready "$M/hf/v5"
# The kernel may keep a draft node's attributes for kDraftTimeout (0.5 s).
wait_until 2 mode_is "$M/hf/v5/f" 444 || die "a sealed file: mode $(stat -c %a "$M/hf/v5/f")"
wait_until 2 mode_is "$M/hf/v5/tmp" 555 || die "a sealed executable file: mode $(stat -c %a "$M/hf/v5/tmp")"
wait_until 2 mode_is "$M/hf/v5/dir" 555 || die "a sealed directory: mode $(stat -c %a "$M/hf/v5/dir")"
assert_eq C1 "$(cat "$M/hf/v5/z/b/c")" "a file moved with its directory"
[ ! -e "$M/hf/v5/a" ] || die "the old name of a moved directory is there"

check "cp -a and mv into a draft"
ok mkdir "$M/hf/v6"
mkdir -p "$WORK/tree/sub"
printf 'one' >"$WORK/tree/sub/one"
chmod 0750 "$WORK/tree/sub"
chmod 0640 "$WORK/tree/sub/one"
ln -s sub/one "$WORK/tree/link"
ok cp -a "$WORK/tree/." "$M/hf/v6/"
assert_eq 750 "$(stat -c %a "$M/hf/v6/sub")" "cp -a: directory mode"
assert_eq 640 "$(stat -c %a "$M/hf/v6/sub/one")" "cp -a: file mode"
assert_eq sub/one "$(readlink "$M/hf/v6/link")" "cp -a: link"
ok mv "$M/hf/v6/sub" "$M/hf/v6/moved"
ok mv "$M/hf/v6/link" "$M/hf/v6/moved/link"
assert_eq one "$(cat "$M/hf/v6/moved/one")" "after mv"
run setfattr -n user.registry.state -v ready "$M/hf/v6"
assert_contains "$ERR" "Invalid argument"  # moved/link -> sub/one: dangles now
assert_contains "$(mount_log)" "symlink moved/link -> sub/one leads to moved/sub, which the version does not have"
ok rm "$M/hf/v6/moved/link"
ok rmdir --ignore-fail-on-non-empty "$M/hf/v6/moved"
ok setfattr -n user.registry.state -v ready "$M/hf/v6"

assert_clean_log
pass
