//! libFuzzer entry for the in-tree `segment` target: the same code and the same property checks
//! (a violated property panics, which libFuzzer reports as a crash).

#![no_main]

kennel_fuzz::libfuzzer_target!("segment");
