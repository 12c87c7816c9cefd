// npm's `piston-client`, unchanged, against Kennel's gateway.
//
// Usage: node piston_client.mjs http://127.0.0.1:PORT   (with piston-client installed beside it)
// Each case prints `ok <name>`; the first failure exits 1 with what was seen.
// Run by tests/tests/compat_clients.rs.
import piston from "piston-client";

const client = piston({ server: process.argv[2] });

function check(name, ok, seen) {
  if (!ok) {
    console.error(`${name}: ${JSON.stringify(seen)}`);
    process.exit(1);
  }
  console.log(`ok ${name}`);
}

const runtimes = await client.runtimes();
check("runtimes", Array.isArray(runtimes) &&
  ["c", "c++", "java", "python"].every(l => runtimes.some(r => r.language === l)), runtimes);

const hello = {
  c: '#include <stdio.h>\nint main(void){puts("hello, world");return 0;}\n',
  "c++": '#include <iostream>\nint main(){std::cout << "hello, world" << std::endl;}\n',
  java: 'public class Hello { public static void main(String[] a) { System.out.println("hello, world"); } }\n',
  python: 'print("hello, world")\n',
};
for (const [lang, src] of Object.entries(hello)) {
  const r = await client.execute(lang, src);
  check(`hello ${lang}`, r.run && r.run.stdout === "hello, world\n" && r.run.code === 0, r);
}

let r = await client.execute("python", "print(int(input()) * 2)", { stdin: "21" });
check("stdin", r.run && r.run.stdout === "42\n", r);

r = await client.execute("python", "import sys\nprint(sys.argv[1:])", { args: ["a", "b c"] });
check("args", r.run && r.run.stdout === "['a', 'b c']\n", r);

r = await client.execute("python", "print(41)");
check("wrong answer (the output a grader compares)", r.run && r.run.stdout !== "42\n" && r.run.code === 0, r);

r = await client.execute("python", "while True: pass", { runTimeout: 1000 });
check("time limit", r.run && r.run.status === "TO" && r.run.signal === "SIGKILL", r);

r = await client.execute("c", "int main(void) { return x; }");
check("compile error", r.compile && r.compile.code !== 0 && r.compile.stderr.includes("x") && r.run.code !== 0, r);

r = await client.execute("c", "int main(void){ return *(volatile int *)0; }");
check("segfault", r.run && r.run.status === "SG" && r.run.signal === "SIGSEGV", r);

r = await client.execute("python", "import sys; sys.exit(3)");
check("non-zero exit", r.run && r.run.status === "RE" && r.run.code === 3, r);

// No runtime lists cobol, so the client finds no version to send: Piston's own answer.
r = await client.execute("cobol", "DISPLAY 'x'.");
check("unknown language", r.message === "version is required as a string", r);

r = await client.execute("python", "print(1)", { version: "2.7" });
check("unknown version", r.message === "python-2.7 runtime is unknown", r);
