//! The shared-memory segment: creation (watchdog), validated attachment (everyone else), the
//! semaphore guard, seqlock reads and removal.
//!
//! Why POSIX `shm_open` + `mmap` through `nix` rather than the `shared_memory` crate: we need to
//! `fstat` the object to refuse one that is not ours (owner, mode, size) before mapping it, and to
//! map it read-only for `kennelctl`; `shared_memory` exposes neither and pins nix 0.23.
//!
//! Why a System V semaphore with `SEM_UNDO` rather than a `raw_sync` mutex: a process-shared
//! pthread mutex stays locked forever when its holder is SIGKILLed; the kernel gives a
//! `SEM_UNDO` unit back at once. The data a dead holder was writing is caught by the seqlock
//! word and repaired (see `slots`).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::{fstat, Mode};

use crate::error::{Error, Result};
use crate::layout::*;
use crate::runtime::RuntimeDir;
use crate::sys::{self, Mapping};

/// How a process attaches: read-write to take part, read-only to observe (`kennelctl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
}

/// Which record: the dispatcher's or a worker slot's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordId {
    Dispatcher,
    Worker(usize),
}

impl RecordId {
    /// Position of the record after the header.
    pub fn index(self) -> usize {
        match self {
            RecordId::Dispatcher => 0,
            RecordId::Worker(k) => k + 1,
        }
    }

    pub fn role(self) -> Role {
        match self {
            RecordId::Dispatcher => Role::Dispatcher,
            RecordId::Worker(_) => Role::Worker,
        }
    }
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordId::Dispatcher => write!(f, "dispatcher"),
            RecordId::Worker(k) => write!(f, "worker {k}"),
        }
    }
}

/// An attached segment.
pub struct Segment {
    map: Mapping,
    semid: i32,
    workers: usize,
    name: String,
}

/// How long a process waits for the guard before giving up on one operation. Holders keep it
/// for microseconds; only a frozen (SIGSTOPped) holder makes anyone wait this long, and the
/// watchdog kills such a holder for its silent heartbeat.
pub const GUARD_TIMEOUT: Duration = Duration::from_secs(2);

impl Segment {
    /// Creates the segment and its semaphore for `workers` slots (watchdog only), and records
    /// its random name in the runtime directory. Everything is created exclusively, 0600.
    pub fn create(rt: &RuntimeDir, workers: usize, dispatcher_port: u16) -> Result<Segment> {
        if workers == 0 || workers > MAX_WORKERS {
            return Err(Error::Invalid(format!(
                "{workers} workers: between 1 and {MAX_WORKERS} are supported"
            )));
        }
        let name = crate::runtime::new_shm_name()?;
        let size = segment_size(workers);
        let fd = shm_open(
            name.as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .map_err(|e| Error::nix(format!("creating shared memory {name}"), e))?;
        let result = Self::init(rt, &name, fd, size, workers, dispatcher_port);
        if result.is_err() {
            let _ = shm_unlink(name.as_str());
        }
        result
    }

    fn init(
        rt: &RuntimeDir,
        name: &str,
        fd: OwnedFd,
        size: usize,
        workers: usize,
        dispatcher_port: u16,
    ) -> Result<Segment> {
        nix::unistd::ftruncate(&fd, size as i64)
            .map_err(|e| Error::nix(format!("sizing shared memory {name}"), e))?;
        let map = Mapping::new(&fd, size, true)
            .map_err(|e| Error::io(format!("mapping shared memory {name}"), e))?;
        let semid = sys::sem_create().map_err(|e| Error::io("creating the semaphore", e))?;
        let seg = Segment {
            map,
            semid,
            workers,
            name: name.to_string(),
        };
        let h = seg.header();
        h.layout_version.store(LAYOUT_VERSION, SeqCst);
        h.header_size.store(HEADER_SIZE as u32, SeqCst);
        h.record_size.store(RECORD_SIZE as u32, SeqCst);
        h.worker_slots.store(workers as u32, SeqCst);
        h.total_size.store(size as u64, SeqCst);
        h.semid.store(semid as u32, SeqCst);
        h.watchdog_pid.store(std::process::id(), SeqCst);
        h.created_unix_ms.store(crate::clock::unix_ms(), SeqCst);
        h.watchdog_heartbeat_ms
            .store(crate::clock::monotonic_ms(), SeqCst);
        h.dispatcher_port.store(u32::from(dispatcher_port), SeqCst);
        for id in seg.ids() {
            seg.record(id).role.store(id.role() as u32, SeqCst);
        }
        // The magic goes last: a segment cut off while being initialised is never accepted.
        h.magic.store(MAGIC, SeqCst);
        if let Err(e) = rt.write_segment_name(name) {
            let _ = sys::sem_remove(semid);
            return Err(e);
        }
        Ok(seg)
    }

    /// Attaches to the instance's segment, validating everything before use: the object's
    /// owner, mode and size; the header's magic, version, sizes and slot count; the semaphore's
    /// owner and mode; each record's role.
    pub fn attach(rt: &RuntimeDir, access: Access) -> Result<Segment> {
        rt.check()?;
        let name = rt.read_segment_name()?;
        let (map, workers) = open_object(&name, access)?;
        let semid = map
            .get::<Header>(0)
            .map(|h| h.semid.load(SeqCst) as i32)
            .unwrap_or(-1);
        check_semaphore(semid)?;
        let seg = Segment {
            map,
            semid,
            workers,
            name,
        };
        for id in seg.ids() {
            let role = seg.record(id).role.load(SeqCst);
            if role != id.role() as u32 {
                return Err(Error::Corrupt(format!(
                    "{id}'s record has role code {role}, expected {}",
                    id.role() as u32
                )));
            }
        }
        Ok(seg)
    }

    /// Removes the instance's segment and semaphore, if any, and the name file. Used at start
    /// to clear what a killed watchdog left behind (the caller holds the instance lock, so
    /// whatever is found is stale). An object that is not ours, or not recognisably a Kennel
    /// segment, is refused and left untouched, with an error naming it.
    pub fn remove(rt: &RuntimeDir) -> Result<bool> {
        let name = match rt.read_segment_name() {
            Ok(n) => n,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e),
        };
        match open_object(&name, Access::ReadOnly) {
            Ok((map, _)) => {
                let semid = map
                    .get::<Header>(0)
                    .map(|h| h.semid.load(SeqCst) as i32)
                    .unwrap_or(-1);
                match check_semaphore(semid) {
                    Ok(()) => {
                        if let Err(e) = sys::sem_remove(semid) {
                            log::warn!("removing semaphore {semid}: {e}");
                        }
                    }
                    // Already gone (removed by hand, or a reboot): nothing to do.
                    Err(Error::Corrupt(_)) => {}
                    // Someone else's: never touched.
                    Err(e) => log::warn!("leaving semaphore {semid} alone: {e}"),
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(Error::Foreign(format!(
                    "{e}; it was named by {} as ours. Refusing to remove or reuse it: \
                     inspect it, then remove it by hand (rm /dev/shm{name}; rm {})",
                    rt.segment_name_path().display(),
                    rt.segment_name_path().display()
                )))
            }
        }
        match shm_unlink(name.as_str()) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(Error::nix(format!("removing shared memory {name}"), e)),
        }
        rt.remove_own_file(&rt.segment_name_path(), false)?;
        Ok(true)
    }

    /// Removes this segment's semaphore, shared-memory object and name file (watchdog, at stop).
    /// Processes still attached keep their mapping until they exit; nothing new can attach.
    pub fn destroy(self, rt: &RuntimeDir) -> Result<()> {
        let mut first_error = None;
        if let Err(e) = sys::sem_remove(self.semid) {
            first_error.get_or_insert(Error::io(format!("removing semaphore {}", self.semid), e));
        }
        match shm_unlink(self.name.as_str()) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => {
                first_error.get_or_insert(Error::nix(format!("removing {}", self.name), e));
            }
        }
        if let Err(e) = rt.remove_own_file(&rt.segment_name_path(), false) {
            first_error.get_or_insert(e);
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// Watchdog only: rewrites every header field and record role that differs from what this
    /// segment was created with (someone with our uid scribbled on it), so that attaching
    /// keeps working. Returns a description of each field restored.
    pub fn restore_header_as_owner(&self) -> Vec<String> {
        let h = self.header();
        let mut fixed = Vec::new();
        let mut fix32 = |name: &str, cell: &AtomicU32, want: u32| {
            let got = cell.load(SeqCst);
            if got != want {
                fixed.push(format!("{name} {got} -> {want}"));
                cell.store(want, SeqCst);
            }
        };
        fix32("layout version", &h.layout_version, LAYOUT_VERSION);
        fix32("header size", &h.header_size, HEADER_SIZE as u32);
        fix32("record size", &h.record_size, RECORD_SIZE as u32);
        fix32("worker slots", &h.worker_slots, self.workers as u32);
        fix32("semaphore id", &h.semid, self.semid as u32);
        fix32("watchdog pid", &h.watchdog_pid, std::process::id());
        for id in self.ids() {
            fix32(
                &format!("{id} role"),
                &self.record(id).role,
                id.role() as u32,
            );
        }
        let size = segment_size(self.workers) as u64;
        if h.total_size.load(SeqCst) != size {
            fixed.push(format!("total size -> {size}"));
            h.total_size.store(size, SeqCst);
        }
        if h.magic.load(SeqCst) != MAGIC {
            fixed.push("magic".into());
            h.magic.store(MAGIC, SeqCst);
        }
        fixed
    }

    /// The POSIX name of the segment (under /dev/shm).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn semid(&self) -> i32 {
        self.semid
    }

    /// Number of worker slots.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Every record id: the dispatcher, then each worker slot.
    pub fn ids(&self) -> impl Iterator<Item = RecordId> {
        std::iter::once(RecordId::Dispatcher).chain((0..self.workers).map(RecordId::Worker))
    }

    pub fn header(&self) -> &Header {
        self.map
            .get::<Header>(0)
            .expect("segment size validated at attach")
    }

    /// The record for `id`. Panics only on a programming error (an id out of range that did
    /// not come from `ids()` or a validated slot number).
    pub fn record(&self, id: RecordId) -> &Record {
        if let RecordId::Worker(k) = id {
            assert!(k < self.workers, "worker slot {k} out of range");
        }
        self.map
            .get::<Record>(HEADER_SIZE + id.index() * RECORD_SIZE)
            .expect("segment size validated at attach")
    }

    /// Checks a slot number that came from outside (a FIFO notice, a command line).
    pub fn worker_id(&self, slot: u64) -> Option<RecordId> {
        usize::try_from(slot)
            .ok()
            .filter(|k| *k < self.workers)
            .map(RecordId::Worker)
    }

    /// Takes the guard, waiting at most `timeout`.
    pub fn lock(&self, timeout: Duration) -> Result<Guard<'_>> {
        match sys::sem_lock(self.semid, timeout) {
            Ok(true) => Ok(Guard { seg: self }),
            Ok(false) => Err(Error::Timeout(format!(
                "the segment guard was not free within {} ms",
                timeout.as_millis()
            ))),
            Err(e) => Err(Error::io("taking the segment guard", e)),
        }
    }

    /// Current value of the guard semaphore (1 = free).
    pub fn guard_value(&self) -> Result<i32> {
        sys::sem_value(self.semid).map_err(|e| Error::io("reading the segment guard", e))
    }

    /// Counts one request's dispatch time in the header's histogram (one word, no guard).
    pub fn record_dispatch_time(&self, took: std::time::Duration) {
        let k = (took.as_micros() as usize).min(DISPATCH_BUCKETS - 1);
        self.header().dispatch_hist[k].fetch_add(1, SeqCst);
    }

    /// A copy of the dispatch-time histogram.
    pub fn dispatch_histogram(&self) -> [u64; DISPATCH_BUCKETS] {
        let mut out = [0u64; DISPATCH_BUCKETS];
        for (o, cell) in out.iter_mut().zip(self.header().dispatch_hist.iter()) {
            *o = cell.load(SeqCst);
        }
        out
    }

    /// Stamps `id`'s heartbeat: one word, no guard needed.
    pub fn heartbeat(&self, id: RecordId) {
        self.record(id)
            .heartbeat_ms
            .store(crate::clock::monotonic_ms(), SeqCst);
    }

    /// A consistent copy of one record, read without the guard (seqlock). If a writer is in
    /// the middle of an update we retry a few times; a record left odd for good (its writer
    /// died) is returned with `torn = true`.
    pub fn read(&self, id: RecordId) -> RecordView {
        let r = self.record(id);
        for _ in 0..1000 {
            let s1 = r.seq.load(SeqCst);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let view = RecordView::load(id, r);
            if r.seq.load(SeqCst) == s1 {
                return view;
            }
        }
        let mut view = RecordView::load(id, r);
        view.torn = r.seq.load(SeqCst) % 2 == 1;
        view
    }

    /// A copy of the whole segment, record by record.
    pub fn snapshot(&self) -> Snapshot {
        let h = self.header();
        Snapshot {
            watchdog_pid: h.watchdog_pid.load(SeqCst),
            watchdog_heartbeat_ms: h.watchdog_heartbeat_ms.load(SeqCst),
            created_unix_ms: h.created_unix_ms.load(SeqCst),
            stopping: h.stopping.load(SeqCst) != 0,
            now_ms: crate::clock::monotonic_ms(),
            records: self.ids().map(|id| self.read(id)).collect(),
        }
    }
}

/// Opens and maps a shared-memory object after checking it is ours (owner, mode) and of a
/// plausible size, then validates its header. Returns the mapping and the slot count.
fn open_object(name: &str, access: Access) -> Result<(Mapping, usize)> {
    let flags = match access {
        Access::ReadWrite => OFlag::O_RDWR,
        Access::ReadOnly => OFlag::O_RDONLY,
    } | OFlag::O_CLOEXEC;
    let fd = shm_open(name, flags, Mode::empty())
        .map_err(|e| Error::nix(format!("opening shared memory {name}"), e))?;
    let st = fstat(&fd).map_err(|e| Error::nix(format!("inspecting {name}"), e))?;
    if st.st_uid != nix::unistd::getuid().as_raw() || st.st_mode & 0o077 != 0 {
        return Err(Error::Foreign(format!(
            "shared memory {name} belongs to uid {} with mode {:o}; expected ours, 0600",
            st.st_uid,
            st.st_mode & 0o777
        )));
    }
    let size = usize::try_from(st.st_size).unwrap_or(0);
    if size < HEADER_SIZE || size > segment_size(MAX_WORKERS) {
        return Err(Error::Corrupt(format!(
            "shared memory {name} is {size} bytes, not a Kennel segment"
        )));
    }
    let map = Mapping::new(&fd, size, access == Access::ReadWrite)
        .map_err(|e| Error::io(format!("mapping shared memory {name}"), e))?;
    let workers = validate_header(&map, name)?;
    Ok((map, workers))
}

fn validate_header(map: &Mapping, name: &str) -> Result<usize> {
    let h = map
        .get::<Header>(0)
        .ok_or_else(|| Error::Corrupt(format!("{name}: too small for a header")))?;
    let bad = |what: String| Err(Error::Corrupt(format!("shared memory {name}: {what}")));
    if h.magic.load(SeqCst) != MAGIC {
        return bad("wrong magic (not a Kennel segment, or not initialised)".into());
    }
    let version = h.layout_version.load(SeqCst);
    if version != LAYOUT_VERSION {
        return bad(format!(
            "layout version {version}, this build reads {LAYOUT_VERSION}"
        ));
    }
    if h.header_size.load(SeqCst) as usize != HEADER_SIZE
        || h.record_size.load(SeqCst) as usize != RECORD_SIZE
    {
        return bad("header or record size differs from this build's".into());
    }
    let workers = h.worker_slots.load(SeqCst) as usize;
    if workers == 0 || workers > MAX_WORKERS {
        return bad(format!(
            "{workers} worker slots (1..={MAX_WORKERS} allowed)"
        ));
    }
    let expected = segment_size(workers);
    if h.total_size.load(SeqCst) != expected as u64 || map.len() != expected {
        return bad(format!(
            "size {} for {workers} slots, expected {expected}",
            map.len()
        ));
    }
    Ok(workers)
}

fn check_semaphore(semid: i32) -> Result<()> {
    let info = sys::sem_stat(semid)
        .map_err(|e| Error::Corrupt(format!("the segment names semaphore {semid}: {e}")))?;
    let uid = nix::unistd::getuid().as_raw();
    if info.uid != uid || info.mode != 0o600 || info.nsems != 1 {
        return Err(Error::Foreign(format!(
            "semaphore {semid} is uid {} mode {:o} with {} semaphores; expected ours, 0600, 1",
            info.uid, info.mode, info.nsems
        )));
    }
    Ok(())
}

/// The guard: holding it gives the right to make multi-field updates. Released on drop (and by
/// the kernel if the holder dies).
pub struct Guard<'a> {
    seg: &'a Segment,
}

impl Guard<'_> {
    pub fn segment(&self) -> &Segment {
        self.seg
    }

    /// True if `id`'s record was left half-written by a writer that died.
    pub fn is_torn(&self, id: RecordId) -> bool {
        self.seg.record(id).seq.load(SeqCst) % 2 == 1
    }

    /// Runs `f` as one seqlock write on `id`'s record: `seq` is odd while `f` runs, even after.
    pub fn write<R>(&self, id: RecordId, f: impl FnOnce(&Record) -> R) -> R {
        let r = self.seg.record(id);
        let base = r.seq.load(SeqCst) | 1;
        r.seq.store(base, SeqCst);
        let out = f(r);
        r.seq.store(base.wrapping_add(1), SeqCst);
        out
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Err(e) = sys::sem_unlock(self.seg.semid) {
            log::error!("releasing the segment guard: {e}");
        }
    }
}

/// Stores an endpoint (IPv4 as IPv4-mapped IPv6).
pub fn store_endpoint(cell: &EndpointCell, addr: Option<SocketAddr>) {
    let (ip, port) = match addr {
        Some(a) => {
            let v6 = match a.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            (v6.octets(), a.port())
        }
        None => ([0; 16], 0),
    };
    for (i, word) in cell.ip.iter().enumerate() {
        let b = [ip[4 * i], ip[4 * i + 1], ip[4 * i + 2], ip[4 * i + 3]];
        word.store(u32::from_be_bytes(b), SeqCst);
    }
    cell.port.store(u32::from(port), SeqCst);
}

/// Loads an endpoint; `None` if no port is set or the port is out of range.
pub fn load_endpoint(cell: &EndpointCell) -> Option<SocketAddr> {
    let port = u16::try_from(cell.port.load(SeqCst))
        .ok()
        .filter(|p| *p != 0)?;
    let mut bytes = [0u8; 16];
    for (i, word) in cell.ip.iter().enumerate() {
        bytes[4 * i..4 * i + 4].copy_from_slice(&word.load(SeqCst).to_be_bytes());
    }
    let v6 = Ipv6Addr::from(bytes);
    let ip = match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    };
    Some(SocketAddr::new(ip, port))
}

/// A plain copy of a record. Codes are kept raw and decoded by the accessors, so that a
/// corrupted value is reported rather than trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    pub id: RecordId,
    pub seq: u32,
    pub role: u32,
    pub state: u32,
    pub supervision: u32,
    pub pid: u32,
    pub restarts: u32,
    pub last_exit: u32,
    pub fatal_reason: u32,
    pub endpoint: Option<SocketAddr>,
    pub client: Option<SocketAddr>,
    pub request_type: u32,
    pub ping: u64,
    pub pong: u64,
    pub assigned_ms: u64,
    pub heartbeat_ms: u64,
    pub started_ms: u64,
    pub served: u64,
    pub failed: u64,
    pub busy: u64,
    pub dispatch_ns: u64,
    pub waiting: u64,
    pub token: u64,
    pub connections: u64,
    /// The record was left half-written (odd `seq`).
    pub torn: bool,
}

fn load(a: &AtomicU32) -> u32 {
    a.load(SeqCst)
}

impl RecordView {
    fn load(id: RecordId, r: &Record) -> RecordView {
        RecordView {
            id,
            seq: load(&r.seq),
            role: load(&r.role),
            state: load(&r.state),
            supervision: load(&r.supervision),
            pid: load(&r.pid),
            restarts: load(&r.restarts),
            last_exit: load(&r.last_exit),
            fatal_reason: load(&r.fatal_reason),
            endpoint: load_endpoint(&r.endpoint),
            client: load_endpoint(&r.client),
            request_type: load(&r.request_type),
            ping: r.ping.load(SeqCst),
            pong: r.pong.load(SeqCst),
            assigned_ms: r.assigned_ms.load(SeqCst),
            heartbeat_ms: r.heartbeat_ms.load(SeqCst),
            started_ms: r.started_ms.load(SeqCst),
            served: r.served.load(SeqCst),
            failed: r.failed.load(SeqCst),
            busy: r.busy.load(SeqCst),
            dispatch_ns: r.dispatch_ns.load(SeqCst),
            waiting: r.waiting.load(SeqCst),
            token: r.token.load(SeqCst),
            connections: r.connections.load(SeqCst),
            torn: false,
        }
    }

    pub fn state(&self) -> Option<ProcState> {
        ProcState::from_code(self.state)
    }

    pub fn supervision(&self) -> Option<Supervision> {
        Supervision::from_code(self.supervision)
    }

    pub fn last_exit(&self) -> Option<ExitCode> {
        ExitCode::decode(self.last_exit)
    }

    pub fn fatal_reason(&self) -> Option<FatalReason> {
        FatalReason::from_code(self.fatal_reason)
    }

    /// The pid if it is plausible (1 < pid ≤ the kernel's maximum), else `None`.
    pub fn pid(&self) -> Option<u32> {
        Some(self.pid).filter(|p| *p > 1 && *p <= 4_194_304)
    }

    /// One word for people: the process state, or the supervision state when it says more.
    pub fn display_state(&self) -> String {
        if self.torn {
            return "torn".into();
        }
        match (self.supervision(), self.state()) {
            (Some(Supervision::Fatal), _) => "fatal".into(),
            (Some(Supervision::Backoff), _) => "backoff".into(),
            (_, Some(s)) => s.name().into(),
            (_, None) => format!("invalid({})", self.state),
        }
    }
}

/// A copy of the whole segment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub watchdog_pid: u32,
    pub watchdog_heartbeat_ms: u64,
    pub created_unix_ms: u64,
    pub stopping: bool,
    /// Monotonic ms when the snapshot was taken (to compute heartbeat ages).
    pub now_ms: u64,
    /// The dispatcher's record first, then each worker slot.
    pub records: Vec<RecordView>,
}

impl Snapshot {
    pub fn dispatcher(&self) -> &RecordView {
        &self.records[0]
    }

    pub fn workers(&self) -> &[RecordView] {
        &self.records[1..]
    }

    /// Milliseconds since `stamp`, saturating (a corrupted future stamp reads as 0).
    pub fn age_ms(&self, stamp: u64) -> u64 {
        self.now_ms.saturating_sub(stamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_round_trip_v4_and_v6() {
        let cell = EndpointCell {
            ip: Default::default(),
            port: AtomicU32::new(0),
            reserved: AtomicU32::new(0),
        };
        assert_eq!(load_endpoint(&cell), None);
        for a in ["127.0.0.1:2223", "[::1]:4000", "10.1.2.3:65535"] {
            let addr: SocketAddr = a.parse().unwrap();
            store_endpoint(&cell, Some(addr));
            assert_eq!(load_endpoint(&cell), Some(addr));
        }
        cell.port.store(70_000, SeqCst);
        assert_eq!(load_endpoint(&cell), None, "out-of-range port is rejected");
    }
}
