# Registering through the mount (SPEC §4): mkdir makes models and drafts,
# the real cp -r, tar -x, mv, rm, truncate, dd conv=notrunc and python
# random writes fill a draft, setfattr user.registry.state=ready seals it
# (the same files and digest as `modelfs push` of the same directory), and
# every refusal is the errno SPEC §4 names, with nothing half-done.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
S=$WORK/src
ok mf init "$R"
mkdir -p "$S/sub/deeper" "$S/empty-dir-is-dropped"
head -c 3000000 /dev/urandom >"$S/model.bin"
printf '#!/bin/sh\necho hi\n' >"$S/run.sh"
chmod 755 "$S/run.sh"
head -c 70000 /dev/urandom >"$S/sub/part.bin"
printf 'deep' >"$S/sub/deeper/c.txt"
: >"$S/sub/empty"
rmdir "$S/empty-dir-is-dropped"
start_mount "$R" "$M"

check "mkdir makes a model; the root, model and draft directories show write bits"
ok mkdir "$M/churn"
assert_eq 755 "$(stat -c %a "$M")" "mode of the root"
assert_eq 755 "$(stat -c %a "$M/churn")" "mode of a model"
assert_eq 1 "$(getfattr --only-values -n user.registry.next_version "$M/churn")" "next_version"

check "mkdir of bad names is EINVAL; of a version that is not next, EINVAL"
run mkdir "$M/Bad_Name"
assert_contains "$ERR" "Invalid argument"
run mkdir "$M/churn/v2"
assert_contains "$ERR" "Invalid argument"
run mkdir "$M/churn/notaversion"
assert_contains "$ERR" "Invalid argument"
run mkdir "$M/churn/v01"
assert_contains "$ERR" "Invalid argument"
run touch "$M/churn/file"
assert_contains "$ERR" "Invalid argument"
assert_eq 1 "$(getfattr --only-values -n user.registry.next_version "$M/churn")" "next_version after refusals"

check "cp -r into vN (N = next_version) makes a draft and writes its files"
ok cp -r "$S" "$M/churn/v1"
assert_eq draft "$(getfattr --only-values -n user.registry.state "$M/churn/v1")" "state"
assert_eq 755 "$(stat -c %a "$M/churn/v1")" "mode of a draft"
diff -r "$S" "$M/churn/v1" || die "the draft does not read back as the source"
assert_eq 755 "$(stat -c %a "$M/churn/v1/run.sh")" "mode of an executable draft file"
assert_eq 644 "$(stat -c %a "$M/churn/v1/model.bin")" "mode of a draft file"

check "seal: setfattr user.registry.state=ready; same files and digest as modelfs push"
ok setfattr -n user.registry.state -v ready "$M/churn/v1"
assert_eq ready "$(getfattr --only-values -n user.registry.state "$M/churn/v1")" "state after seal"
ok mf push "$R" pushed "$S"
ok mf show "$R" churn@1 --json
echo "$OUT" >"$WORK/sealed.json"
ok mf show "$R" pushed@1 --json
echo "$OUT" >"$WORK/pushed.json"
assert_eq "$(jpy 'j["digest"]' "$WORK/pushed.json")" "$(jpy 'j["digest"]' "$WORK/sealed.json")" "digest of sealed vs pushed"
assert_eq "$(jpy '[(f["path"], f["size"], f["mode"], f["digest"]) for f in j["files"]]' "$WORK/pushed.json")" \
  "$(jpy '[(f["path"], f["size"], f["mode"], f["digest"]) for f in j["files"]]' "$WORK/sealed.json")" "files"
verify_version "$R" churn@1 "$S"
wait_until 3 mode_is "$M/churn/v1" 555 || die "a ready version is not 0555: $(stat -c %a "$M/churn/v1")"
# The draft's names are dropped by the freshness thread (within 1 s, SPEC
# §3), in no particular order relative to the version directory's.
wait_until 3 mode_is "$M/churn/v1/model.bin" 444 ||
  die "mode of a ready file: $(stat -c %a "$M/churn/v1/model.bin"), not 444"
assert_eq 555 "$(stat -c %a "$M/churn/v1/run.sh")" "mode of a ready executable"
cmp "$S/model.bin" "$M/churn/v1/model.bin" || die "sealed bytes differ"
ok mf list "$R" churn --json
assert_eq '["ready"]' "$(echo "$OUT" | jpy '[v["state"] for v in j]')" "list"
ok mf log "$R" churn --json
assert_eq '["create", "draft", "seal"]' "$(echo "$OUT" | jpy '[r["action"] for r in j]')" "audit trail"

check "sealing what is sealed already does nothing, through the mount and the CLI alike"
ok setfattr -n user.registry.state -v ready "$M/churn/v1"
ok mf seal "$R" churn@1
assert_eq "churn@1" "$OUT" "modelfs seal of a ready version prints it"
ok mf log "$R" churn --json
assert_eq '["create", "draft", "seal"]' "$(echo "$OUT" | jpy '[r["action"] for r in j]')" \
  "audit trail after sealing again"

check "writing in a ready version is EROFS: create, write, truncate, mkdir, rename, unlink, chmod, touch"
run touch "$M/churn/v1/new"
assert_contains "$ERR" "Read-only file system"
run sh -c "echo x >>'$M/churn/v1/model.bin'"
assert_contains "$ERR" "Read-only file system"
run truncate -s 0 "$M/churn/v1/model.bin"
assert_contains "$ERR" "Read-only file system"
run mkdir "$M/churn/v1/d"
assert_contains "$ERR" "Read-only file system"
run mv "$M/churn/v1/model.bin" "$M/churn/v1/m2.bin"
assert_contains "$ERR" "Read-only file system"
run rm -f "$M/churn/v1/model.bin"
assert_contains "$ERR" "Read-only file system"
run chmod 777 "$M/churn/v1/model.bin"
assert_contains "$ERR" "Read-only file system"
run touch "$M/churn/v1/model.bin"
assert_contains "$ERR" "Read-only file system"
run rmdir "$M/churn/v1"
assert_contains "$ERR" "Read-only file system"
cmp "$S/model.bin" "$M/churn/v1/model.bin" || die "a refused write changed the file"

check "tar -x, mv, rm, truncate, dd conv=notrunc and python random writes in a draft"
ok mkdir "$M/churn/v2"
ok tar -C "$S" -cf "$WORK/src.tar" .
ok tar -C "$M/churn/v2" -xf "$WORK/src.tar"
diff -r "$S" "$M/churn/v2" || die "tar -x does not read back"
E=$WORK/expect
cp -r "$S" "$E"
ok mv "$M/churn/v2/sub/part.bin" "$M/churn/v2/part-moved.bin"
mv "$E/sub/part.bin" "$E/part-moved.bin"
ok mv "$M/churn/v2/sub/deeper" "$M/churn/v2/deeper"
mv "$E/sub/deeper" "$E/deeper"
ok rm "$M/churn/v2/sub/empty"
rm "$E/sub/empty"
ok truncate -s 1000 "$M/churn/v2/model.bin"
truncate -s 1000 "$E/model.bin"
ok truncate -s 5000 "$M/churn/v2/run.sh"
truncate -s 5000 "$E/run.sh"
head -c 4096 /dev/urandom >"$WORK/patch"
ok dd if="$WORK/patch" of="$M/churn/v2/model.bin" bs=512 seek=1 conv=notrunc status=none
dd if="$WORK/patch" of="$E/model.bin" bs=512 seek=1 conv=notrunc status=none
cat >"$WORK/rand.py" <<'PY'
import os, random, sys
random.seed(7)
for path in sys.argv[1:]:
    with open(path, "r+b") as f:
        for _ in range(200):
            off = random.randrange(0, 300000)
            f.seek(off)
            f.write(random.randbytes(random.randrange(1, 9000)))
PY
: >"$M/churn/v2/random.bin"
: >"$E/random.bin"
ok "$PY" "$WORK/rand.py" "$M/churn/v2/random.bin"
ok "$PY" "$WORK/rand.py" "$E/random.bin"
ok sh -c "echo appended >>'$M/churn/v2/deeper/c.txt'"
echo appended >>"$E/deeper/c.txt"
ok chmod -x "$M/churn/v2/run.sh"
chmod -x "$E/run.sh"
ok chmod +x "$M/churn/v2/part-moved.bin"
chmod +x "$E/part-moved.bin"
ok touch -d 2001-01-01 "$M/churn/v2/model.bin"
assert_eq 978307200 "$(stat -c %Y "$M/churn/v2/model.bin")" "mtime set by touch"
ok rmdir "$M/churn/v2/sub"
rmdir "$E/sub"
diff -r "$E" "$M/churn/v2" || die "the draft does not match the expected tree"
ok setfattr -n user.registry.state -v ready "$M/churn/v2"
verify_version "$R" churn@2 "$E"
ok mf show "$R" churn@2 --json
assert_eq '[["part-moved.bin", "0555"], ["run.sh", "0444"]]' \
  "$(echo "$OUT" | jpy '[[f["path"], f["mode"]] for f in j["files"] if f["path"] in ("run.sh", "part-moved.bin")]')" \
  "exec bits as chmod left them"

check "sealing with a file open for writing is EBUSY; the draft is untouched"
ok mkdir "$M/churn/v3"
echo one >"$M/churn/v3/a.txt"
exec 7>>"$M/churn/v3/a.txt"
run setfattr -n user.registry.state -v ready "$M/churn/v3"
assert_contains "$ERR" "Device or resource busy"
assert_eq draft "$(getfattr --only-values -n user.registry.state "$M/churn/v3")" "state while busy"
run mf seal "$R" churn@3
[ "$RC" -ne 0 ] || die "modelfs seal succeeded with an open writer"
echo two >&7
exec 7>&-
ok mf seal "$R" churn@3
assert_eq "$(printf 'one\ntwo')" "$(cat "$M/churn/v3/a.txt")" "a.txt after a CLI seal"
wait_until 3 mode_is "$M/churn/v3" 555 || die "CLI seal not seen by the mount"

check "rm -r of a draft discards it; its number is never reused"
ok mkdir "$M/churn/v4"
ok cp -r "$S/sub" "$M/churn/v4/"
run rmdir "$M/churn/v4"
assert_contains "$ERR" "not empty"
ok rm -r "$M/churn/v4"
[ ! -e "$M/churn/v4" ] || die "v4 still there"
ok mf list "$R" churn --json
assert_eq '[1, 2, 3]' "$(echo "$OUT" | jpy '[v["version"] for v in j]')" "versions after discard"
run mkdir "$M/churn/v4"
assert_contains "$ERR" "Invalid argument"
ok mkdir "$M/churn/v5"

check "sealing an empty draft is EINVAL; state=draft is EINVAL"
run setfattr -n user.registry.state -v ready "$M/churn/v5"
assert_contains "$ERR" "Invalid argument"
run setfattr -n user.registry.state -v draft "$M/churn/v5"
assert_contains "$ERR" "Invalid argument"
ok rmdir "$M/churn/v5"

check "a draft path too long to seal is ENAMETOOLONG when made, and seal names the limit"
N=$(getfattr --only-values -n user.registry.next_version "$M/churn")
ok mkdir "$M/churn/v$N"
cat >"$WORK/deep.py" <<'PY'
# Makes 250-byte directories one inside the other (by descriptor: the
# mount's own path would pass PATH_MAX first) until one is refused.
import errno, os, sys
top = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
with open(os.path.join(sys.argv[1], "a.txt"), "w") as f:
    f.write("a")
fd, depth, name = os.dup(top), 0, "d" * 250
while True:
    try:
        os.mkdir(name, dir_fd=fd)
    except OSError as e:
        print("mkdir", errno.errorcode[e.errno])
        break
    nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd, depth = nfd, depth + 1
    if depth > 40:
        sys.exit("40 levels of 250-byte names were accepted")
try:
    os.close(os.open("f" * 250, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    print("create ok")
except OSError as e:
    print("create", errno.errorcode[e.errno])
# A short name still fits where the long one did not; then a directory
# with deep contents is moved in, which only seal can see.
os.mkdir("x", dir_fd=top)
x = os.open("x", os.O_RDONLY | os.O_DIRECTORY, dir_fd=top)
os.mkdir("e" * 250, dir_fd=x)
os.rename("x", "x", src_dir_fd=top, dst_dir_fd=fd)
print("depth", depth)
PY
run "$PY" "$WORK/deep.py" "$M/churn/v$N"
[ "$RC" = 0 ] || die "deep.py: $ERR"
assert_contains "$OUT" "mkdir ENAMETOOLONG"
assert_contains "$OUT" "create ENAMETOOLONG"
run setfattr -n user.registry.state -v ready "$M/churn/v$N"
assert_contains "$ERR" "File name too long"
run mf seal "$R" "churn@$N"
assert_contains "$ERR" "PATH_MAX"
assert_not_contains "$ERR" "Input/output error"
[ "$RC" = 1 ] || die "modelfs seal of a too deep draft: exit $RC, want 1"
assert_eq draft "$(getfattr --only-values -n user.registry.state "$M/churn/v$N")" "state after the refused seal"
cat >"$WORK/undeep.py" <<'PY'
import os, sys
top = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fd = os.dup(top)
while True:
    try:
        nfd = os.open("d" * 250, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    except FileNotFoundError:
        break
    os.close(fd)
    fd = nfd
os.rename("x", "x", src_dir_fd=fd, dst_dir_fd=top)
PY
ok "$PY" "$WORK/undeep.py" "$M/churn/v$N"
ok setfattr -n user.registry.state -v ready "$M/churn/v$N"
ok mf show "$R" "churn@$N" --json
assert_eq "a.txt" "$(jpy '" ".join(f["path"] for f in j["files"])' <<<"$OUT")" "files of the sealed deep draft"

check "ls -l of the model after all that; fsck is clean"
ok ls -l "$M/churn"
ok mf fsck "$R"
assert_clean_log
stop_mount "$M" "$MOUNT_PID"
pass
