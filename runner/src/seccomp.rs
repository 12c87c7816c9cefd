//! The sandbox's system-call filter: a classic BPF program, built here as data and installed by
//! `kennel-run` (`common::sys::install_seccomp_filter`) after it has made itself non-dumpable
//! and before it starts the program, so everything the program starts is under it too. No
//! libseccomp: the program is some eighty instructions, each rule readable below.
//!
//! Why a deny list, not an allow list: the sandbox's namespaces, read-only root and unprivileged
//! uid already stop what an allow list would; the filter closes the kernel surfaces that the
//! namespaces leave open and that other runners were escaped or abused through (isolate 2.4–2.6:
//! keyrings, AF_VSOCK, io_uring, file locks; nsjail: 32-bit system calls).
//!
//! | rule | answer | why |
//! |---|---|---|
//! | any architecture but x86-64 (`int 0x80`, the i386 ABI) | `ENOSYS` | the numbers differ there: a deny list by number would be bypassed |
//! | x32 numbers (bit 30 set) | `ENOSYS` | the same bypass through the x32 ABI |
//! | `clone3` | `ENOSYS` | its flags are behind a pointer the filter cannot read; glibc falls back to `clone` |
//! | `clone` with a namespace flag | `EPERM` | no new namespaces inside the sandbox |
//! | `socket`/`socketpair` of a family other than UNIX, INET, INET6 | `EAFNOSUPPORT` | vsock, netlink, packet, … |
//! | `personality` that disables ASLR or makes data executable | `EPERM` | keeps the address space randomised |
//! | `flock`, `fcntl` record locks | `ENOLCK` | a lock on a shared file (`/usr`, `/dev/null`) is a channel between concurrent runs |
//! | `prctl(PR_SET_DUMPABLE)` | `EPERM` | a non-dumpable process would hide its memory from `kennel-run`'s budget |
//! | io_uring, keyrings, bpf, userfaultfd, perf, ptrace and process_vm_*, mounts, namespaces, modules, kexec, handles, clocks, reboot, swap, syslog, ioports | `EPERM` | kernel surface a program never needs |

/// System-call numbers on x86-64 (`asm/unistd_64.h`) and what each denied one is.
const DENIED: &[(u32, &str)] = &[
    (101, "ptrace"),
    (310, "process_vm_readv"),
    (311, "process_vm_writev"),
    (312, "kcmp"),
    (425, "io_uring_setup"),
    (426, "io_uring_enter"),
    (427, "io_uring_register"),
    (248, "add_key"),
    (249, "request_key"),
    (250, "keyctl"),
    (321, "bpf"),
    (323, "userfaultfd"),
    (298, "perf_event_open"),
    (300, "fanotify_init"),
    (165, "mount"),
    (166, "umount2"),
    (155, "pivot_root"),
    (161, "chroot"),
    (272, "unshare"),
    (308, "setns"),
    (428, "open_tree"),
    (429, "move_mount"),
    (430, "fsopen"),
    (431, "fsconfig"),
    (432, "fsmount"),
    (433, "fspick"),
    (442, "mount_setattr"),
    (246, "kexec_load"),
    (320, "kexec_file_load"),
    (175, "init_module"),
    (313, "finit_module"),
    (176, "delete_module"),
    (303, "name_to_handle_at"),
    (304, "open_by_handle_at"),
    (163, "acct"),
    (167, "swapon"),
    (168, "swapoff"),
    (169, "reboot"),
    (103, "syslog"),
    (172, "iopl"),
    (173, "ioperm"),
    (179, "quotactl"),
    (153, "vhangup"),
    (159, "adjtimex"),
    (164, "settimeofday"),
    (227, "clock_settime"),
    (305, "clock_adjtime"),
    (134, "uselib"),
    (447, "memfd_secret"),
];

const SYS_SOCKET: u32 = 41;
const SYS_SOCKETPAIR: u32 = 53;
const SYS_CLONE: u32 = 56;
const SYS_CLONE3: u32 = 435;
const SYS_PERSONALITY: u32 = 135;
const SYS_FLOCK: u32 = 73;
const SYS_FCNTL: u32 = 72;
const SYS_PRCTL: u32 = 157;
const PR_SET_DUMPABLE: u32 = 4;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// `CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME`.
const CLONE_NAMESPACES: u32 = 0x0002_0000
    | 0x0200_0000
    | 0x0400_0000
    | 0x0800_0000
    | 0x1000_0000
    | 0x2000_0000
    | 0x4000_0000
    | 0x80;
/// `ADDR_NO_RANDOMIZE | MMAP_PAGE_ZERO | ADDR_COMPAT_LAYOUT | READ_IMPLIES_EXEC`.
const PERSONALITY_UNSAFE: u32 = 0x004_0000 | 0x010_0000 | 0x020_0000 | 0x040_0000;
/// `AF_UNIX`, `AF_INET`, `AF_INET6`.
const SOCKET_FAMILIES: [u32; 3] = [1, 2, 10];
/// `F_GETLK F_SETLK F_SETLKW` and their open-file-description forms.
const FCNTL_LOCKS: [u32; 6] = [5, 6, 7, 36, 37, 38];

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const ENOSYS: u32 = 38;
const EPERM: u32 = 1;
const EAFNOSUPPORT: u32 = 97;
const ENOLCK: u32 = 37;

// Classic BPF opcodes (`linux/filter.h`).
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

// Offsets in `struct seccomp_data`: nr, arch, then args[6] of 8 bytes each (low half first).
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg_low(i: u32) -> u32 {
    16 + 8 * i
}

/// One instruction; jumps name the index of their target, resolved to offsets at the end.
#[derive(Debug, Clone, Copy)]
enum Insn {
    Load(u32),
    /// `if A == k goto t else goto f`.
    Eq(u32, usize, usize),
    Ge(u32, usize, usize),
    Set(u32, usize, usize),
    Ret(u32),
}

/// Builds the program: a small assembler whose jump targets are absolute indexes.
struct Asm {
    code: Vec<Insn>,
}

impl Asm {
    fn at(&self) -> usize {
        self.code.len()
    }
    fn push(&mut self, i: Insn) -> usize {
        self.code.push(i);
        self.code.len() - 1
    }
}

/// Indexes of the shared return instructions, placed at the end of the program.
#[derive(Default)]
struct Exits {
    allow: usize,
    enosys: usize,
    eperm: usize,
    eafnosupport: usize,
    enolck: usize,
}

/// The filter as the kernel's `struct sock_filter` entries.
pub fn program() -> Vec<kennel_common::sys::BpfInsn> {
    let insns = assemble();
    let mut out = Vec::with_capacity(insns.len());
    for (at, insn) in insns.iter().enumerate() {
        let rel = |target: usize| -> u8 {
            u8::try_from(target - at - 1).expect("a jump of at most 255 instructions")
        };
        let (code, jt, jf, k) = match *insn {
            Insn::Load(off) => (LD_W_ABS, 0, 0, off),
            Insn::Eq(k, t, f) => (JEQ_K, rel(t), rel(f), k),
            Insn::Ge(k, t, f) => (JGE_K, rel(t), rel(f), k),
            Insn::Set(k, t, f) => (JSET_K, rel(t), rel(f), k),
            Insn::Ret(k) => (RET_K, 0, 0, k),
        };
        out.push((code, jt, jf, k));
    }
    out
}

/// The instructions. Layout: the architecture check, then one test of the system-call number
/// per rule (each jumping to its own argument check or to a shared return), the argument
/// checks, and the returns last; every jump goes forward, as classic BPF requires. The length
/// of the code does not depend on the jump targets, so a first pass learns where the checks
/// and the returns land and a second emits the real targets.
fn assemble() -> Vec<Insn> {
    let (_, exits, checks) = emit(&Exits::default(), &[0; 5]);
    let (code, again, same) = emit(&exits, &checks);
    debug_assert_eq!((again.allow, same), (exits.allow, checks));
    code
}

/// One pass: the code, where the exits landed, and where the argument checks start
/// (socket, clone, personality, fcntl, prctl).
fn emit(x: &Exits, c: &[usize; 5]) -> (Vec<Insn>, Exits, [usize; 5]) {
    let mut a = Asm { code: Vec::new() };
    // Architecture: only x86-64's own numbers are judged; anything else is refused.
    a.push(Insn::Load(OFF_ARCH));
    let next = a.at() + 1;
    a.push(Insn::Eq(AUDIT_ARCH_X86_64, next, x.enosys));
    a.push(Insn::Load(OFF_NR));
    let next = a.at() + 1;
    a.push(Insn::Ge(X32_SYSCALL_BIT, x.enosys, next));
    let rule = |a: &mut Asm, nr: u32, hit: usize| {
        let next = a.at() + 1;
        a.push(Insn::Eq(nr, hit, next));
    };
    rule(&mut a, SYS_CLONE3, x.enosys);
    for &(nr, _) in DENIED {
        rule(&mut a, nr, x.eperm);
    }
    rule(&mut a, SYS_FLOCK, x.enolck);
    rule(&mut a, SYS_SOCKET, c[0]);
    rule(&mut a, SYS_SOCKETPAIR, c[0]);
    rule(&mut a, SYS_CLONE, c[1]);
    rule(&mut a, SYS_PERSONALITY, c[2]);
    rule(&mut a, SYS_FCNTL, c[3]);
    rule(&mut a, SYS_PRCTL, c[4]);
    a.push(Insn::Ret(RET_ALLOW));
    // socket(domain, …): only the three families.
    let socket = a.push(Insn::Load(off_arg_low(0)));
    for (i, fam) in SOCKET_FAMILIES.iter().enumerate() {
        let miss = if i + 1 == SOCKET_FAMILIES.len() {
            x.eafnosupport
        } else {
            a.at() + 1
        };
        a.push(Insn::Eq(*fam, x.allow, miss));
    }
    // clone(flags, …): no namespace flag.
    let clone = a.push(Insn::Load(off_arg_low(0)));
    a.push(Insn::Set(CLONE_NAMESPACES, x.eperm, x.allow));
    // personality(persona): the query (0xffffffff) or nothing unsafe.
    let personality = a.push(Insn::Load(off_arg_low(0)));
    let next = a.at() + 1;
    a.push(Insn::Eq(0xffff_ffff, x.allow, next));
    a.push(Insn::Set(PERSONALITY_UNSAFE, x.eperm, x.allow));
    // fcntl(fd, cmd, …): no record locks.
    let fcntl = a.push(Insn::Load(off_arg_low(1)));
    for cmd in FCNTL_LOCKS {
        let next = a.at() + 1;
        a.push(Insn::Eq(cmd, x.enolck, next));
    }
    a.push(Insn::Ret(RET_ALLOW));
    // prctl(option, …): not PR_SET_DUMPABLE.
    let prctl = a.push(Insn::Load(off_arg_low(0)));
    let next = a.at() + 1;
    a.push(Insn::Eq(PR_SET_DUMPABLE, x.eperm, next));
    let allow = a.push(Insn::Ret(RET_ALLOW));
    let exits = Exits {
        allow,
        enosys: a.push(Insn::Ret(RET_ERRNO | ENOSYS)),
        eperm: a.push(Insn::Ret(RET_ERRNO | EPERM)),
        eafnosupport: a.push(Insn::Ret(RET_ERRNO | EAFNOSUPPORT)),
        enolck: a.push(Insn::Ret(RET_ERRNO | ENOLCK)),
    };
    (a.code, exits, [socket, clone, personality, fcntl, prctl])
}

/// The names of what the filter refuses, for the docs and the startup log.
pub fn denied_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = DENIED.iter().map(|(_, n)| *n).collect();
    v.extend([
        "clone3",
        "flock and record locks",
        "socket families but unix/inet/inet6",
        "clone with namespaces",
        "unsafe personality",
        "PR_SET_DUMPABLE",
    ]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter of the subset we emit: the filter's decisions checked without a kernel.
    fn decide(nr: u32, arch: u32, args: [u32; 6]) -> u32 {
        let insns = assemble();
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            match insns[pc] {
                Insn::Load(off) => {
                    acc = match off {
                        OFF_NR => nr,
                        OFF_ARCH => arch,
                        o => args[((o - 16) / 8) as usize],
                    };
                    pc += 1;
                }
                Insn::Eq(k, t, f) => pc = if acc == k { t } else { f },
                Insn::Ge(k, t, f) => pc = if acc >= k { t } else { f },
                Insn::Set(k, t, f) => pc = if acc & k != 0 { t } else { f },
                Insn::Ret(k) => return k,
            }
        }
    }

    fn x86(nr: u32, args: [u32; 6]) -> u32 {
        decide(nr, AUDIT_ARCH_X86_64, args)
    }

    #[test]
    fn every_rule_decides_as_documented() {
        let z = [0; 6];
        assert_eq!(x86(0, z), RET_ALLOW, "read");
        assert_eq!(x86(425, z), RET_ERRNO | EPERM, "io_uring_setup");
        assert_eq!(x86(250, z), RET_ERRNO | EPERM, "keyctl");
        assert_eq!(x86(101, z), RET_ERRNO | EPERM, "ptrace");
        assert_eq!(x86(SYS_CLONE3, z), RET_ERRNO | ENOSYS);
        assert_eq!(x86(SYS_FLOCK, z), RET_ERRNO | ENOLCK);
        assert_eq!(x86(SYS_SOCKET, [1, 1, 0, 0, 0, 0]), RET_ALLOW, "AF_UNIX");
        assert_eq!(x86(SYS_SOCKET, [10, 1, 0, 0, 0, 0]), RET_ALLOW, "AF_INET6");
        assert_eq!(
            x86(SYS_SOCKET, [40, 1, 0, 0, 0, 0]),
            RET_ERRNO | EAFNOSUPPORT,
            "AF_VSOCK"
        );
        assert_eq!(
            x86(SYS_SOCKET, [16, 3, 0, 0, 0, 0]),
            RET_ERRNO | EAFNOSUPPORT,
            "netlink"
        );
        assert_eq!(
            x86(SYS_SOCKETPAIR, [40, 1, 0, 0, 0, 0]),
            RET_ERRNO | EAFNOSUPPORT
        );
        assert_eq!(
            x86(SYS_CLONE, [0x11 | 0x0100_0000, 0, 0, 0, 0, 0]),
            RET_ALLOW,
            "fork"
        );
        assert_eq!(
            x86(SYS_CLONE, [0x1000_0000, 0, 0, 0, 0, 0]),
            RET_ERRNO | EPERM,
            "NEWUSER"
        );
        assert_eq!(
            x86(SYS_PERSONALITY, [0xffff_ffff, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(x86(SYS_PERSONALITY, [0, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(
            x86(SYS_PERSONALITY, [0x004_0000, 0, 0, 0, 0, 0]),
            RET_ERRNO | EPERM
        );
        assert_eq!(
            x86(SYS_FCNTL, [3, 6, 0, 0, 0, 0]),
            RET_ERRNO | ENOLCK,
            "F_SETLK"
        );
        assert_eq!(x86(SYS_FCNTL, [3, 1, 0, 0, 0, 0]), RET_ALLOW, "F_GETFD");
        assert_eq!(
            x86(SYS_PRCTL, [4, 0, 0, 0, 0, 0]),
            RET_ERRNO | EPERM,
            "SET_DUMPABLE"
        );
        assert_eq!(
            x86(SYS_PRCTL, [15, 0, 0, 0, 0, 0]),
            RET_ALLOW,
            "PR_SET_NAME"
        );
        assert_eq!(x86(X32_SYSCALL_BIT | 425, z), RET_ERRNO | ENOSYS, "x32");
        assert_eq!(decide(0, 0x4000_0003, z), RET_ERRNO | ENOSYS, "i386");
    }

    #[test]
    fn the_program_is_whole_instructions_and_fits_the_kernel() {
        let p = program();
        assert!(p.len() < 4096, "BPF_MAXINSNS");
        assert_eq!(p.last().map(|i| i.0), Some(RET_K), "ends on a return");
    }
}
