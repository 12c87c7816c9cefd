//! Grading over HTTP: `POST /api/v1/runs` with tests, files, checkers and an interactor, the
//! bad cases refused with 422 before a worker sees them, and batches
//! (`/api/v1/runs/batch`, `GET /api/v1/runs?ids=`). Named `sandbox_*`: skipped and counted by
//! scripts/test.sh when bubblewrap or a toolchain is missing.

use std::time::Duration;

use kennel_tests::http::{get, post_json};
use kennel_tests::{wait_for, Instance};
use serde_json::{json, Value};

const SUM_C: &str = "#include <stdio.h>\nint main(void){long a,b; if(scanf(\"%ld %ld\",&a,&b)!=2) return 3; printf(\"%ld\\n\", a+b); return 0;}\n";

const GUESS_SOLVER: &str = "lo, hi = 1, 100\nwhile True:\n    m = (lo + hi) // 2\n    print(m, flush=True)\n    a = input()\n    if a == '=':\n        break\n    if a == '<':\n        lo = m + 1\n    else:\n        hi = m - 1\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(addr: std::net::SocketAddr, body: Value) -> Value {
    let r = post_json(addr, "/api/v1/runs?wait=true", &body);
    assert_eq!(r.status, 200, "{}", text(&r.body));
    r.json()["result"].clone()
}

fn refused(addr: std::net::SocketAddr, body: Value, code: u16, why: &str) {
    let r = post_json(addr, "/api/v1/runs", &body);
    assert_eq!(r.status, code, "{body}: {}", text(&r.body));
    assert!(text(&r.body).contains(why), "{why}: {}", text(&r.body));
}

#[test]
fn sandbox_http_grades_tests_files_and_checkers_and_refuses_the_bad_cases() {
    let (inst, addr) = Instance::start_http("grade-http", &[]);
    let r = run(
        addr,
        json!({"language": "c", "source": SUM_C, "tests": [
        {"stdin": "1 2\n", "expected_output": "3\n"},
        {"name": "big", "stdin": "1000000000 1000000000", "expected_output": "2000000000"},
        {"stdin": "1 1", "expected_output": "3"}]}),
    );
    assert_eq!(
        (
            r["verdict"].as_str(),
            r["passed"].as_u64(),
            r["total"].as_u64()
        ),
        (Some("wrong_answer"), Some(2), Some(3)),
        "{r}"
    );
    assert_eq!(r["tests"][1]["name"], "big");
    assert_eq!(
        r["tests"][2]["message"],
        "line 1: expected \"3\", got \"2\""
    );
    let r = run(
        addr,
        json!({"files": [
        {"name": "main.cpp", "content": "#include \"u.hpp\"\n#include <cstdio>\nint main(){std::printf(\"%d\\n\", f());}\n"},
        {"name": "u.cpp", "content": "#include \"u.hpp\"\nint f(){return 7;}\n"},
        {"name": "u.hpp", "content": "int f();\n"}], "compile_options": ["-std=c++20", "-O0"]}),
    );
    assert_eq!(
        (r["verdict"].as_str(), r["stdout"].as_str()),
        (Some("accepted"), Some("7\n")),
        "{r}"
    );
    let r = run(
        addr,
        json!({"language": "python", "source": "print('1.0000001 2')", "checker": "float:1e-6",
        "tests": [{"expected_output": "1 2.0000000"}]}),
    );
    assert_eq!(r["verdict"], "accepted", "{r}");
    // A checker that crashes: the checker's failure, never accepted.
    let r = run(
        addr,
        json!({"language": "python", "source": "print(1)", "tests": [{"expected_output": "1"}],
        "checker": {"language": "python", "source": "import os\nos.abort()\n"}}),
    );
    assert_eq!(r["verdict"], "internal_error", "{r}");
    assert!(
        r["tests"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("the checker failed"),
        "{r}"
    );
    // An interactor that never answers: a deadlock, ended at the wall limit, said so.
    let r = run(
        addr,
        json!({"language": "python", "source": GUESS_SOLVER, "wall_limit_ms": 2000,
        "tests": [{"stdin": "5"}], "interactor": {"language": "python", "source": "import time\ntime.sleep(60)\n"}}),
    );
    assert_eq!(
        (r["verdict"].as_str(), r["time_limit"].as_str()),
        (Some("time_limit"), Some("wall")),
        "{r}"
    );
    assert!(
        r["tests"][0]["message"]
            .as_str()
            .unwrap()
            .contains("deadlock"),
        "{r}"
    );

    let c = |extra: Value| {
        let mut b = json!({"language": "c", "source": SUM_C});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    refused(addr, c(json!({"checker": "fuzzy"})), 422, "unknown checker");
    refused(
        addr,
        c(json!({"compile_options": ["-wrapper"]})),
        422,
        "under another program",
    );
    refused(
        addr,
        json!({"files": [{"name": "../x.c", "content": "int main(){}"}]}),
        422,
        "refused",
    );
    let many: Vec<Value> = (0..65).map(|_| json!({"stdin": ""})).collect();
    refused(addr, c(json!({"tests": many})), 422, "--max-tests");
    refused(
        addr,
        c(json!({"tests": [], "stdin": "1"})),
        422,
        "tests is empty",
    );
    refused(
        addr,
        c(json!({"checker": {"language": "cobol", "source": "x"}})),
        422,
        "cobol",
    );
    assert_eq!(inst.status()["gateway"]["restarts"], 0);
}

#[test]
fn sandbox_http_batches_answer_in_order_each_submission_on_its_own() {
    let (_inst, addr) = Instance::start_http("grade-batch", &[]);
    let subs = json!({"submissions": [
        {"language": "python", "source": "print(1)"},
        {"language": "python", "source": "print(2)", "bogus": true},
        {"language": "c", "source": SUM_C, "stdin": "20 22"}]});
    let r = post_json(addr, "/api/v1/runs/batch", &subs);
    assert_eq!(r.status, 202, "{}", text(&r.body));
    let runs = r.json()["runs"].clone();
    assert!(
        runs[0]["id"].is_string() && runs[2]["id"].is_string(),
        "{runs}"
    );
    assert_eq!(runs[1]["error"]["code"], "invalid_request", "{runs}");
    let ids = format!(
        "{},{}",
        runs[0]["id"].as_str().unwrap(),
        runs[2]["id"].as_str().unwrap()
    );
    let path = format!("/api/v1/runs?ids={ids},{}", "0".repeat(32));
    wait_for(
        "both runs of the batch to finish",
        Duration::from_secs(60),
        || {
            let docs = get(addr, &path).json();
            docs["runs"][0]["status"] == "done" && docs["runs"][1]["status"] == "done"
        },
    );
    let docs = get(addr, &path).json();
    assert_eq!(docs["runs"][0]["result"]["stdout"], "1\n");
    assert_eq!(docs["runs"][1]["result"]["stdout"], "42\n");
    assert_eq!(docs["runs"][2]["status"], "unknown");
    let many: Vec<Value> = (0..21)
        .map(|_| json!({"language": "python", "source": "print(1)"}))
        .collect();
    let r = post_json(addr, "/api/v1/runs/batch", &json!({ "submissions": many }));
    assert_eq!(r.status, 422, "{}", text(&r.body));
    assert_eq!(get(addr, "/api/v1/runs?ids=").status, 422);
    assert_eq!(get(addr, &format!("/api/v1/runs?ids={ids},")).status, 422);
    assert_eq!(get(addr, "/api/v1/runs?ids=../x").status, 422);
}
