//! The dispatcher and a worker driven in-process (mini-redis style): each test creates an
//! instance's objects itself (`kennel_watchdog::instance::Instance`), binds port 0, runs the
//! real `run(listener, state, shutdown)` on a thread and stops it with a `Trigger`. No
//! watchdog, no child processes: the main loops and the dispatcher's queue, on their own.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use kennel_common::child::ChildContext;
use kennel_common::layout::{FatalReason, ProcState, Supervision};
use kennel_common::notice::{Notice, NoticeKind};
use kennel_common::runtime::{FifoName, RuntimeDir};
use kennel_common::segment::{Access, RecordId, Segment, GUARD_TIMEOUT};
use kennel_common::shutdown::{Shutdown, Trigger};
use kennel_tests::{fresh_dir, wait_for};
use kennel_watchdog::instance::Instance;

const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn instance(tag: &str, workers: usize) -> Instance {
    Instance::create(RuntimeDir::resolve(Some(&fresh_dir(tag))), workers, 0).expect("instance")
}

/// A loop running on a thread until its trigger fires; joined (and checked) on `stop`.
struct Running {
    trigger: Trigger,
    thread: JoinHandle<kennel_common::Result<()>>,
    addr: SocketAddr,
}

impl Running {
    fn stop(self) {
        self.trigger.fire();
        let result = self.thread.join().expect("the loop panicked");
        assert!(result.is_ok(), "the loop ended with {result:?}");
    }
}

fn start_worker(inst: &Instance, slot: usize) -> Running {
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = ChildContext::attach(inst.runtime.clone(), RecordId::Worker(slot)).unwrap();
    let settings = kennel_worker::settings::Settings {
        runtime: inst.runtime.clone(),
        slot,
        bind: LOOPBACK,
        port: 0,
        listen_fd: None,
        client_timeout: Duration::from_secs(5),
        max_payload: 1 << 20,
        max_tasks: 1,
        runner: Default::default(),
        require_token: false,
    };
    let worker = kennel_worker::Worker::open(ctx, settings).unwrap();
    let (shutdown, trigger) = Shutdown::manual().unwrap();
    let thread = std::thread::spawn(move || kennel_worker::run(listener, &worker, &shutdown));
    Running {
        trigger,
        thread,
        addr,
    }
}

fn start_dispatcher(inst: &Instance, queue_timeout: Duration) -> Running {
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = ChildContext::attach(inst.runtime.clone(), RecordId::Dispatcher).unwrap();
    let settings = kennel_dispatcher::settings::Settings {
        runtime: inst.runtime.clone(),
        bind: LOOPBACK,
        port: 0,
        listen_fd: None,
        queue_timeout,
        idle_timeout: Duration::from_secs(30),
        max_connections: 64,
        max_per_source: 64,
        max_reservations: 2,
        type_aliases: Vec::new(),
        require_token: false,
        advertise: None,
        advertise_lines: false,
        proxy_protocol: false,
    };
    let d = Arc::new(kennel_dispatcher::Dispatcher::open(ctx, settings).unwrap());
    let (shutdown, trigger) = Shutdown::manual().unwrap();
    let thread = std::thread::spawn(move || kennel_dispatcher::run(listener, d, &shutdown));
    Running {
        trigger,
        thread,
        addr,
    }
}

/// The watchdog's part in a start: the slot is supervised and running.
fn supervise(inst: &Instance, id: RecordId) {
    let g = inst.segment.lock(GUARD_TIMEOUT).unwrap();
    g.set_supervision(id, Supervision::Running, FatalReason::None);
}

fn state(inst: &Instance, id: RecordId) -> Option<ProcState> {
    inst.segment.read(id).state()
}

fn line(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        out.push(b[0]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_worker_run_in_process_serves_its_assigned_client_and_stops_on_its_trigger() {
    let inst = instance("inproc-worker", 1);
    let w0 = RecordId::Worker(0);
    let worker = start_worker(&inst, 0);
    wait_for("the worker idle", Duration::from_secs(5), || {
        state(&inst, w0) == Some(ProcState::Idle)
    });
    assert_eq!(inst.segment.read(w0).endpoint, Some(worker.addr));
    supervise(&inst, w0);
    // Play the dispatcher: claim the slot for our address, then connect.
    let now = kennel_common::clock::monotonic_ms();
    let client = SocketAddr::new(LOOPBACK, 1);
    let g = inst.segment.lock(GUARD_TIMEOUT).unwrap();
    let claim = g
        .claim_idle_worker(
            0,
            client,
            kennel_common::protocol::RequestKind::ECHO,
            now,
            0,
        )
        .expect("claim");
    drop(g);
    let mut s = TcpStream::connect(worker.addr).unwrap();
    s.write_all(b"bonjour").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"bonjour");
    wait_for("the slot given back", Duration::from_secs(5), || {
        inst.segment.read(w0).pong == claim.ping
    });
    worker.stop();
    assert_eq!(state(&inst, w0), Some(ProcState::Stopping));
    inst.destroy().unwrap();
}

#[test]
fn the_dispatcher_queues_a_request_until_a_worker_frees_and_answers_it_first_come_first_served() {
    let inst = instance("inproc-queue", 1);
    let w0 = RecordId::Worker(0);
    // The worker's slot is published by hand (no worker loop): it will never serve, so the
    // slot frees only when this test says so.
    {
        let g = inst.segment.lock(GUARD_TIMEOUT).unwrap();
        g.publish_ready(w0, SocketAddr::new(LOOPBACK, 2999));
        g.set_supervision(w0, Supervision::Running, FatalReason::None);
    }
    // Keep the slot's heartbeat fresh, as a live worker does every tick, until the test ends.
    let done = Arc::new(AtomicBool::new(false));
    let beat = std::thread::spawn({
        let (rt, done) = (inst.runtime.clone(), Arc::clone(&done));
        move || {
            let seg = Segment::attach(&rt, Access::ReadWrite).unwrap();
            while !done.load(SeqCst) {
                seg.heartbeat(RecordId::Worker(0));
                std::thread::sleep(kennel_common::child::TICK);
            }
        }
    });
    let dispatcher = start_dispatcher(&inst, Duration::from_secs(10));
    let mut first = TcpStream::connect(dispatcher.addr).unwrap();
    first.write_all(b"requetetype1\n").unwrap();
    assert_eq!(line(&mut first), "2999");
    let ping = inst.segment.read(w0).ping;
    // Two more clients, in order: both must wait for the one slot.
    let mut second = TcpStream::connect(dispatcher.addr).unwrap();
    second.write_all(b"requetetype2\n").unwrap();
    wait_for("the second request queued", Duration::from_secs(5), || {
        inst.segment.read(RecordId::Dispatcher).waiting == 1
    });
    let mut third = TcpStream::connect(dispatcher.addr).unwrap();
    third.write_all(b"echo\n").unwrap();
    wait_for("the third request queued", Duration::from_secs(5), || {
        inst.segment.read(RecordId::Dispatcher).waiting == 2
    });
    // The worker's part: finish, and tell the dispatcher (a request is waiting).
    let free = |ping: u64| {
        let g = inst.segment.lock(GUARD_TIMEOUT).unwrap();
        assert!(g.expire_assignment(w0, ping));
        drop(g);
        let pongs =
            kennel_common::notice::Fifo::open(&inst.runtime.fifo_path(FifoName::Dispatcher))
                .unwrap();
        pongs
            .send(&Notice {
                kind: NoticeKind::Pong,
                slot: 0,
                pid: std::process::id(),
                marker: ping as u32,
            })
            .unwrap();
    };
    free(ping);
    assert_eq!(
        line(&mut second),
        "2999",
        "the oldest waiter is served first"
    );
    let v = inst.segment.read(w0);
    assert_eq!(
        v.request_type,
        kennel_common::protocol::RequestKind::DATE.code()
    );
    free(v.ping);
    assert_eq!(line(&mut third), "2999");
    assert_eq!(inst.segment.read(RecordId::Dispatcher).waiting, 0);
    dispatcher.stop();
    done.store(true, SeqCst);
    beat.join().unwrap();
    inst.destroy().unwrap();
}
