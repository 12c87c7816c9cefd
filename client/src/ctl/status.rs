//! `kennelctl status`: one snapshot of the segment, as a table or a JSON document.

use super::cli::Format;
use crate::inspect::Inspector;
use crate::status;

pub fn run(inspector: &Inspector, format: Format) -> i32 {
    let snap = inspector.segment.snapshot();
    let ctx = inspector.context();
    match format {
        Format::Json => println!("{}", status::json(&snap, &ctx)),
        Format::Text => print!("{}", status::table(&snap, &ctx)),
    }
    0
}
