# The .deb: CPack builds it from the install rules; its metadata names the
# libraries it needs (dpkg-shlibdeps) and fuse3; it holds the binary,
# mount.modelfs, the man pages, the systemd unit, LICENSE and NOTICE; dpkg
# installs it into a scratch root (--root, the real /var/lib/dpkg is left
# alone), the installed binary runs there, and dpkg removes it again.
. "$TESTS_DIR/cli/common.sh"

BUILD=$(dirname "$MODELFS")
[ -f "$BUILD/CPackConfig.cmake" ] || die "no CPackConfig.cmake in $BUILD"
for t in cpack dpkg dpkg-deb; do
  command -v "$t" >/dev/null || die "$t is needed (scripts/setup installs it)"
done

check "cpack builds the .deb"
# cpack runs the install rules of the (up-to-date) build tree.
run timeout 600 cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/pkg"
[ "$RC" -eq 0 ] || die "cpack failed ($RC): $OUT $ERR"
DEB=$(ls "$WORK"/pkg/modelfs_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || die "no modelfs_*.deb in $WORK/pkg: $(ls "$WORK/pkg")"
echo "    $(basename "$DEB"): $(stat -c %s "$DEB") bytes"

check "metadata: name, version, architecture, dependencies"
ok dpkg-deb -f "$DEB" Package Version Architecture Depends Description
info=$OUT
assert_contains "$info" "Package: modelfs"
assert_contains "$info" "Architecture: $(dpkg --print-architecture)"
depends=$(dpkg-deb -f "$DEB" Depends)
echo "    Depends: $depends"
dep_names=$(printf '%s\n' "$depends" | tr ',|' '\n\n' | sed 's/(.*//; s/ //g')
for d in fuse3 liblmdb0 libxxhash0 libtomlplusplus3 libc6 libstdc++6; do
  printf '%s\n' "$dep_names" | grep -qxF "$d" || die "Depends lacks $d: $depends"
done
# libfuse is linked statically (README): the package must not need the
# system's libfuse3-3 (bookworm's is 3.14).
assert_not_contains "$depends" "libfuse3" "Depends"
# Each dependency is a package this (bookworm) machine knows.
for d in $dep_names; do
  dpkg-query -W "$d" >/dev/null 2>&1 || apt-cache show "$d" >/dev/null 2>&1 ||
    die "dependency $d is not a known package"
done

check "contents"
ok dpkg-deb -c "$DEB"
contents=$OUT
for f in ./usr/bin/modelfs ./usr/sbin/mount.modelfs ./usr/share/man/man1/modelfs.1 \
  ./usr/share/man/man5/modelfs-policy.5 ./usr/lib/systemd/system/modelfs@.service \
  ./usr/share/doc/modelfs/LICENSE ./usr/share/doc/modelfs/NOTICE \
  ./usr/share/doc/modelfs/README.md ./usr/share/doc/modelfs/docs/policy.md \
  ./usr/share/doc/modelfs/docs/xattrs.md ./usr/share/doc/modelfs/docs/layout.md; do
  printf '%s\n' "$contents" | grep -q " $f\( ->\|\$\)" || die "the package lacks $f"
done
assert_contains "$contents" "./usr/sbin/mount.modelfs -> ../bin/modelfs" "mount.modelfs"
# Completions are installed when the binary can write them.
if "$MODELFS" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1}' |
  grep -qx completion; then
  for f in ./usr/share/bash-completion/completions/modelfs \
    ./usr/share/zsh/vendor-completions/_modelfs ./usr/share/fish/vendor_completions.d/modelfs.fish; do
    printf '%s\n' "$contents" | grep -q " $f\$" || die "the package lacks $f"
  done
else
  echo "    (modelfs has no completion subcommand yet: no completion files expected)"
fi

check "dpkg installs it into a scratch root"
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS/var/lib/dpkg/info" "$ROOTFS/var/lib/dpkg/updates"
touch "$ROOTFS/var/lib/dpkg/status"
# The dependencies are installed on this machine, not in the scratch
# root's (empty) database: --force-depends.
run timeout 120 dpkg --root="$ROOTFS" --force-depends --force-not-root --log=/dev/null -i "$DEB"
[ "$RC" -eq 0 ] || die "dpkg -i failed ($RC): $OUT $ERR"
ok dpkg --root="$ROOTFS" -s modelfs
assert_contains "$OUT" "Status: install ok installed"
BIN=$ROOTFS/usr/bin/modelfs
[ -x "$BIN" ] || die "no executable $BIN"
[ "$(readlink -f "$ROOTFS/usr/sbin/mount.modelfs")" = "$(readlink -f "$BIN")" ] ||
  die "mount.modelfs does not lead to the installed modelfs"

check "the installed binary runs, with the system's libraries only"
ok ldd "$BIN"
assert_not_contains "$OUT" "not found" "ldd $BIN"
assert_not_contains "$OUT" "libfuse3" "ldd $BIN (libfuse is static)"
# `modelfs --version` when the binary has it (the package's version), else
# --help (the usage). Whether it has it is read from its help, so a
# --version that breaks fails here.
ok "$BIN" --help
help=$OUT
assert_contains "$help" "modelfs" "modelfs --help"
if printf '%s\n' "$help" | grep -q -- "--version"; then
  ok "$BIN" --version
  assert_contains "$OUT" "$(dpkg-deb -f "$DEB" Version | sed 's/-.*//')" "modelfs --version"
else
  echo "    (modelfs has no --version yet: --help checked)"
fi
# The helper under its installed name is mount(8)'s: -f checks and mounts nothing.
ok "$ROOTFS/usr/sbin/mount.modelfs" /srv/registry /models -f -v -o allow_other,_netdev
assert_contains "$ERR" "mounting /srv/registry at /models -o allow_other"

check "the installed unit names the installed binary"
unit=$(cat "$ROOTFS/usr/lib/systemd/system/modelfs@.service")
assert_contains "$unit" "ExecStart=/usr/bin/modelfs mount -f "
assert_contains "$unit" "file:/usr/share/doc/modelfs/README.md"

check "the installed man pages and docs are the repository's (tests/cli/docs.sh checks those)"
SRC=$(cd "$TESTS_DIR/.." && pwd)
assert_file_eq "$SRC/docs/man/modelfs.1" "$ROOTFS/usr/share/man/man1/modelfs.1"
assert_file_eq "$SRC/docs/man/modelfs-policy.5" "$ROOTFS/usr/share/man/man5/modelfs-policy.5"
assert_file_eq "$SRC/docs/policy.md" "$ROOTFS/usr/share/doc/modelfs/docs/policy.md"
assert_file_eq "$SRC/NOTICE" "$ROOTFS/usr/share/doc/modelfs/NOTICE"

check "dpkg removes it, leaving nothing behind"
ok timeout 120 dpkg --root="$ROOTFS" --force-depends --force-not-root --log=/dev/null -r modelfs
[ ! -e "$BIN" ] || die "$BIN remains after dpkg -r"
[ ! -e "$ROOTFS/usr/sbin/mount.modelfs" ] && [ ! -L "$ROOTFS/usr/sbin/mount.modelfs" ] ||
  die "mount.modelfs remains after dpkg -r"

pass
