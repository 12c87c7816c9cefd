//! `kennelctl status`: one snapshot of the segment, as a table or a JSON document. Exit 1 when
//! no watchdog holds the instance any more (every row is then stale).

use super::cli::Format;
use kennel_client::inspect::Inspector;
use kennel_client::status;

pub fn run(inspector: &Inspector, format: Format) -> i32 {
    let snap = inspector.segment.snapshot();
    let ctx = inspector.context();
    match format {
        Format::Json => println!("{}", kennel_client::status_json::status(&snap, &ctx)),
        Format::Text => print!("{}", status::table(&snap, &ctx)),
    }
    i32::from(ctx.watchdog == status::WatchdogLiveness::Gone)
}
