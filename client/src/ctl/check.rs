//! `kennelctl check`: verifies every invariant of the segment; exit status 1 names the broken
//! ones (as text, or as a JSON document).

use super::cli::Format;
use crate::inspect::Inspector;
use crate::status;

pub fn run(inspector: &Inspector, format: Format) -> i32 {
    let snap = inspector.segment.snapshot();
    let violations = inspector.check(&snap);
    match format {
        Format::Json => println!("{}", status::check_json(&violations)),
        Format::Text => print!("{}", status::check_text(&violations)),
    }
    if violations.is_empty() {
        0
    } else {
        1
    }
}
