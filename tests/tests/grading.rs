//! Grading end to end: test cases compiled once, several files, compiler options, checkers
//! and interactors through `kennel-client run` (with Kennel started as root and as `nobody`),
//! through the framed wire (`kennel_client::Client`, the bad cases a client can send) and
//! through HTTP in grading_http.rs. Named `sandbox_*`: skipped and counted by scripts/test.sh
//! when bubblewrap or a toolchain is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kennel_client::{Client, ClientConfig, ClientError};
use kennel_runner::{Language, SourceFile, Submission, TestCase};
use kennel_tests::as_user::{everyone, start};
use kennel_tests::{bin, fresh_dir, Instance};

const SUM_C: &str = "#include <stdio.h>\nint main(void){long a,b; if(scanf(\"%ld %ld\",&a,&b)!=2) return 3; printf(\"%ld\\n\", a+b); return 0;}\n";

/// Guess the number: the interactor reads it from `input` and answers `<`, `>` or `=`.
const GUESS_INTERACTOR: &str = "import sys\nn = int(open(sys.argv[1]).read())\nfor _ in range(20):\n    g = int(input())\n    if g == n:\n        print('=', flush=True)\n        sys.exit(0)\n    print('<' if g < n else '>', flush=True)\nprint('too many guesses', file=sys.stderr)\nsys.exit(1)\n";
const GUESS_SOLVER: &str = "lo, hi = 1, 100\nwhile True:\n    m = (lo + hi) // 2\n    print(m, flush=True)\n    a = input()\n    if a == '=':\n        break\n    if a == '<':\n        lo = m + 1\n    else:\n        hi = m - 1\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn client(inst: &Instance, args: &[&str]) -> Output {
    // By port: the client refuses a runtime directory of another user (`nobody`'s).
    Command::new(bin("kennel-client"))
        .args(["--port", &inst.addr.port().to_string(), "run"])
        .args(args)
        .output()
        .expect("kennel-client runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sandbox_kennel_client_grades_a_tests_directory_several_files_a_checker_and_an_interactor() {
    for who in everyone() {
        let inst = start("grade-client", who, 2, &[], None);
        let dir = fresh_dir("grade-client-files");
        let sum = write(&dir, "sum.c", SUM_C);
        let tests = dir.join("tests");
        for (name, input, output) in [
            ("1", "1 2\n", "3\n"),
            ("2", "2 2\n", "5\n"),
            ("10", "5 5", "10"),
        ] {
            write(&tests, &format!("{name}.in"), input);
            write(&tests, &format!("{name}.out"), output);
        }
        let out = client(
            &inst,
            &[sum.to_str().unwrap(), "--tests", tests.to_str().unwrap()],
        );
        let lines = text(&out.stdout);
        let lines: Vec<&str> = lines.lines().collect();
        assert_eq!(
            lines.len(),
            3,
            "one line per test, in natural order: {lines:?}"
        );
        assert!(lines[0].starts_with("test 1: accepted"), "{lines:?}");
        assert!(
            lines[1].starts_with("test 2: wrong answer")
                && lines[1].contains("line 1: expected \"5\", got \"4\""),
            "{lines:?}"
        );
        assert!(lines[2].starts_with("test 10: accepted"), "{lines:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("wrong answer") && err.contains("passed 2/3"),
            "{err}"
        );
        assert_eq!(
            out.status.code(),
            Some(8),
            "the exit status says wrong answer"
        );

        // Several files, with compiler options from the allow-list.
        let main = write(&dir, "main.c", "#include <stdio.h>\n#include \"util.h\"\nint main(void){printf(\"%d\\n\", twice(N));return 0;}\n");
        let util = write(
            &dir,
            "util.c",
            "#include \"util.h\"\nint twice(int x){return 2*x;}\n",
        );
        let header = write(&dir, "util.h", "int twice(int);\n");
        let paths = [
            main.to_str().unwrap(),
            util.to_str().unwrap(),
            header.to_str().unwrap(),
        ];
        let out = client(
            &inst,
            &[paths[0], paths[1], paths[2], "--compile-option", "-DN=21"],
        );
        assert_eq!(
            (text(&out.stdout), out.status.code()),
            ("42\n".into(), Some(0)),
            "{}",
            text(&out.stderr)
        );
        let out = client(
            &inst,
            &[
                paths[0],
                paths[1],
                paths[2],
                "--compile-option",
                "-fplugin=/tmp/x.so",
            ],
        );
        assert!(
            text(&out.stderr).contains("refused: compiler option"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1));

        // AddressSanitizer: its report where a memory cgroup holds the run, else a refusal
        // that says why (an ordinary user on cgroup v1: memory held by address space).
        let overflow = write(&dir, "overflow.c", "#include <stdlib.h>\nint main(void){volatile int *a = malloc(16); a[4] = 1; return a[0];}\n");
        let out = client(
            &inst,
            &[
                overflow.to_str().unwrap(),
                "--compile-option",
                "-fsanitize=address",
                "--compile-option",
                "-O0",
            ],
        );
        let said = text(&out.stderr);
        match out.status.code() {
            Some(6) => assert!(
                said.contains("heap-buffer-overflow") && !said.contains("LeakSanitizer"),
                "{said}"
            ),
            _ => assert!(
                said.contains("refused: -fsanitize=address needs a memory cgroup"),
                "{said}"
            ),
        }
        eprintln!(
            "as {}: -fsanitize=address {}",
            who.name(),
            if out.status.code() == Some(6) {
                "ran and reported"
            } else {
                "refused"
            }
        );

        // A directory of Java files with packages, main in a class that is not Main.
        let java = dir.join("java");
        write(&java, "Solution.java", "package app;\nclass Solution { public static void main(String[] a) { System.out.println(util.Twice.of(21)); } }\n");
        write(
            &java,
            "Twice.java",
            "package util;\npublic class Twice { public static int of(int x) { return 2 * x; } }\n",
        );
        let out = client(&inst, &[java.to_str().unwrap()]);
        assert_eq!(text(&out.stdout), "42\n", "{}", text(&out.stderr));

        // A checker program: accepts any output that is twice the input.
        let checker = write(&dir, "twice.py", "import sys\ni, o, e = (open(p).read() for p in sys.argv[1:4])\nok = int(o) == 2 * int(i)\nprint('ok' if ok else 'not twice')\nsys.exit(0 if ok else 1)\n");
        let double = write(&dir, "double.py", "print(2 * int(input()))\n");
        let ctests = dir.join("ctests");
        write(&ctests, "a.in", "21\n");
        let out = client(
            &inst,
            &[
                double.to_str().unwrap(),
                "--tests",
                ctests.to_str().unwrap(),
                "--checker",
                checker.to_str().unwrap(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );

        // An interactive problem.
        let inter = write(&dir, "inter.py", GUESS_INTERACTOR);
        let solver = write(&dir, "solver.py", GUESS_SOLVER);
        let itests = dir.join("itests");
        write(&itests, "1.in", "37\n");
        write(&itests, "2.in", "100\n");
        let out = client(
            &inst,
            &[
                solver.to_str().unwrap(),
                "--tests",
                itests.to_str().unwrap(),
                "--interactor",
                inter.to_str().unwrap(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "as {}: {}{}",
            who.name(),
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("passed 2/2"),
            "{}",
            text(&out.stderr)
        );
    }
}

fn refusal(inst: &Instance, lang: Language, sub: &Submission) -> String {
    let mut c = Client::connect(ClientConfig::new(inst.addr)).expect("the dispatcher answers");
    match c.request(lang.name(), &sub.encode()) {
        Err(ClientError::Refused(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn sandbox_the_wire_refuses_what_cannot_be_graded_and_old_clients_are_still_served() {
    let inst = Instance::start("grade-wire", 1, &["--max-tests", "8"]);
    let file = |name: &str| SourceFile {
        name: name.into(),
        content: b"int main(void){return 0;}\n".to_vec(),
    };
    let base = Submission {
        files: vec![file("main.c")],
        ..Default::default()
    };
    let cases: [(Submission, &str); 5] = [
        (
            Submission {
                files: vec![file("../x.c")],
                ..base.clone()
            },
            "file name \"../x.c\" refused",
        ),
        (
            Submission {
                compile_options: vec!["-B/tmp".into()],
                ..base.clone()
            },
            "run its tools from another directory",
        ),
        (
            Submission {
                tests: (0..9)
                    .map(|i| TestCase {
                        name: i.to_string(),
                        ..Default::default()
                    })
                    .collect(),
                ..base.clone()
            },
            "at most 8 (--max-tests)",
        ),
        (
            Submission {
                files: vec![file("main.c"), file("main.c")],
                ..base.clone()
            },
            "two files named",
        ),
        (
            Submission {
                entry: Some("x".into()),
                ..base.clone()
            },
            "takes no entry",
        ),
    ];
    for (sub, why) in cases {
        let m = refusal(&inst, Language::C, &sub);
        assert!(m.contains(why), "{why}: {m}");
    }
    // An unknown checker never reaches the runner: the submission does not decode.
    let raw = b"KENNEL-RUN 2\nsource 1\nxchecker fuzzy\nend\n";
    let mut c = Client::connect(ClientConfig::new(inst.addr)).unwrap();
    match c.request("c", raw) {
        Err(ClientError::Refused(m)) => assert!(m.contains("unknown checker"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A client of version 1 sends version 1 and reads version 1.
    let old = Submission {
        source: SUM_C.as_bytes().to_vec(),
        stdin: b"2 3\n".to_vec(),
        ..Default::default()
    };
    assert!(old.encode().starts_with(b"KENNEL-RUN 1\n"));
    let answer = c.request("c", &old.encode()).expect("a result");
    assert!(
        answer.body.starts_with(b"KENNEL-RESULT 1\n"),
        "{}",
        text(&answer.body)
    );
}
