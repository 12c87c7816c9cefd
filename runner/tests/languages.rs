//! Every language, from source to verdict, through the real sandbox.

mod common;

use common::{run, runner_with, usable};
use kennel_runner::{Language, RunnerOptions, Submission, Verdict};

#[test]
fn sandbox_hello_in_every_language() {
    let r = runner_with(RunnerOptions::default());
    let cases = [
        (Language::Python, "print('Hello, world')\n"),
        (Language::C, "#include <stdio.h>\nint main(void){puts(\"Hello, world\");return 0;}\n"),
        (Language::Cpp, "#include <iostream>\nint main(){std::cout<<\"Hello, world\"<<std::endl;}\n"),
        (
            Language::Java,
            "public class Hello { public static void main(String[] a) { System.out.println(\"Hello, world\"); } }\n",
        ),
    ];
    for (lang, src) in cases {
        if usable(&r, lang).is_none() {
            continue;
        }
        let res = run(&r, lang, src);
        assert_eq!(res.verdict, Verdict::Accepted, "{lang:?}: {res:?}");
        assert_eq!(res.stdout, b"Hello, world\n", "{lang:?}");
        assert_eq!(res.exit_code, Some(0));
        assert!(res.memory_kib > 0, "{lang:?}: peak memory measured");
    }
}

#[test]
fn sandbox_stdin_args_and_expected_output() {
    let r = runner_with(RunnerOptions::default());
    let Some(()) = usable(&r, Language::Python) else {
        return;
    };
    let sub = Submission {
        source:
            b"import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b, *sys.argv[1:])\n"
                .to_vec(),
        stdin: b"3 4\n".to_vec(),
        args: vec![b"x".to_vec()],
        expected: Some(b"7 x\n".to_vec()),
        ..Default::default()
    };
    let res = r.run(Language::Python, &sub, 0).unwrap();
    assert_eq!(
        (res.verdict, res.stdout.as_slice()),
        (Verdict::Accepted, &b"7 x\n"[..]),
        "{res:?}"
    );
    let wrong = Submission {
        expected: Some(b"8 x\n".to_vec()),
        ..sub
    };
    assert_eq!(
        r.run(Language::Python, &wrong, 0).unwrap().verdict,
        Verdict::WrongAnswer
    );
}

#[test]
fn sandbox_compile_errors_and_the_cache() {
    let r = runner_with(RunnerOptions::default());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    let res = run(&r, Language::C, "int main(void) { return nope; }\n");
    assert_eq!(res.verdict, Verdict::CompileError, "{res:?}");
    assert!(
        String::from_utf8_lossy(&res.compile_output).contains("nope"),
        "{res:?}"
    );
    let src = "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 6*7);}\n";
    let first = run(&r, Language::C, src);
    let second = run(&r, Language::C, src);
    assert_eq!(
        (first.verdict, first.cached_compile),
        (Verdict::Accepted, false)
    );
    assert_eq!(
        (second.verdict, second.cached_compile),
        (Verdict::Accepted, true)
    );
    assert_eq!(second.stdout, b"42\n");
}

#[test]
fn sandbox_a_binary_is_refused_and_a_flood_of_compiler_errors_is_said_as_such() {
    let r = runner_with(RunnerOptions::default());
    let Some(()) = usable(&r, Language::C) else {
        return;
    };
    // An executable saved as .c: refused before any compiler runs.
    let binary = Submission {
        source: b"\x7fELF\x02\x01\x01\x00\x00\x00garbage".to_vec(),
        ..Default::default()
    };
    let e = r.run(Language::C, &binary, 0).unwrap_err();
    assert!(e.contains("not text"), "{e}");
    // Text that makes gcc write more than the compile's output cap: a compile error that
    // says the output was cut, not a time limit.
    let flood = "a b c d e f g h;\n".repeat(6000);
    let res = run(&r, Language::C, &flood);
    assert_eq!(res.verdict, Verdict::CompileError, "{res:?}");
    assert!(res.message.contains("output was cut at 64 KiB"), "{res:?}");
}
