//! `kennelctl watch`: the status table, redrawn every interval until Ctrl-C.

use std::time::Duration;

use kennel_client::inspect::Inspector;
use kennel_client::status;

pub fn run(inspector: &Inspector, interval: Duration) -> i32 {
    loop {
        let snap = inspector.segment.snapshot();
        // Clear the screen and home the cursor, then draw.
        print!(
            "\x1b[2J\x1b[H{}",
            status::table(&snap, &inspector.context())
        );
        println!(
            "\n(refreshing every {} ms; Ctrl-C to quit)",
            interval.as_millis()
        );
        std::thread::sleep(interval);
    }
}
