#!/bin/sh
# Runs inside the cgroup-v2 test VM (tests/tests/vm_cgroup2.rs), in the host's root mounted
# read-only, as root. Starts Kennel as root, then as an ordinary user (uid 65534) in a cgroup
# delegated to it the way systemd delegates one, submits a handful of small Python programs to
# each, and prints one line per fact the test checks:
#   VMRESULT <who> <case> <kennel-client's JSON result, or a word>
# Emulated time is slow: few programs, generous wall limits.
bin="$1"
cg=/sys/fs/cgroup
# The host's root is read-only here (its /tmp too, which may hold the checkout): everything
# this script and Kennel write goes under /run, a tmpfs of the VM's own.
scratch=/run/kennel-vm
mkdir -p "$scratch" && chmod 1777 "$scratch"
export TMPDIR="$scratch"
# bubblewrap needs user namespaces for an unprivileged uid (Debian's kernel asks for this).
[ -e /proc/sys/kernel/unprivileged_userns_clone ] && echo 1 > /proc/sys/kernel/unprivileged_userns_clone
# Every controller the runs need, offered to the children of the root.
echo "+memory +pids +cpu" > $cg/cgroup.subtree_control
echo "VMINFO controllers $(cat $cg/cgroup.subtree_control)"
# A run takes about a minute; one still going after five is stuck somewhere. Say where, once,
# so that the test's failure shows it: every process with its scheduling class, state and the
# kernel function it sleeps in, then the kernel's list of blocked tasks (sysrq w, read back
# from the kernel's log: a quiet console does not print it).
(
  sleep 300
  echo "VMSTUCK still running after 300 s; processes:"
  ps -eo pid,ppid,cls,ni,stat,etime,wchan:32,args | cut -c1-200 | sed 's/^/VMSTUCK /'
  echo w > /proc/sysrq-trigger
  dmesg | tail -n 300 | sed 's/^/VMSTUCK /'
) &
stuck=$!

dir=$(mktemp -d "$scratch/programs.XXXXXX")
chmod 755 "$dir"
cat > "$dir/gig.py" <<'PY'
x = b"x" * (1 << 30)
print(len(x))
PY
cat > "$dir/five.py" <<'PY'
import os, time
for i in range(5):
    if os.fork() == 0:
        x = b"x" * (80 << 20)
        time.sleep(4)
        os._exit(0)
for i in range(5):
    os.wait()
PY
cat > "$dir/bomb.py" <<'PY'
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
PY
cat > "$dir/spin4.py" <<'PY'
import os, time
for i in range(4):
    if os.fork() == 0:
        while time.process_time() < 0.7:
            pass
        os._exit(0)
for i in range(4):
    os.wait()
PY
# Busy for 2 s first: the instance's own start-up work (its sandboxes made in advance, its
# standby worker) competes for the VM's two CPUs then; the share is measured over the 3 s after.
cat > "$dir/busy.py" <<'PY'
import time
t = time.monotonic()
while time.monotonic() - t < 2:
    pass
t, c = time.monotonic(), time.process_time()
while time.monotonic() - t < 3:
    pass
print("share %.3f" % ((time.process_time() - c) / (time.monotonic() - t)))
PY
cat > "$dir/hello.py" <<'PY'
print("hello")
PY
cat > "$dir/sleep.py" <<'PY'
import time
time.sleep(60)
PY
chmod 644 "$dir"/*.py

# start WHO RUNTIME_DIR FLAGS...: starts a watchdog as WHO; sets $port.
start() {
  who=$1; rt=$2; shift 2
  if [ "$who" = root ]; then
    "$bin/kennel-watchdog" --runtime-dir "$rt" --port 0 --workers 1 --max-connections 1000 --warm-toolchains none "$@" > "$rt.ready" 2> "$rt.log" &
  else
    # A child shell moves into the delegated cgroup, then becomes the watchdog as uid 65534.
    sh -c 'echo $$ > /sys/fs/cgroup/delegated/cgroup.procs && exec setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"' \
      sh "$bin/kennel-watchdog" --runtime-dir "$rt" --port 0 --workers 1 --max-connections 1000 --warm-toolchains none "$@" > "$rt.ready" 2> "$rt.log" &
  fi
  wpid=$!
  n=0
  while ! grep -q '^ready ' "$rt.ready" 2>/dev/null; do
    n=$((n + 1))
    if [ $n -gt 600 ] || ! kill -0 $wpid 2>/dev/null; then
      echo "VMRESULT $who start failed"
      sed 's/^/VMLOG /' "$rt.log"
      return 1
    fi
    sleep 0.1
  done
  port=$(sed -n 's/^ready .*:\([0-9]*\)$/\1/p' "$rt.ready")
}

# run WHO CASE FILE FLAGS...: one program through kennel-client, its JSON on one line.
run() {
  who=$1; case=$2; file=$3; shift 3
  out=$("$bin/kennel-client" --port "$port" run "$dir/$file" --json --wall-limit 60s "$@" 2>/dev/null | tr -d '\n')
  printf 'VMRESULT %s %s %s\n' "$who" "$case" "$out"
}

# phase WHO RUNTIME_DIR PARENT: the same programs and checks, as WHO.
phase() {
  who=$1; rt=$2; parent=$3
  start "$who" "$rt" --wall-limit-max 120s --time-limit-max 30s || return
  limits=$(setpriv_for "$who" "$bin/kennelctl" --runtime-dir "$rt" status --json | tr -d '\n' | sed 's/.*"limits":{"mode":"\([^"]*\)".*/\1/')
  echo "VMRESULT $who mode $limits"
  # Emulated CPUs are slow and their time follows the host's clock: a Python hello takes
  # 0.25-0.7 s of CPU here, more while the worker makes its first sandboxes; 10 s of CPU keeps
  # the hellos about the sandbox, not the emulator.
  run "$who" hello hello.py --time-limit 10s
  # The cost of a run here, against the same program started bare in the same VM.
  t0=$(date +%s%N)
  for i in 1 2 3 4 5; do python3 "$dir/hello.py" > /dev/null; done
  t1=$(date +%s%N)
  for i in 1 2 3 4 5; do "$bin/kennel-client" --port "$port" run "$dir/hello.py" > /dev/null 2>&1; done
  t2=$(date +%s%N)
  echo "VMRESULT $who perf $(( (t1 - t0) / 5000000 )) $(( (t2 - t1) / 5000000 ))"
  run "$who" gig gig.py --time-limit 20s
  run "$who" five five.py --time-limit 20s
  run "$who" spin4 spin4.py --time-limit 1s
  run "$who" bomb bomb.py --time-limit 3s
  run "$who" after-bomb hello.py --time-limit 10s
  # A worker SIGKILLed in the middle of a run: the next run's worker removes what it left.
  wpid=$(setpriv_for "$who" "$bin/kennelctl" --runtime-dir "$rt" status --json | tr -d '\n' | sed 's/.*"workers":\[{"slot":0,"pid":\([0-9]*\).*/\1/')
  "$bin/kennel-client" --port "$port" run "$dir/sleep.py" --wall-limit 60s > /dev/null 2>&1 &
  cpid=$!
  n=0
  until setpriv_for "$who" "$bin/kennelctl" --runtime-dir "$rt" status --json | tr -d ' \n' | grep -q '"tasks":1' || [ $n -gt 300 ]; do
    n=$((n + 1)); sleep 0.1
  done
  kill -9 "$wpid"
  kill -9 "$cpid" 2>/dev/null
  n=0
  until setpriv_for "$who" "$bin/kennelctl" --runtime-dir "$rt" status --json | grep -q '"state":"idle"' || [ $n -gt 300 ]; do
    n=$((n + 1)); sleep 0.1
  done
  run "$who" after-kill hello.py --time-limit 10s
  echo "VMRESULT $who cgroups-left $(find "$parent" -mindepth 1 -maxdepth 2 -type d -printf '%P ' 2>/dev/null)"
  # A run's cgroup holds its sandbox from before the run (made in advance: bwrap and
  # kennel-run waiting) to its end; an empty one is a finished run's, which the worker's pool
  # thread removes at once. Polled with a deadline: the removal is asynchronous.
  n=0
  while [ -n "$(empty_runs "$parent")" ] && [ $n -lt 50 ]; do n=$((n + 1)); sleep 0.1; done
  echo "VMRESULT $who empty-run-cgroups $(empty_runs "$parent")"
  echo "VMRESULT $who dead-worker $wpid"
  kill -TERM $(cat "$rt/watchdog.lock" 2>/dev/null) 2>/dev/null
  n=0
  while [ -e "$rt/watchdog.lock" ] && [ $n -lt 300 ]; do n=$((n + 1)); sleep 0.1; done
  echo "VMRESULT $who stopped-cgroups $(find "$parent" -mindepth 1 -maxdepth 2 -type d -name 'kennel-w*' -printf '%P ' 2>/dev/null)"
}

# The run cgroups (depth 2) with no process in them.
empty_runs() {
  for d in $(find "$1" -mindepth 2 -maxdepth 2 -type d 2>/dev/null); do
    [ -n "$(cat "$d/cgroup.procs" 2>/dev/null)" ] || printf '%s ' "${d#$1/}"
  done
}

setpriv_for() {
  who=$1; shift
  if [ "$who" = root ]; then "$@"; else setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"; fi
}

phase root "$scratch/root" /sys/fs/cgroup/kennel
# The CPU cap, as root: --cpu-max 50 on a loop busy for 3 s of wall time.
start root "$scratch/cap" --cpu-max 50 --wall-limit-max 120s --time-limit-max 30s && {
  run root cpu-max busy.py --time-limit 10s
  kill -TERM $(cat "$scratch/cap"/watchdog.lock) 2>/dev/null
  n=0
  while [ -e "$scratch/cap"/watchdog.lock ] && [ $n -lt 300 ]; do n=$((n + 1)); sleep 0.1; done
}

# Delegation as systemd does it: a directory owned by the user, with its cgroup.procs,
# cgroup.subtree_control and cgroup.threads.
mkdir $cg/delegated
chown 65534:65534 $cg/delegated $cg/delegated/cgroup.procs $cg/delegated/cgroup.subtree_control $cg/delegated/cgroup.threads
mkdir -p "$scratch/user" && chmod 777 "$scratch/user"
phase nobody "$scratch/user/rt" $cg/delegated/kennel-runs
kill "$stuck" 2>/dev/null
echo "VMDONE"
