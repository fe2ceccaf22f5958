# tests/cli/unprivileged.sh - sourced by the CLI tests: as_nobody PROGRAM
# ARGS... runs PROGRAM as uid/gid 65534 with no capabilities. The program is
# copied into a world-readable directory first: the build tree may sit below a
# directory only root can enter (a clone in a mktemp -d directory, 0700), and
# the test is about the program's own error, not about reaching its file.
as_nobody_dir=
as_nobody() {
  local prog=$1
  shift
  if [ -z "$as_nobody_dir" ]; then
    as_nobody_dir=$(mktemp -d /tmp/coronet-cli.XXXXXX) && chmod 755 "$as_nobody_dir" || return 125
    trap 'rm -rf "$as_nobody_dir"' EXIT
  fi
  local copy
  copy="$as_nobody_dir/$(basename "$prog")"
  [ -x "$copy" ] || install -m 755 "$prog" "$copy" || return 125
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all timeout 20 "$copy" "$@"
}
