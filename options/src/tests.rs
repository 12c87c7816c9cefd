//! Every option group written back as argv parses to the same value, and every flag of the
//! group appears in that argv: a flag added without a way back fails here.

use std::collections::BTreeSet;
use std::time::Duration;

use clap::{FromArgMatches, Parser};

use crate::alias::Alias;
use crate::flag::{Group, Reload};
use crate::{dispatcher, gateway, runner, shared, watchdog, worker};

/// Parses `g.to_args()` back with the group's own definition and checks both promises.
fn round_trip<G: Group + FromArgMatches + std::fmt::Debug>(g: &G) {
    let argv = g.to_args();
    let cmd = G::augment_args(clap::Command::new("g"));
    let m = cmd
        .clone()
        .try_get_matches_from(std::iter::once("g".to_string()).chain(argv.iter().cloned()))
        .unwrap_or_else(|e| panic!("{argv:?} does not parse: {e}"));
    let back = G::from_arg_matches(&m).unwrap();
    assert_eq!(&back, g, "argv {argv:?}");
    let given: BTreeSet<&str> = argv.iter().filter_map(|a| a.strip_prefix("--")).collect();
    for arg in cmd.get_arguments() {
        if let Some(long) = arg.get_long() {
            assert!(
                given.contains(long),
                "--{long} is not written back: {argv:?}"
            );
        }
    }
}

fn runner_options() -> runner::RunnerOptions {
    runner::RunnerOptions {
        time_limit: Duration::from_millis(1500),
        time_limit_max: Duration::from_secs(11),
        wall_limit: Duration::from_secs(6),
        wall_limit_max: Duration::from_secs(31),
        memory_limit: 300 << 20,
        memory_limit_max: 2 << 30,
        max_processes: 65,
        max_open_files: 65,
        max_file_size: 17 << 20,
        max_output: 4096,
        cpu_max: 40,
        sandbox_pool: 3,
        warm_toolchains: "c++20".into(),
        warm_dir: Some("/var/cache/kennel-test".into()),
        sandbox_user: 65533,
        compile_time_limit: Duration::from_secs(9),
        compile_memory_limit: 512 << 20,
        compile_cache: 65 << 20,
        max_tests: 9,
        test_output_max: 2048,
        cgroup: Some("/sys/fs/cgroup/user.slice/kennel-runs".into()),
    }
}

fn worker_options() -> worker::WorkerOptions {
    worker::WorkerOptions {
        client_timeout: Duration::from_millis(750),
        max_payload: 4096,
        max_tasks: 3,
        runner: runner_options(),
    }
}

fn dispatcher_options() -> dispatcher::DispatcherOptions {
    dispatcher::DispatcherOptions {
        queue_timeout: Duration::from_millis(1500),
        idle_timeout: Duration::from_secs(31),
        max_connections: 100,
        max_per_source: 7,
        max_reservations: 3,
        advertise: Some("10.0.0.7".parse().unwrap()),
        proxy_protocol: true,
        type_aliases: vec![Alias::parse("hi=echo/addr-port").unwrap()],
    }
}

fn gateway_options() -> gateway::GatewayOptions {
    gateway::GatewayOptions {
        http: Some("127.0.0.1:8081".parse().unwrap()),
        http_token_file: Some("/etc/kennel/token".into()),
        http_cors_origins: vec!["http://localhost:3000".into(), "https://a.b".into()],
        http_rate: 7,
        http_queue: 9,
        http_max_connections: 100,
        http_header_timeout: Duration::from_secs(2),
        http_max_body: 2048,
        http_results: 20,
        http_result_ttl: Duration::from_secs(90),
        http_results_bytes: 2 << 20,
        http_callback_allow: vec!["127.0.0.1:9000".into(), "hooks.example".into()],
    }
}

fn child_options() -> shared::ChildOptions {
    shared::ChildOptions {
        runtime: shared::RuntimeOption {
            runtime_dir: Some("/run/user/1000/kennel-x".into()),
        },
        shared: shared::SharedOptions {
            bind: "0.0.0.0".parse().unwrap(),
            require_token: true,
        },
        listen: shared::ListenOption { listen_fd: Some(5) },
    }
}

#[test]
fn every_group_round_trips_through_argv() {
    round_trip(&runner_options());
    round_trip(&worker_options());
    round_trip(&dispatcher_options());
    round_trip(&gateway_options());
    round_trip(&child_options());
    round_trip(&shared::FormatOption {
        format: shared::Format::Json,
        json: true,
    });
}

#[test]
fn every_command_line_round_trips_through_argv() {
    round_trip(&worker::Args {
        child: child_options(),
        slot: 3,
        port: 2300,
        standby_fd: Some(7),
        options: worker_options(),
    });
    round_trip(&dispatcher::Args {
        child: child_options(),
        port: 2400,
        options: dispatcher_options(),
    });
    round_trip(&gateway::Args {
        child: child_options(),
        gateway: gateway_options(),
        worker: worker_options(),
        dispatcher: "127.0.0.1:2500".parse().unwrap(),
        port: 8090,
    });
}

#[test]
fn defaults_survive_the_way_back() {
    round_trip_defaults::<runner::RunnerOptions>();
    round_trip_defaults::<worker::WorkerOptions>();
    round_trip_defaults::<dispatcher::DispatcherOptions>();
    round_trip_defaults::<gateway::GatewayOptions>();
}

fn round_trip_defaults<G: Group + FromArgMatches + std::fmt::Debug>() {
    let g = G::defaults();
    let cmd = G::augment_args(clap::Command::new("g"));
    let m = cmd
        .try_get_matches_from(std::iter::once("g".to_string()).chain(g.to_args()))
        .unwrap();
    assert_eq!(G::from_arg_matches(&m).unwrap(), g);
}

fn watchdog_args(extra: &[&str]) -> watchdog::Args {
    let mut argv = vec!["kennel-watchdog"];
    argv.extend_from_slice(extra);
    watchdog::Args::try_parse_from(argv).unwrap()
}

#[test]
fn a_reload_classifies_each_change_by_its_flag() {
    let old = watchdog_args(&[]);
    let new = watchdog_args(&[
        "--port",
        "3000",
        "--grace",
        "1s",
        "--queue-timeout",
        "1s",
        "--max-output",
        "2M",
        "--cgroup",
        "/sys/fs/cgroup/x",
        "--http-rate",
        "5",
        "--bind",
        "0.0.0.0",
    ]);
    let changes: Vec<(&str, Reload)> = new
        .changes(&old)
        .into_iter()
        .map(|c| (c.flag, c.reload))
        .collect();
    assert_eq!(
        changes,
        [
            ("bind", Reload::Keep),
            ("port", Reload::Keep),
            ("grace", Reload::Live),
            ("queue-timeout", Reload::Dispatcher),
            ("max-output", Reload::Workers),
            ("cgroup", Reload::Keep),
            ("http-rate", Reload::Gateway),
        ]
    );
    let mut kept = new.clone();
    assert_eq!(kept.keep_from(&old), ["bind", "port", "cgroup"]);
    assert_eq!(kept.port, 2222);
    assert_eq!(kept.worker.runner.cgroup, None);
    assert_eq!(kept.grace, Duration::from_secs(1), "a live change stays");
}
