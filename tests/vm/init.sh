#!/bin/busybox sh
# PID 1 of the cgroup-v2 test VM (tests/tests/vm_cgroup2.rs builds the initramfs around it):
# loads the 9p modules, mounts the host's root read-only at /host, gives it the mounts a
# running system has (its own /proc, /sys, cgroup2, /dev, and tmpfs where Kennel writes), makes
# it the root, runs the guest script named on the kernel command line there, and powers off.
B=/bin/busybox
$B mkdir -p /proc /sys /dev /host
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
# The 9p modules and their dependencies, in the order the test found in modules.dep.
for m in $($B cat /modules/order); do
  $B insmod "/modules/$m" || echo "VMWARN insmod $m failed"
done
script=""
bin=""
for w in $($B cat /proc/cmdline); do
  case "$w" in
    kennel.script=*) script="${w#kennel.script=}" ;;
    kennel.bin=*) bin="${w#kennel.bin=}" ;;
  esac
done
if ! $B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro host /host; then
  echo "VMERROR cannot mount the host's root over 9p"
  $B poweroff -f
fi
$B mount -t proc proc /host/proc
$B mount -t sysfs sys /host/sys
$B mount -t cgroup2 none /host/sys/fs/cgroup
$B mount -t devtmpfs dev /host/dev
$B mkdir -p /host/dev/shm /host/dev/pts 2>/dev/null
$B mount -t tmpfs -o mode=1777 shm /host/dev/shm
$B mount -t devpts devpts /host/dev/pts
# Not over /tmp: the checkout (and so the guest script) may live there, as in a CI clone.
# The guest writes under /run instead.
$B mount -t tmpfs -o mode=755 run /host/run
$B ip link set lo up || $B ifconfig lo 127.0.0.1 up
echo "VMBOOTED $($B uname -r)"
# The host's root becomes the root (not a chroot: the kernel refuses user namespaces, which
# bubblewrap needs, to a process whose root is not its mount namespace's); power off at the end.
echo 1 > /proc/sys/kernel/sysrq
exec $B switch_root /host /bin/sh -c '/bin/sh "$0" "$1"; echo "VMEXIT $?"; echo o > /proc/sysrq-trigger; sleep 60' "$script" "$bin"
