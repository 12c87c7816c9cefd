//! The program runner's decoders, fuzzed: a submission as a worker reads it from a socket,
//! and, on the same bytes, a result (as a client reads it), an archive (as `kennel-run`
//! unpacks it) and a facts line (as a worker reads it).
//!
//! Properties: no decoder panics; a submission that decodes encodes back to bytes that
//! decode to the same submission; an archive that unpacks holds only names it allows.

use kennel_runner::archive;
use kennel_runner::facts::Report;
use kennel_runner::{RunResult, Submission};

use crate::{feature, Target};

pub struct SubmissionDecoder;

impl Target for SubmissionDecoder {
    fn name(&self) -> &'static str {
        "submission"
    }

    fn dictionary(&self) -> Vec<Vec<u8>> {
        [
            "KENNEL-RUN 1\n",
            "KENNEL-RUN 2\n",
            "KENNEL-RESULT 1\n",
            "KENNEL-RESULT 2\n",
            "file_name main.c\n",
            "file_content ",
            "compile_option ",
            "test 1\n",
            "test_stdin ",
            "test_expected ",
            "checker float:1e-6\n",
            "checker custom\n",
            "checker_language python\n",
            "checker_source ",
            "interactor_language c\n",
            "interactor_source ",
            "stop_on_first_failure 1\n",
            "passed 1\ntotal 2\n",
            "test_verdict wrong_answer\n",
            "end\n",
            "source ",
            "stdin ",
            "arg ",
            "expected ",
            "language ",
            "time_limit_ms ",
            "memory_limit_kib ",
            "verdict accepted\n",
            "exit=0 signal=0 cpu_us=1 maxrss_kib=1 largest_file_kib=0\n",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }

    fn builtin_seeds(&self) -> Vec<Vec<u8>> {
        let sub = Submission {
            source: b"print(1)\n".to_vec(),
            stdin: b"3 4\n".to_vec(),
            args: vec![b"-v".to_vec()],
            expected: Some(b"7\n".to_vec()),
            time_limit_ms: Some(1000),
            ..Default::default()
        };
        let result = RunResult::new(kennel_runner::Verdict::Accepted, "python");
        let arch = archive::pack(&[archive::Entry {
            name: "main.c".into(),
            executable: false,
            data: b"int main(){}".to_vec(),
        }]);
        let graded = Submission {
            files: vec![kennel_runner::SourceFile {
                name: "main.c".into(),
                content: b"int main(){}".to_vec(),
            }],
            tests: vec![kennel_runner::TestCase {
                name: "1".into(),
                stdin: b"1\n".to_vec(),
                expected: Some(b"1\n".to_vec()),
                ..Default::default()
            }],
            checker: kennel_runner::Checker::parse("tokens", None).ok(),
            compile_options: vec!["-O2".into()],
            ..Default::default()
        };
        vec![sub.encode(), graded.encode(), result.encode(), arch]
    }

    fn run(&mut self, input: &[u8], features: &mut Vec<u64>) {
        match Submission::decode(input) {
            Ok(s) => {
                features.push(feature("submission-ok", s.args.len() as u64));
                let again = Submission::decode(&s.encode()).expect("an encoded submission decodes");
                assert_eq!(
                    again, s,
                    "a submission changed on its way through encode/decode"
                );
            }
            Err(e) => features.push(feature("submission-err", e.len() as u64 % 16)),
        }
        match RunResult::decode(input) {
            Ok(r) => features.push(feature("result-ok", r.verdict.exit_status() as u64)),
            Err(_) => features.push(feature("result-err", 0)),
        }
        match archive::unpack(input) {
            Ok(entries) => {
                assert!(entries.iter().all(|e| archive::valid_path(&e.name)));
                features.push(feature("archive-ok", entries.len() as u64));
            }
            Err(_) => features.push(feature("archive-err", 0)),
        }
        let text = String::from_utf8_lossy(input);
        features.push(feature("facts", u64::from(Report::parse(&text).is_some())));
    }
}
