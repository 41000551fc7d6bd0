# Sourced by scripts/systemd-live-test and scripts/deb-live-test: counters, and a throwaway
# systemd-nspawn container booting this machine's own /usr with an empty, volatile /etc and /var
# (shared/systemd-live-test.md has the recipe). Callers set TEST_NAME and WORK (a temporary folder
# removed at exit), and call container_boot NAME EXTRA-NSPAWN-ARGS...

PASSED=0
FAILED=0
TIMINGS=()
WORK=""
NSPAWN_PID=""
CT_PID=""
CGROUPS=()

pass() { PASSED=$((PASSED + 1)); echo "PASS  $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL  $*"; }
check() { # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timing() { TIMINGS+=("$1 $2 s"); }

summary() {
  [ ${#TIMINGS[@]} -gt 0 ] && echo "timings: $(IFS=,; echo "${TIMINGS[*]}" | sed 's/,/, /g')"
  echo "$TEST_NAME: $PASSED passed, $FAILED failed"
}

# Runs a command inside the container, with a clean environment.
ct() {
  nsenter --target "$CT_PID" --mount --uts --ipc --net --pid -- \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 SYSTEMD_PAGER= "$@"
}
prop() { ct systemctl show -p "$2" --value "$1" 2>/dev/null; }
# props UNIT P1,P2,...: fills P[P1], P[P2]... (systemctl show --value prints them in its own order).
declare -A P
props() {
  P=()
  local line
  while IFS= read -r line; do P[${line%%=*}]=${line#*=}; done < <(ct systemctl show -p "$2" "$1" 2>/dev/null)
}

container_stop() {
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    [ -n "$CT_PID" ] && timeout 10 nsenter --target "$CT_PID" --mount --pid -- systemctl poweroff --no-block >/dev/null 2>&1
    for _ in $(seq 1 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$NSPAWN_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null
    wait "$NSPAWN_PID" 2>/dev/null
  fi
  NSPAWN_PID=""
  # Every cgroup the container's systemd made under ours, deepest first.
  local cg
  for cg in "${CGROUPS[@]}"; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$cg" ] && echo "warning: could not remove cgroup $cg"
  done
  CGROUPS=()
}

cleanup() {
  container_stop
  [ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# container_boot NAME EXTRA-NSPAWN-ARGS...: boots and waits for running/degraded; sets CT_PID.
# Passes or fails "container boots"; returns 1 when it did not boot.
container_boot() {
  local name=$1; shift
  # nspawn with --keep-unit stays in our cgroup: give it one of its own in each hierarchy it uses.
  if [ -d /sys/fs/cgroup/unified ]; then
    for h in systemd unified; do CGROUPS+=("/sys/fs/cgroup/$h/$name"); done
  elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    CGROUPS+=("/sys/fs/cgroup/$name")
  else
    CGROUPS+=("/sys/fs/cgroup/systemd/$name")
  fi
  local cg
  for cg in "${CGROUPS[@]}"; do mkdir -p "$cg"; done
  echo 'disable *' > "$WORK/preset"

  local t
  t=$(now)
  CT_PID=""
  (
    for cg in "${CGROUPS[@]}"; do echo "$BASHPID" > "$cg/cgroup.procs"; done
    exec systemd-nspawn --quiet --register=no --keep-unit --private-network --machine="$name" \
      --directory=/ --volatile=yes \
      --bind-ro="$WORK/preset:/etc/systemd/system-preset/00-test.preset" \
      "$@" --console=read-only --boot -- systemd.firstboot=off
  ) </dev/null >"$WORK/nspawn-$name.log" 2>&1 &
  NSPAWN_PID=$!

  # The container's PID 1 is the nspawn process's child whose innermost PID is 1.
  local deadline=$((SECONDS + 30)) child state=""
  while [ -z "$CT_PID" ] && [ $SECONDS -lt $deadline ] && kill -0 "$NSPAWN_PID" 2>/dev/null; do
    for child in $(cat /proc/"$NSPAWN_PID"/task/*/children 2>/dev/null); do
      if awk '/^NSpid:/ { exit !($NF == 1) }' /proc/"$child"/status 2>/dev/null; then CT_PID=$child; fi
    done
    [ -n "$CT_PID" ] || sleep 0.1
  done
  if [ -n "$CT_PID" ]; then
    deadline=$((SECONDS + 60))
    while [ $SECONDS -lt $deadline ]; do
      state=$(ct systemctl is-system-running 2>/dev/null)
      case "$state" in running|degraded) break ;; esac
      sleep 0.2
    done
  fi
  timing boot "$(since "$t")"
  if [ "$state" != running ] && [ "$state" != degraded ]; then
    fail "container boots (state '${state:-none}', PID 1 '${CT_PID:-not found}')"
    tail -n 30 "$WORK/nspawn-$name.log" | sed 's/^/      /'
    return 1
  fi
  pass "container boots to '$state' (PID 1 is host PID $CT_PID)"
  [ "$state" = degraded ] && ct systemctl --failed --no-legend | sed 's/^/      failed unit: /'
  return 0
}

# container_poweroff: powers off and waits; passes or fails "container powers off".
container_poweroff() {
  local t
  t=$(now)
  ct systemctl poweroff --no-block >/dev/null 2>&1
  local deadline=$((SECONDS + 30))
  while kill -0 "$NSPAWN_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  if kill -0 "$NSPAWN_PID" 2>/dev/null; then
    fail "container powers off within 30 s"
  else
    wait "$NSPAWN_PID" 2>/dev/null
    NSPAWN_PID=""
    pass "container powers off"
  fi
  container_stop
  timing poweroff "$(since "$t")"
}

# install_nspawn: systemd-container from apt if needed; returns 1 when it is not available.
install_nspawn() {
  command -v systemd-nspawn >/dev/null 2>&1 && return 0
  echo "== installing systemd-container"
  local t
  t=$(now)
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq systemd-container >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq systemd-container >/dev/null 2>&1; }
  timing apt "$(since "$t")"
  command -v systemd-nspawn >/dev/null 2>&1
}
