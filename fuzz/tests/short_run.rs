//! Every fuzz target runs for a moment on each test run, replaying the committed corpus first,
//! so a regression on a known input is caught and the harness never rots.

use std::path::Path;
use std::time::Duration;

use kennel_fuzz::{fuzz, targets, Config};

#[test]
fn every_target_survives_a_short_run_from_its_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for name in targets::all() {
        let mut target = targets::by_name(name).unwrap();
        let cfg = Config {
            duration: Duration::from_secs(2),
            seed: 0x5eed,
            max_len: 8192,
            save_corpus: None,
        };
        match fuzz(target.as_mut(), Some(&corpus.join(name)), &cfg) {
            Ok(stats) => assert!(stats.execs > 100, "{name}: only {} execs", stats.execs),
            Err(crash) => panic!("{name} crashed on {:?}: {}", crash.input, crash.message),
        }
    }
}
