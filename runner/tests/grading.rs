//! Grading through the runner itself: tests compiled once and run many times, several files,
//! compiler options, checkers (built-in and programs), interactors — and their bad cases.
//! The same features through the wire, `kennel-client` and HTTP are in tests/tests/grading.rs.

mod common;

use common::{runner_with, usable};
use kennel_runner::{
    Checker, Language, RunnerOptions, SideProgram, SourceFile, Submission, TestCase, Verdict,
};

fn test(name: &str, stdin: &str, expected: Option<&str>) -> TestCase {
    TestCase {
        name: name.into(),
        stdin: stdin.as_bytes().to_vec(),
        expected: expected.map(|e| e.as_bytes().to_vec()),
        ..Default::default()
    }
}

const SUM_C: &str = "#include <stdio.h>\nint main(){long a,b; if(scanf(\"%ld %ld\",&a,&b)!=2) return 3; printf(\"%ld\\n\", a+b); return 0;}\n";

#[test]
fn tests_are_compiled_once_and_each_judged_with_its_diff() {
    let r = runner_with(RunnerOptions::default());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    let sub = Submission {
        source: format!("{SUM_C}// {}\n", std::process::id()).into_bytes(),
        tests: vec![
            test("a", "1 2\n", Some("3\n")),
            test("b", "2 2\n", Some("5\n")),
            test("c", "", Some("0\n")),
            TestCase {
                time_limit_ms: Some(20_000),
                ..test("d", "1 1", Some("2"))
            },
        ],
        ..Default::default()
    };
    // A per-test limit over the maximum is refused before anything runs.
    let e = r.run(Language::C, &sub, 0).unwrap_err();
    assert!(e.contains("test d") && e.contains("maximum"), "{e}");
    let mut sub = sub;
    sub.tests[3].time_limit_ms = Some(2000);
    let res = r.run(Language::C, &sub, 0).unwrap();
    assert!(!res.cached_compile, "the first compile of this source");
    let verdicts: Vec<Verdict> = res.tests.iter().map(|t| t.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Accepted,
            Verdict::WrongAnswer,
            Verdict::RuntimeError,
            Verdict::Accepted
        ]
    );
    assert_eq!((res.passed, res.total), (2, 4));
    assert_eq!(res.verdict, Verdict::WrongAnswer, "the first failure's");
    assert_eq!(res.tests[1].message, "line 1: expected \"5\", got \"4\"");
    assert!(res.message.starts_with("test b: line 1"), "{}", res.message);
    assert_eq!(res.tests[2].exit_code, Some(3));
    // Stop at the first failure: the rest are skipped, not run.
    sub.stop_on_first_failure = true;
    let res = r.run(Language::C, &sub, 0).unwrap();
    assert!(res.cached_compile, "the same source again: from the cache");
    let verdicts: Vec<Verdict> = res.tests.iter().map(|t| t.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Accepted,
            Verdict::WrongAnswer,
            Verdict::Skipped,
            Verdict::Skipped
        ]
    );
    // More tests than the server takes.
    sub.tests = (0..65).map(|i| test(&i.to_string(), "", None)).collect();
    let e = r.run(Language::C, &sub, 0).unwrap_err();
    assert!(e.contains("65 tests") && e.contains("--max-tests"), "{e}");
}

fn files(list: &[(&str, &str)]) -> Vec<SourceFile> {
    list.iter()
        .map(|(n, c)| SourceFile {
            name: n.to_string(),
            content: c.as_bytes().to_vec(),
        })
        .collect()
}

fn run_files(
    lang: Language,
    list: &[(&str, &str)],
    opts: &[&str],
) -> Result<kennel_runner::RunResult, String> {
    let r = runner_with(RunnerOptions::default());
    let sub = Submission {
        files: files(list),
        compile_options: opts.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    r.run(lang, &sub, 0)
}

#[test]
fn several_files_compile_and_link_in_each_language() {
    let r = runner_with(RunnerOptions::default());
    if usable(&r, Language::C).is_some() {
        let res = run_files(
            Language::C,
            &[
                ("main.c", "#include <stdio.h>\n#include \"util.h\"\nint main(){printf(\"%d\\n\", twice(N));}\n"),
                ("util.c", "#include \"util.h\"\nint twice(int x){return 2*x;}\n"),
                ("util.h", "int twice(int);\n"),
            ],
            &["-DN=21", "-O0", "-Wall"],
        )
        .unwrap();
        assert_eq!(
            (res.verdict, &res.stdout[..]),
            (Verdict::Accepted, &b"42\n"[..]),
            "{res:?}"
        );
        for (bad, why) in [
            ("-fplugin=/x.so", "shared object"),
            ("-I/etc", "allow-list"),
        ] {
            let e = run_files(Language::C, &[("main.c", "int main(){}")], &[bad]).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = run_files(Language::C, &[("../x.c", "int main(){}")], &[]).unwrap_err();
        assert!(e.contains("refused"), "{e}");
    }
    if usable(&r, Language::Python).is_some() {
        let res = run_files(
            Language::Python,
            &[
                ("main.py", "import helper\nprint(helper.f())\n"),
                ("helper.py", "def f():\n    return 'imported'\n"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(res.stdout, b"imported\n", "{res:?}");
    }
    if usable(&r, Language::Java).is_some() {
        let res = run_files(
            Language::Java,
            &[
                ("Solution.java", "package app;\nclass Solution { public static void main(String[] a) { System.out.println(util.Twice.of(21)); } }\n"),
                ("Twice.java", "package util;\npublic class Twice { public static int of(int x) { return 2 * x; } }\n"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            (res.verdict, &res.stdout[..]),
            (Verdict::Accepted, &b"42\n"[..]),
            "{res:?}"
        );
        // One file, a main in a class that is not public and not Main.
        let r2 = runner_with(RunnerOptions::default());
        let sub = Submission {
            source: b"class Solution { public static void main(String[] a) { System.out.println(\"hi\"); } }".to_vec(),
            ..Default::default()
        };
        let res = r2.run(Language::Java, &sub, 0).unwrap();
        assert_eq!(
            (res.verdict, &res.stdout[..]),
            (Verdict::Accepted, &b"hi\n"[..]),
            "{res:?}"
        );
    }
}

fn custom(source: &str) -> Option<Checker> {
    Some(Checker::Custom(SideProgram {
        language: Language::Python,
        source: source.as_bytes().to_vec(),
    }))
}

#[test]
fn checkers_built_in_and_programs_decide_and_a_failing_checker_is_never_accepted() {
    let r = runner_with(RunnerOptions::default());
    let Some(()) = usable(&r, Language::Python) else {
        return;
    };
    let sub = |checker: Option<Checker>, out: &str, want: &str| Submission {
        source: format!("print({out:?})\n").into_bytes(),
        tests: vec![test("1", "5\n", Some(want))],
        checker,
        ..Default::default()
    };
    let v = |s: Submission| {
        let res = r.run(Language::Python, &s, 0).unwrap();
        (res.verdict, res.tests[0].message.clone())
    };
    let float = Checker::parse("float:1e-3", None).ok();
    assert_eq!(
        v(sub(float.clone(), "3.1416", "3.14159")).0,
        Verdict::Accepted
    );
    assert_eq!(v(sub(float, "3.2", "3.14159")).0, Verdict::WrongAnswer);
    let tokens = Checker::parse("tokens", None).ok();
    assert_eq!(v(sub(tokens, "1    2", "1\n2\n")).0, Verdict::Accepted);
    // A checker that accepts when the output is twice the input.
    let doubles = "import sys\ninp, out, exp = (open(p).read() for p in sys.argv[1:4])\n\
                   ok = int(out) == 2 * int(inp)\nprint('ok' if ok else 'not twice the input')\n\
                   sys.exit(0 if ok else 1)\n";
    assert_eq!(v(sub(custom(doubles), "10", "")).0, Verdict::Accepted);
    assert_eq!(
        v(sub(custom(doubles), "11", "")),
        (Verdict::WrongAnswer, "checker: not twice the input".into())
    );
    for (bad, why) in [
        ("import os\nos.abort()\n", "signal"),
        ("import sys\nsys.exit(3)\n", "exited with 3"),
        ("while True: pass\n", "time limit"),
        ("syntax error here\n", "exited with 1"),
    ] {
        let (verdict, msg) = v(sub(custom(bad), "10", ""));
        // A checker with a syntax error exits 1 as Python does: that reads as "wrong
        // answer"; every other failure is the checker's, never the program's acceptance.
        if why == "exited with 1" {
            assert_eq!(verdict, Verdict::WrongAnswer, "{msg}");
            continue;
        }
        assert_eq!(verdict, Verdict::InternalError, "{bad}: {msg}");
        assert!(
            msg.starts_with("the checker failed") && msg.contains(why),
            "{bad}: {msg}"
        );
    }
}

#[test]
fn an_interactor_talks_with_the_program_and_a_silent_one_ends_at_the_wall_limit() {
    let r = runner_with(RunnerOptions::default());
    let Some(()) = usable(&r, Language::Python) else {
        return;
    };
    // Guess the number: the interactor reads it from its input file and answers < > =.
    let interactor = "import sys\nn = int(open(sys.argv[1]).read())\nfor _ in range(20):\n    \
                      g = int(input())\n    if g == n:\n        print('=', flush=True)\n        \
                      sys.exit(0)\n    print('<' if g < n else '>', flush=True)\n\
                      print('too many guesses', file=sys.stderr)\nsys.exit(1)\n";
    let solver = "lo, hi = 1, 100\nwhile True:\n    m = (lo + hi) // 2\n    print(m, flush=True)\n    \
                  a = input()\n    if a == '=':\n        break\n    if a == '<':\n        lo = m + 1\n    else:\n        hi = m - 1\n";
    let wrong = "for g in range(1, 101):\n    print(1, flush=True)\n    input()\n";
    let sub = |prog: &str, inter: &str| Submission {
        source: prog.as_bytes().to_vec(),
        tests: vec![test("1", "37\n", None), test("2", "99\n", None)],
        interactor: Some(SideProgram {
            language: Language::Python,
            source: inter.as_bytes().to_vec(),
        }),
        wall_limit_ms: Some(3000),
        ..Default::default()
    };
    let res = r
        .run(Language::Python, &sub(solver, interactor), 0)
        .unwrap();
    assert_eq!(
        (res.verdict, res.passed),
        (Verdict::Accepted, 2),
        "{:?}",
        res.tests
    );
    let res = r.run(Language::Python, &sub(wrong, interactor), 0).unwrap();
    assert_eq!(res.verdict, Verdict::WrongAnswer, "{:?}", res.tests);
    assert!(
        res.tests[0].message.contains("too many guesses"),
        "{}",
        res.tests[0].message
    );
    // An interactor that never answers: both wait; the wall limit ends it, said so.
    let silent = "import time\ntime.sleep(60)\n";
    let res = r.run(Language::Python, &sub(solver, silent), 0).unwrap();
    assert_eq!(res.verdict, Verdict::TimeLimit, "{:?}", res.tests);
    assert!(
        res.tests[0].message.contains("deadlock"),
        "{}",
        res.tests[0].message
    );
    // An interactive problem takes no checker.
    let mut bad = sub(solver, interactor);
    bad.checker = Checker::parse("tokens", None).ok();
    assert!(r
        .run(Language::Python, &bad, 0)
        .unwrap_err()
        .contains("judged by its interactor"));
}

#[test]
fn sanitizers_report_what_they_find_or_are_refused_with_the_reason() {
    let r = runner_with(RunnerOptions::default());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    let overflow = "#include <stdlib.h>\nint main(void){volatile int *a = malloc(4 * sizeof(int)); a[4] = 1; return a[0];}\n";
    let sub = |o: &str| Submission {
        source: overflow.as_bytes().to_vec(),
        compile_options: vec![o.into(), "-O0".into(), "-g".into()],
        ..Default::default()
    };
    let res = r.run(Language::C, &sub("-fsanitize=undefined"), 0).unwrap();
    assert_eq!(res.verdict, Verdict::Accepted, "{res:?}");
    match r.run(Language::C, &sub("-fsanitize=address"), 0) {
        Ok(res) => {
            let said = String::from_utf8_lossy(&res.stderr);
            assert_eq!(res.verdict, Verdict::RuntimeError, "{said}");
            assert!(said.contains("heap-buffer-overflow"), "{said}");
            assert!(!said.contains("LeakSanitizer"), "{said}");
        }
        // Without a memory cgroup (an ordinary user on cgroup v1) memory is held by address
        // space, which ASan cannot live with: refused, with the reason.
        Err(e) => assert!(e.contains("needs a memory cgroup"), "{e}"),
    }
}
