# Test users and groups for the multi-user tests (tests/cli/*.sh,
# tests/mount/*.sh). Source it as root:
#   . "$TESTS_DIR/users.sh"
# It creates, if missing (idempotent; safe when several tests source it at
# once), these system accounts, without home directories:
#   mf-alice  groups mf-ml, mf-leads      mf-bob    groups mf-ml, mf-leads
#   mf-carol  group  mf-ml                mf-dave   no groups
#   mf-svc    no groups
# each with a primary group of its own name, plus the group mf-pipeline that
# contains all of them (for sharing a registry ROOT with trusted accounts:
# see share_root).
# Gives:
#   as USER CMD...    runs CMD (an executable, not a shell function) as USER
#                     with USER's primary group and supplementary groups,
#                     umask 002, bounded by a timeout (exit 124 when hung).
#   share_root ROOT   gives ROOT to group mf-pipeline (g+rwX, setgid dirs).
#   MF_USERS          the list of test users.
# Needs: root, useradd/groupadd/usermod, setpriv (util-linux), flock, timeout.

MF_USERS=(mf-alice mf-bob mf-carol mf-dave mf-svc)
MF_GROUPS=(mf-ml mf-leads mf-pipeline)
# Longest any command run through `as` may take.
MF_AS_TIMEOUT=${MF_AS_TIMEOUT:-120}

_mf_users_die() {
  echo "FAIL: tests/users.sh: $*" >&2
  exit 1
}

_mf_users_setup() {
  [ "$(id -u)" -eq 0 ] || _mf_users_die "must run as root to create test users"
  local tool
  for tool in useradd groupadd usermod setpriv flock timeout getent; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] ||
      _mf_users_die "needs $tool"
  done
  export PATH="$PATH:/usr/sbin:/sbin"
  local _mf_lock=/run/lock/modelfs-test-users.lock
  [ -d /run/lock ] || _mf_lock=/tmp/modelfs-test-users.lock
  # Several tests may source this at once: useradd takes its own locks on
  # /etc/passwd and fails rather than waits, so serialize on a lock file.
  (
    flock -w 60 9 || _mf_users_die "timed out waiting for the user-creation lock"
    local g u
    for g in "${MF_GROUPS[@]}"; do
      getent group "$g" >/dev/null || groupadd --system "$g" ||
        _mf_users_die "groupadd $g failed"
    done
    for u in "${MF_USERS[@]}"; do
      if ! getent passwd "$u" >/dev/null; then
        useradd --system --no-create-home --user-group --home-dir /nonexistent \
          --shell /usr/sbin/nologin "$u" || _mf_users_die "useradd $u failed"
      fi
    done
    # Memberships are (re)asserted every time: -a only adds.
    usermod -a -G mf-ml,mf-leads,mf-pipeline mf-alice || _mf_users_die "usermod mf-alice"
    usermod -a -G mf-ml,mf-leads,mf-pipeline mf-bob || _mf_users_die "usermod mf-bob"
    usermod -a -G mf-ml,mf-pipeline mf-carol || _mf_users_die "usermod mf-carol"
    usermod -a -G mf-pipeline mf-dave || _mf_users_die "usermod mf-dave"
    usermod -a -G mf-pipeline mf-svc || _mf_users_die "usermod mf-svc"
  ) 9>"$_mf_lock" || exit 1
  for u in "${MF_USERS[@]}"; do
    getent passwd "$u" >/dev/null || _mf_users_die "user $u does not exist after setup"
  done
  # Sanity: the groups really are what the tests expect.
  id -nG mf-carol | tr ' ' '\n' | grep -qx mf-ml || _mf_users_die "mf-carol is not in mf-ml"
  id -nG mf-dave | tr ' ' '\n' | grep -qx mf-ml && _mf_users_die "mf-dave must not be in mf-ml"
  setpriv --help 2>&1 | grep -q -- '--init-groups' || _mf_users_die "setpriv lacks --init-groups"
  return 0
}

# as USER CMD...: CMD as USER (uid, primary gid, supplementary groups from
# /etc/group), umask 002, under a timeout.
as() {
  local user=$1
  shift
  local gid
  gid=$(id -g "$user" 2>/dev/null) || { echo "as: no such user $user" >&2; return 1; }
  timeout -k 5 "$MF_AS_TIMEOUT" \
    setpriv --reuid="$user" --regid="$gid" --init-groups -- \
    /bin/sh -c 'umask 002; exec "$@"' sh "$@"
}

# share_root ROOT: the owner shares ROOT with the trusted accounts of group
# mf-pipeline, as SPEC §6 describes (group read/write, setgid directories so
# new files keep the group). Run it after `modelfs init` and before users
# touch ROOT; run it again after root created files in ROOT.
share_root() {
  local root=$1
  if ! { chgrp -R mf-pipeline "$root" && chmod -R g+rwX "$root" &&
    find "$root" -type d -exec chmod g+s {} +; }; then
    _mf_users_die "cannot share $root"
  fi
}

_mf_users_setup
