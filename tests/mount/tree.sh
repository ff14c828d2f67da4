# The mounted tree (SPEC §3): models, versions (drafts/ready/archived),
# alias and latest symlinks, files and subdirectories; exact stat (modes,
# sizes, nlink, mtime = version creation, owner = ROOT's owner); inode
# numbers stable across remounts; what `ls -l`, `find`, `du -b`, `readlink`
# and `stat` see; writes refused with EROFS.
. "$TESTS_DIR/lib.sh"

R=$WORK/reg
M=$WORK/mnt
S=$WORK/src
ok mf init "$R"
mkdir -p "$S/sub/deeper"
printf 'weights-v1' >"$S/model.bin"
printf '#!/bin/sh\necho hi\n' >"$S/run.sh"
chmod 755 "$S/run.sh"
head -c 5000 /dev/urandom >"$S/sub/part.bin"
printf 'deep' >"$S/sub/deeper/c.txt"
: >"$S/sub/empty"
ok mf push "$R" churn "$S" --alias production
printf 'weights-v2' >"$WORK/model.bin"
ok mf push "$R" churn "$WORK/model.bin"
ok mf push "$R" churn "$WORK/model.bin"
ok mf archive "$R" churn@3
ok mf push "$R" fraud "$WORK/model.bin"
ok mf init "$WORK/empty-reg"
ok mf push "$R" nolatest "$WORK/model.bin"
ok mf archive "$R" nolatest@1

start_mount "$R" "$M"

check "the root lists the models; a model lists versions, aliases and latest"
assert_eq "churn
fraud
nolatest" "$(ls "$M")" "ls of the root"
assert_eq "README.md
latest
production
v1
v2
v3" "$(ls "$M/churn")" "ls of churn"
assert_eq "README.md
v1" "$(ls "$M/nolatest")" "a model whose only version is archived has no latest"
[ ! -e "$M/nolatest/latest" ] || die "latest exists without a ready version"
assert_eq "v2" "$(readlink "$M/churn/latest")" "latest skips the archived v3"
assert_eq "v1" "$(readlink "$M/churn/production")" "readlink production"
assert_eq "model.bin
run.sh
sub" "$(ls "$M/churn/v1")" "ls of a version"
assert_eq "weights-v1" "$(cat "$M/churn/production/model.bin")" "a file through the alias"

check "find sees every path of a version, as pushed"
assert_eq "$(cd "$S" && find . | sort)" "$(cd "$M/churn/v1" && find . | sort)" "find"

check "ls -l: modes, owners, sizes, symlink targets"
out=$(ls -l "$M/churn")
# (columns padded to the widest size: README.md's)
echo "$out" | grep -qE '^lrwxrwxrwx 1 root root +2 ' || die "no 2-byte symlink in ls -l: $out"
echo "$out" | grep -qE '^-r--r--r-- 1 root root +[0-9]+ .* README.md$' || die "no README.md in ls -l: $out"
assert_contains "$out" "production -> v1"
assert_contains "$out" "latest -> v2"
assert_eq "dr-xr-xr-x" "$(stat -c %A "$M/churn/v1")" "version dir mode"
assert_eq "-r--r--r--" "$(stat -c %A "$M/churn/v1/model.bin")" "file mode"
assert_eq "-r-xr-xr-x" "$(stat -c %A "$M/churn/v1/run.sh")" "executable file mode"
assert_eq "drwxr-xr-x" "$(stat -c %A "$M")" "root mode (mkdir makes models)"
assert_eq "$(stat -c %u:%g "$R")" "$(stat -c %u:%g "$M/churn/v1/model.bin")" "owner is ROOT's owner"

check "sizes exact; symlink size is the length of its target"
assert_eq 5000 "$(stat -c %s "$M/churn/v1/sub/part.bin")" "size"
assert_eq 0 "$(stat -c %s "$M/churn/v1/sub/empty")" "empty file size"
assert_eq 2 "$(stat -c %s "$M/churn/production")" "symlink size"
assert_eq "$(mf show "$R" churn@1 --json | jpy 'j["size"]')" "$(du -b -s "$M/churn/v1" | cut -f1)" \
  "du -b of a version = its recorded size"

check "nlink: 2 + subdirectories for directories, 1 for files"
assert_eq 3 "$(stat -c %h "$M/churn/v1")" "nlink of v1 (one subdir)"
assert_eq 3 "$(stat -c %h "$M/churn/v1/sub")" "nlink of sub (one subdir)"
assert_eq 2 "$(stat -c %h "$M/churn/v1/sub/deeper")" "nlink of a leaf dir"
assert_eq 5 "$(stat -c %h "$M/churn")" "nlink of a model (3 versions)"
assert_eq 5 "$(stat -c %h "$M")" "nlink of the root (3 models)"
assert_eq 1 "$(stat -c %h "$M/churn/v1/model.bin")" "nlink of a file"
# find -noleaf is not needed: nlink is honest, so find's leaf optimisation works.
assert_eq "$(find "$S" -type d | wc -l)" "$(find "$M/churn/v1" -type d | wc -l)" "dirs found"

check "mtime and ctime are the version's creation time"
created=$(mf show "$R" churn@2 --json | jpy 'j["created_at"]')
want=$(date -u -d "$created" +%s)
assert_eq "$want" "$(stat -c %Y "$M/churn/v2/model.bin")" "mtime of a file"
assert_eq "$want" "$(stat -c %Z "$M/churn/v2/model.bin")" "ctime of a file"
assert_eq "$want" "$(stat -c %Y "$M/churn/v2")" "mtime of a version dir"

check "absent names are ENOENT, also through symlinks"
run stat "$M/nope"
[ "$RC" -ne 0 ] && assert_contains "$ERR" "No such file"
run stat "$M/churn/v9"
[ "$RC" -ne 0 ] || die "v9 exists"
run stat "$M/churn/v1/nope.bin"
[ "$RC" -ne 0 ] || die "nope.bin exists"
run stat "$M/churn/staging"
[ "$RC" -ne 0 ] || die "an alias that does not exist is there"

check "writes are refused with EROFS (read side)"
run touch "$M/churn/v1/new"
assert_contains "$ERR" "Read-only file system"
run mkdir "$M/churn/v1/newdir"
assert_contains "$ERR" "Read-only file system"
run sh -c "echo x >> '$M/churn/v1/model.bin'"
assert_contains "$ERR" "Read-only file system"
run rm -f "$M/churn/v1/model.bin"
assert_contains "$ERR" "Read-only file system"

check "inode numbers are stable across remounts"
inodes() { (cd "$M" && find . -printf '%i %p\n' | sort -k2); }
before=$(inodes)
[ "$(echo "$before" | awk '{print $1}' | sort | uniq -d)" = "" ] || die "two paths share an inode: $before"
assert_eq 1 "$(stat -c %i "$M")" "the root's inode"
stats_before=$(cd "$M" && find . -printf '%p %i %m %n %s %T@ %y\n' | sort)
stop_mount "$M" "$MOUNT_PID"
start_mount "$R" "$M"
assert_eq "$before" "$(inodes)" "inodes after remount"
assert_eq "$stats_before" "$(cd "$M" && find . -printf '%p %i %m %n %s %T@ %y\n' | sort)" "stat after remount"

check "an empty registry mounts as an empty directory"
start_mount "$WORK/empty-reg" "$WORK/mnt2"
assert_eq "" "$(ls -A "$WORK/mnt2")" "ls of an empty registry"
assert_eq 2 "$(stat -c %h "$WORK/mnt2")" "nlink of an empty root"

assert_clean_log
pass
