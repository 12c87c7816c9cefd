//! `POST /api/v2/execute`'s body checked in Piston's order and words (`language is required
//! as a string`, `python-2 runtime is unknown`, `run_timeout cannot exceed the configured
//! limit of 30000`), and turned into Kennel's `Submission`. Limits are Kennel's: the run's
//! (`run_timeout` wall ms, `run_cpu_time` ms, `run_memory_limit` bytes) are applied per
//! request; the compile's are the operator's, so a request may ask up to them.

use kennel_runner::{Language, SourceFile, Submission};
use serde_json::{Map, Value};

use super::runtimes::{find, Runtime};
use crate::settings::Settings;
use crate::toolchains::Toolchain;

/// A Piston error: its message (answered as `{"message": ...}` with 400).
pub type Refusal = String;

/// Reads the body into a submission for the runtime it names.
pub fn build(
    body: &Map<String, Value>,
    tools: &[Toolchain],
    s: &Settings,
) -> Result<(Submission, Runtime), Refusal> {
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    };
    let language = text("language").ok_or("language is required as a string")?;
    let version = text("version").ok_or("version is required as a string")?;
    let Some(Value::Array(files)) = body.get("files") else {
        return Err("files is required as an array".into());
    };
    let mut decoded = Vec::new();
    for (i, f) in files.iter().enumerate() {
        decoded.push(file(i, f)?);
    }
    let rt = find(tools, language, version)
        .map_err(|e| format!("version {e}"))?
        .ok_or_else(|| format!("{language}-{version} runtime is unknown"))?;
    if !decoded.iter().any(|(_, _, utf8)| *utf8) {
        return Err("files must include at least one utf8 encoded file".into());
    }
    let mut sub = Submission {
        language: Some(rt.kennel),
        stdin: match body.get("stdin") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(t)) => t.clone().into_bytes(),
            Some(_) => return Err("stdin must be a string".into()),
        },
        args: args(body.get("args"))?,
        ..Default::default()
    };
    limits(body, &mut sub, s)?;
    program(&mut sub, rt.kennel, decoded)?;
    Ok((sub, rt))
}

/// One file: its name (Piston's `file{i}.code` when none), content, and whether it is text.
fn file(i: usize, f: &Value) -> Result<(String, Vec<u8>, bool), Refusal> {
    let content = f
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("files[{i}].content is required as a string"))?;
    let name = match f.get("name") {
        None | Some(Value::Null) => format!("file{i}.code"),
        Some(Value::String(n)) if !n.is_empty() => n.clone(),
        Some(_) => return Err(format!("files[{i}].name must be a string")),
    };
    let encoding = f.get("encoding").and_then(Value::as_str).unwrap_or("utf8");
    let bytes = match encoding {
        "utf8" | "utf-8" => content.as_bytes().to_vec(),
        "base64" => crate::judge0::request::decode_base64(content)
            .map_err(|e| format!("files[{i}].content is not valid base64 ({e})"))?,
        "hex" => hex(content).ok_or_else(|| format!("files[{i}].content is not valid hex"))?,
        other => {
            return Err(format!(
                "files[{i}].encoding {other:?}: use utf8, base64 or hex"
            ))
        }
    };
    Ok((name, bytes, matches!(encoding, "utf8" | "utf-8")))
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn args(v: Option<&Value>) -> Result<Vec<Vec<u8>>, Refusal> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone().into_bytes()),
                _ => Err("args must be an array of strings".to_string()),
            })
            .collect(),
        Some(_) => Err("args must be an array of strings".into()),
    }
}

/// Piston's constraint checks, against Kennel's configured limits; 0, -1 and absent mean
/// the default.
fn limits(body: &Map<String, Value>, sub: &mut Submission, s: &Settings) -> Result<(), Refusal> {
    let r = &s.worker.runner;
    let ms = |d: std::time::Duration| d.as_millis() as f64;
    let compile_wall = ms(r.compile_time_limit) * 2.0;
    let table: [(&str, f64); 6] = [
        ("compile_timeout", compile_wall),
        ("run_timeout", ms(r.wall_limit_max)),
        ("compile_cpu_time", ms(r.compile_time_limit)),
        ("run_cpu_time", ms(r.time_limit_max)),
        ("compile_memory_limit", r.compile_memory_limit as f64),
        ("run_memory_limit", r.memory_limit_max as f64),
    ];
    for (name, configured) in table {
        let v = match body.get(name) {
            None | Some(Value::Null) => continue,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(_) => return Err(format!("If specified, {name} must be a number")),
        };
        if v == 0.0 || v == -1.0 {
            continue;
        }
        if v.is_nan() || v > configured {
            return Err(format!(
                "{name} cannot exceed the configured limit of {configured}"
            ));
        }
        if v < 0.0 {
            return Err(format!("{name} must be non-negative"));
        }
        match name {
            "run_timeout" => sub.wall_limit_ms = Some(v.ceil() as u64),
            "run_cpu_time" => sub.time_limit_ms = Some(v.ceil() as u64),
            "run_memory_limit" => sub.memory_limit_kib = Some((v / 1024.0).ceil() as u64),
            _ => {} // the compile's limits are the operator's (docs/HTTP.md)
        }
    }
    Ok(())
}

/// The files, named so Kennel's toolchain takes them: the first (the one Piston runs) gets
/// the language's extension when it lacks it; a Java file is named after its public class.
fn program(
    sub: &mut Submission,
    lang: Language,
    files: Vec<(String, Vec<u8>, bool)>,
) -> Result<(), Refusal> {
    let mut out: Vec<SourceFile> = Vec::new();
    for (i, (name, content, _)) in files.into_iter().enumerate() {
        let name = source_name(lang, i, name, &content);
        if name.contains('/') {
            return Err(format!(
                "file {name:?} is in a directory: Kennel takes files flat"
            ));
        }
        kennel_runner::program::check_name(&name)?;
        if out.iter().any(|f| f.name == name) {
            return Err(format!("two files are named {name:?}"));
        }
        out.push(SourceFile { name, content });
    }
    if lang == Language::Python {
        sub.entry = out.first().map(|f| f.name.clone());
    }
    sub.files = out;
    Ok(())
}

fn source_name(lang: Language, i: usize, name: String, content: &[u8]) -> String {
    let ext = match lang {
        Language::C => ".c",
        Language::Cpp => ".cpp",
        Language::Python => ".py",
        Language::Java => ".java",
    };
    let ok = name.ends_with(ext)
        || (lang == Language::Cpp
            && [".cc", ".cxx", ".h", ".hpp"]
                .iter()
                .any(|e| name.ends_with(e)));
    if lang != Language::Java && (ok || i > 0) {
        return name;
    }
    if lang == Language::Java {
        return match public_class(content) {
            Some(class) => format!("{class}.java"),
            None if name.ends_with(ext) => name,
            None if i == 0 => "Main.java".into(),
            None => format!("{name}{ext}"),
        };
    }
    crate::toolchains::source_file(lang).to_string()
}

/// The name of a Java file's public top-level class (javac wants the file named after it).
fn public_class(content: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(content).ok()?;
    let mut words = text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'));
    while let Some(w) = words.next() {
        if w == "public" {
            let mut rest = words.clone().filter(|w| !w.is_empty());
            let next = rest.next();
            let next = if matches!(next, Some("final" | "abstract")) {
                rest.next()
            } else {
                next
            };
            if matches!(next, Some("class" | "interface" | "enum" | "record")) {
                return rest.next().map(String::from);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_for_the_toolchain() {
        assert_eq!(
            source_name(Language::Python, 0, "file0.code".into(), b""),
            "main.py"
        );
        assert_eq!(
            source_name(Language::Python, 1, "util.py".into(), b""),
            "util.py"
        );
        assert_eq!(source_name(Language::Cpp, 0, "a.cc".into(), b""), "a.cc");
        let java =
            b"import x;\npublic final class Hello { public static void main(String[] a) {} }";
        assert_eq!(
            source_name(Language::Java, 0, "file0.code".into(), java),
            "Hello.java"
        );
        assert_eq!(
            source_name(Language::Java, 0, "x".into(), b"class A {}"),
            "Main.java"
        );
        assert_eq!(hex("48690a"), Some(b"Hi\n".to_vec()));
        assert_eq!(hex("4"), None);
    }
}
