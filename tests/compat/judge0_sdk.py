"""Judge0's official Python SDK (PyPI `judge0`), unchanged, against Kennel's gateway.

Usage: python judge0_sdk.py http://127.0.0.1:PORT [TOKEN]
Each case prints `ok <name>`; the first failure raises (exit status 1) with what was seen.
Run by tests/tests/compat_clients.rs.
"""

import sys

import judge0

URL = sys.argv[1]
HEADERS = {"X-Auth-Token": sys.argv[2]} if len(sys.argv) > 2 else None
client = judge0.Client(URL, HEADERS)

HELLO = {
    judge0.C: '#include <stdio.h>\nint main(void){puts("hello, world");return 0;}\n',
    judge0.CPP: '#include <iostream>\nint main(){std::cout << "hello, world" << std::endl;}\n',
    judge0.JAVA: 'public class Main { public static void main(String[] a) { System.out.println("hello, world"); } }\n',
    judge0.PYTHON: 'print("hello, world")\n',
}


def check(name, sub, status, stdout=None):
    seen = (sub.status, sub.stdout)
    if sub.status != status or (stdout is not None and sub.stdout != stdout):
        raise AssertionError(f"{name}: expected {status!r} {stdout!r}, got {seen!r} "
                             f"(stderr {sub.stderr!r}, compile {sub.compile_output!r}, message {sub.message!r})")
    print(f"ok {name}", flush=True)


for lang, src in HELLO.items():
    sub = judge0.run(client=client, source_code=src, language=lang)
    check(f"hello {lang.name}", sub, judge0.Status.ACCEPTED, "hello, world\n")

sub = judge0.run(client=client, source_code="print(int(input()) * 2)", language=judge0.PYTHON,
                 stdin="21", expected_output="42")
check("stdin and expected output", sub, judge0.Status.ACCEPTED, "42\n")
if not (sub.time is not None and sub.time >= 0 and sub.memory and sub.memory > 0):
    raise AssertionError(f"time and memory: {sub.time!r} {sub.memory!r}")
print("ok time and memory", flush=True)

sub = judge0.run(client=client, source_code="print(41)", language=judge0.PYTHON, expected_output="42")
check("wrong answer", sub, judge0.Status.WRONG_ANSWER, "41\n")

sub = judge0.run(client=client, source_code="while True: pass", language=judge0.PYTHON, cpu_time_limit=0.5)
check("time limit", sub, judge0.Status.TIME_LIMIT_EXCEEDED)

sub = judge0.run(client=client, source_code="int main(void) { return x; }", language=judge0.C)
check("compile error", sub, judge0.Status.COMPILATION_ERROR)
if "x" not in (sub.compile_output or ""):
    raise AssertionError(f"compile output: {sub.compile_output!r}")

sub = judge0.run(client=client, source_code="int main(void){ return *(volatile int *)0; }", language=judge0.C)
check("segfault", sub, judge0.Status.RUNTIME_ERROR_SIGSEGV)

sub = judge0.run(client=client, source_code="import sys; sys.exit(3)", language=judge0.PYTHON)
check("non-zero exit", sub, judge0.Status.RUNTIME_ERROR_NZEC)

# Several at once: the SDK posts /submissions/batch and reads /submissions/batch?tokens=.
subs = [judge0.Submission(source_code=f"print({i} * {i})", language=judge0.PYTHON) for i in range(3)]
done = judge0.run(client=client, submissions=subs)
for i, s in enumerate(done):
    check(f"batch {i}", s, judge0.Status.ACCEPTED, f"{i * i}\n")

# Test cases: one submission per case, compared with each expected output.
cases = [("1 2", "3"), ("5 5", "10"), ("2 2", "5")]
results = judge0.run(client=client, source_code="a, b = map(int, input().split()); print(a + b)",
                     language=judge0.PYTHON, test_cases=cases)
statuses = [r.status for r in results]
if statuses != [judge0.Status.ACCEPTED, judge0.Status.ACCEPTED, judge0.Status.WRONG_ANSWER]:
    raise AssertionError(f"test cases: {statuses!r}")
print("ok test cases", flush=True)
