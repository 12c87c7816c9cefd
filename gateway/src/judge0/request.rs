//! A Judge0 submission as clients send it: a JSON object whose fields may be `null`
//! (absent), numbers sent as numbers or as strings (Rails reads both), booleans likewise,
//! and `source_code`, `stdin`, `expected_output` in base64 when `base64_encoded=true`
//! (`additional_files` always). Unknown fields are ignored, as Judge0 ignores them. Reading
//! never fails as a whole: each bad field is an error under its own name, all reported at once.

use serde_json::{Map, Value};

use super::reply::FieldErrors;

/// The fields of one submission, decoded.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pub source_code: Option<Vec<u8>>,
    pub language_id: Option<i64>,
    pub stdin: Option<Vec<u8>>,
    pub expected_output: Option<Vec<u8>>,
    pub compiler_options: Option<String>,
    pub command_line_arguments: Option<String>,
    pub number_of_runs: Option<f64>,
    pub cpu_time_limit: Option<f64>,
    pub cpu_extra_time: Option<f64>,
    pub wall_time_limit: Option<f64>,
    pub memory_limit: Option<f64>,
    pub stack_limit: Option<f64>,
    pub max_processes_and_or_threads: Option<f64>,
    pub enable_per_process_and_thread_time_limit: Option<bool>,
    pub enable_per_process_and_thread_memory_limit: Option<bool>,
    pub max_file_size: Option<f64>,
    pub redirect_stderr_to_stdout: Option<bool>,
    pub callback_url: Option<String>,
    /// The zip, decoded from base64.
    pub additional_files: Option<Vec<u8>>,
    pub enable_network: Option<bool>,
}

/// Reads one submission object; `base64` says how the three text fields are encoded.
pub fn read(obj: &Map<String, Value>, base64: bool) -> Result<Fields, FieldErrors> {
    let mut r = Reader {
        obj,
        errors: FieldErrors::default(),
    };
    let text = |r: &mut Reader, name| {
        if base64 {
            r.base64(name)
        } else {
            r.string(name).map(String::into_bytes)
        }
    };
    let f = Fields {
        source_code: text(&mut r, "source_code"),
        language_id: r.number("language_id").map(|n| n as i64),
        stdin: text(&mut r, "stdin"),
        expected_output: text(&mut r, "expected_output"),
        compiler_options: r.string("compiler_options"),
        command_line_arguments: r.string("command_line_arguments"),
        number_of_runs: r.number("number_of_runs"),
        cpu_time_limit: r.number("cpu_time_limit"),
        cpu_extra_time: r.number("cpu_extra_time"),
        wall_time_limit: r.number("wall_time_limit"),
        memory_limit: r.number("memory_limit"),
        stack_limit: r.number("stack_limit"),
        max_processes_and_or_threads: r.number("max_processes_and_or_threads"),
        enable_per_process_and_thread_time_limit: r
            .boolean("enable_per_process_and_thread_time_limit"),
        enable_per_process_and_thread_memory_limit: r
            .boolean("enable_per_process_and_thread_memory_limit"),
        max_file_size: r.number("max_file_size"),
        redirect_stderr_to_stdout: r.boolean("redirect_stderr_to_stdout"),
        callback_url: r.string("callback_url"),
        additional_files: r.base64("additional_files"),
        enable_network: r.boolean("enable_network"),
    };
    if r.errors.is_empty() {
        Ok(f)
    } else {
        Err(r.errors)
    }
}

struct Reader<'a> {
    obj: &'a Map<String, Value>,
    errors: FieldErrors,
}

impl Reader<'_> {
    /// The field, unless absent or `null`.
    fn get(&self, name: &str) -> Option<&Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    fn string(&mut self, name: &'static str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.errors.add(name, "must be a string");
                None
            }
        }
    }

    fn number(&mut self, name: &'static str) -> Option<f64> {
        let n = match self.get(name)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.errors.add(name, "is not a number");
                None
            }
        }
    }

    fn boolean(&mut self, name: &'static str) -> Option<bool> {
        match self.get(name)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => {
                self.errors.add(name, "must be true or false");
                None
            }
        }
    }

    fn base64(&mut self, name: &'static str) -> Option<Vec<u8>> {
        let s = self.string(name)?;
        match decode_base64(&s) {
            Ok(b) => Some(b),
            Err(e) => {
                self.errors.add(name, format!("is not valid base64 ({e})"));
                None
            }
        }
    }
}

/// Standard base64, padded or not, line breaks and spaces ignored (Judge0 itself writes a
/// line break every 60 characters).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT.decode(compact).map_err(|e| e.to_string())
}

/// Base64 as Judge0 writes it (Ruby's `encode64`): a line break after every 60 characters.
pub fn encode_base64(b: &[u8]) -> String {
    use base64::Engine;
    let flat = base64::engine::general_purpose::STANDARD.encode(b);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for chunk in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_are_absent_numbers_may_be_strings_and_every_bad_field_is_named() {
        let v = json!({"source_code": "cHJpbnQoMSk=", "language_id": "71", "stdin": null,
            "cpu_time_limit": 2.5, "redirect_stderr_to_stdout": "false", "extra": 1});
        let f = read(v.as_object().unwrap(), true).unwrap();
        assert_eq!(f.source_code.as_deref(), Some(&b"print(1)"[..]));
        assert_eq!(
            (f.language_id, f.stdin, f.cpu_time_limit),
            (Some(71), None, Some(2.5))
        );
        assert_eq!(f.redirect_stderr_to_stdout, Some(false));
        let v = json!({"source_code": "%%%", "memory_limit": "lots", "enable_network": 3});
        let e = read(v.as_object().unwrap(), true).unwrap_err();
        assert_eq!(
            e.0.keys().copied().collect::<Vec<_>>(),
            ["enable_network", "memory_limit", "source_code"]
        );
    }

    #[test]
    fn base64_round_trips_in_judge0s_line_shape() {
        let data: Vec<u8> = (0..=255).collect();
        let text = encode_base64(&data);
        assert!(text.lines().all(|l| l.len() <= 60) && text.ends_with('\n'));
        assert_eq!(decode_base64(&text).unwrap(), data);
        assert_eq!(decode_base64("aGk").unwrap(), b"hi");
        assert!(decode_base64("a$b=").is_err());
        assert_eq!(encode_base64(b""), "");
    }
}
