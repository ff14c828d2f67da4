# Aliases through the mount (SPEC §4): ln -s creates one, GNU ln -sfn moves
# one (through a temporary symlink renamed over it), rm deletes one; latest
# cannot be set or removed; only vN of a ready version of the same model is
# a target; a temporary never renamed never becomes an alias.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
echo a >"$WORK/m.bin"
ok mf push "$R" churn "$WORK/m.bin"
ok mf push "$R" churn "$WORK/m.bin"
ok mf push "$R" fraud "$WORK/m.bin"
start_mount "$R" "$M"
aliases() { mf list "$R" churn --json | jpy '{str(v["version"]): v["aliases"] for v in j}'; }

check "ln -s vN ALIAS creates an alias, seen by the CLI and readlink"
ok ln -s v1 "$M/churn/staging"
assert_eq v1 "$(readlink "$M/churn/staging")" "readlink"
assert_eq '{"1": ["staging"], "2": []}' "$(aliases)" "aliases"
assert_eq a "$(cat "$M/churn/staging/m.bin")" "read through the alias"

check "ln -s onto an existing alias is EEXIST; ln -sfn moves it"
run ln -sn v2 "$M/churn/staging"
assert_contains "$ERR" "File exists"
ok ln -sfn v2 "$M/churn/staging"
assert_eq v2 "$(readlink "$M/churn/staging")" "readlink right after ln -sfn"
assert_eq '{"1": [], "2": ["staging"]}' "$(aliases)" "aliases after ln -sfn"
ok ln -sfn v1 "$M/churn/production"
assert_eq v1 "$(readlink "$M/churn/production")" "ln -sfn of a new alias"
ok mf log "$R" churn --json
assert_eq '[["churn/staging", "", "v1"], ["churn/staging", "v1", "v2"], ["churn/production", "", "v1"]]' \
  "$(echo "$OUT" | jpy '[[r["object"], r["before"], r["after"]] for r in j if r["action"] == "alias"]')" "audit"

check "a temporary renamed over an alias with RENAME_NOREPLACE is EEXIST; the alias stays"
ok ln -s v2 "$M/churn/CuNorep1"
cat >"$WORK/noreplace.py" <<'PYEOF'
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_NOREPLACE = -100, 1
rc = libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), RENAME_NOREPLACE)
print("ok" if rc == 0 else errno.errorcode[ctypes.get_errno()])
PYEOF
assert_eq EEXIST "$(python3 "$WORK/noreplace.py" "$M/churn/CuNorep1" "$M/churn/production")" \
  "renameat2 RENAME_NOREPLACE onto an alias"
assert_eq v1 "$(readlink "$M/churn/production")" "production after the refused rename"
assert_eq ok "$(python3 "$WORK/noreplace.py" "$M/churn/CuNorep1" "$M/churn/canary")" \
  "renameat2 RENAME_NOREPLACE onto a new alias"
assert_eq v2 "$(readlink "$M/churn/canary")" "the new alias"
ok rm "$M/churn/canary"
sleep 0.3
assert_eq "README.md
latest
production
staging
v1
v2" "$(ls "$M/churn")" "ls of the model: no temporaries left"

check "targets: a draft, a missing version, another model's path, not vN: EINVAL"
ok mkdir "$M/churn/v3"
echo d >"$M/churn/v3/d"
run ln -s v3 "$M/churn/canary"
assert_contains "$ERR" "Invalid argument"
run ln -sfn v3 "$M/churn/staging"
assert_contains "$ERR" "Invalid argument"
run ln -s v9 "$M/churn/canary"
assert_contains "$ERR" "Invalid argument"
run ln -s ../fraud/v1 "$M/churn/canary"
assert_contains "$ERR" "Invalid argument"
run ln -s /etc "$M/churn/canary"
assert_contains "$ERR" "Invalid argument"
assert_eq '{"1": ["production"], "2": ["staging"], "3": []}' "$(aliases)" "aliases unchanged"

check "latest cannot be set or removed; v<N> is not an alias name; symlinks at the root: EINVAL, in a ready version: EROFS"
run ln -sfn v1 "$M/churn/latest"
assert_contains "$ERR" "Invalid argument"
run rm "$M/churn/latest"
assert_contains "$ERR" "Invalid argument"
assert_eq v2 "$(readlink "$M/churn/latest")" "latest"
run ln -s v1 "$M/churn/v7"
assert_contains "$ERR" "Invalid argument"
run ln -s v1 "$M/link"
assert_contains "$ERR" "Invalid argument"
run ln -s x "$M/churn/v1/link"
assert_contains "$ERR" "Read-only file system"
# (Symlinks inside drafts are tests/mount/posix.sh's.)

check "a temporary symlink (not an alias name) exists for ln but never becomes an alias"
ok ln -s v1 "$M/churn/CuTmp123"
assert_eq v1 "$(readlink "$M/churn/CuTmp123")" "temporary readlink"
assert_eq '{"1": ["production"], "2": ["staging"], "3": []}' "$(aliases)" "no alias from a temporary"
ok rm "$M/churn/CuTmp123"
[ ! -L "$M/churn/CuTmp123" ] || die "temporary still there after rm"
ok ln -s v2 "$M/churn/CuTmp456"
ok mv -T "$M/churn/CuTmp456" "$M/churn/production"
assert_eq v2 "$(readlink "$M/churn/production")" "mv of a temporary over an alias commits it"

check "rm ALIAS deletes it; rm of a missing alias is ENOENT"
ok rm "$M/churn/staging"
wait_until 3 test ! -L "$M/churn/staging" || die "staging still there"
run rm "$M/churn/staging"
assert_contains "$ERR" "No such file"
assert_eq '{"1": [], "2": ["production"], "3": []}' "$(aliases)" "aliases after rm"

check "versions and aliases are not renamed: EINVAL (mv words it as 'subdirectory of itself')"
run "$PY" -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' "$M/churn/production" "$M/churn/prod2"
assert_contains "$ERR" "Invalid argument"
run "$PY" -c 'import os,sys; os.rename(sys.argv[1], sys.argv[2])' "$M/churn/v1" "$M/churn/v9"
assert_contains "$ERR" "Invalid argument"
assert_eq '{"1": [], "2": ["production"], "3": []}' "$(aliases)" "aliases after refused renames"

check "an alias move made by the CLI is seen through the mount within 1 s"
ok mf alias "$R" churn@1 production
wait_until 1 link_is "$M/churn/production" v1 || die "mount still shows $(readlink "$M/churn/production")"

assert_clean_log
stop_mount "$M" "$MOUNT_PID"
pass
