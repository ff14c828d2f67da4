# rsync registers a model into a draft as cp -r does (it writes temporary
# ".name.XXXXXX" files and renames them into place), and a second rsync
# into the same draft only updates what changed; the sealed version equals
# a `modelfs push` of the same directory.
. "$TESTS_DIR/lib.sh"
command -v rsync >/dev/null || die "rsync is not installed (scripts/setup installs it)"

R=$WORK/reg
M=$WORK/mnt
ok mf init "$R"
mkdir -p "$WORK/src/sub"
echo "config" >"$WORK/src/config.json"
head -c 3000000 /dev/urandom >"$WORK/src/sub/weights.bin"
printf '#!/bin/sh\necho hi\n' >"$WORK/src/run.sh"
chmod +x "$WORK/src/run.sh"
# rsync's quick check compares mtimes in whole seconds: dated well in the
# past, the sources tell a draft that kept their mtimes from one that did not.
find "$WORK/src" -exec touch -d '2024-01-02 03:04:05' {} +
start_mount "$R" "$M"
mkdir "$M/churn" "$M/churn/v1" || die "mkdir of model and draft failed"

check "rsync -a into the draft, then again after a change"
timeout 60 rsync -a "$WORK/src/" "$M/churn/v1/" || die "rsync failed"
# inode and mtime of each file in the draft, to see what the second rsync rewrote
draft_files() { (cd "$M/churn/v1" && find . -type f -printf '%P %i %T@\n' | sort); }
before=$(draft_files)
echo "config 2" >"$WORK/src/config.json"
timeout 60 rsync -a --itemize-changes "$WORK/src/" "$M/churn/v1/" >"$WORK/rsync2.log" ||
  die "second rsync failed"
# rsync's quick check (size and mtime) must find the unchanged files equal,
# which needs the draft to keep the mtimes the first rsync set: only
# config.json is sent (">f" lines), and the other files are left as they were.
sent=$(awk '$1 ~ /^>f/ {print $2}' "$WORK/rsync2.log")
assert_eq "config.json" "$sent" "files the second rsync sent (itemized: $(cat "$WORK/rsync2.log"))"
after=$(draft_files)
assert_eq "$(grep -v '^config.json ' <<<"$before")" "$(grep -v '^config.json ' <<<"$after")" \
  "inode and mtime of the unchanged files in the draft"
assert_ne "$(grep '^config.json ' <<<"$before")" "$(grep '^config.json ' <<<"$after")" \
  "inode and mtime of config.json in the draft"
left=$(ls -A "$M/churn/v1" | grep '^\.')
[ -z "$left" ] || die "rsync left temporary files in the draft: $left"

check "sealed, it equals a push of the same directory"
setfattr -n user.registry.state -v ready "$M/churn/v1" || die "seal failed"
diff -r "$WORK/src" "$M/churn/v1" || die "the mounted version differs from the source"
ok mf push "$R" reference "$WORK/src"
d1=$(mf show "$R" churn@1 --json | jpy 'j["digest"]')
d2=$(mf show "$R" reference@1 --json | jpy 'j["digest"]')
assert_eq "$d2" "$d1" "digest of the rsync'd version"
assert_eq "0555" "$(mf show "$R" churn@1 --json | jpy '[f["mode"] for f in j["files"] if f["path"] == "run.sh"][0]')"
pass
