//! `--config kennel.toml`: every flag of the watchdog can be set in the file, under its own
//! name (`max-workers = 4`, `time-limit = "2s"`, `require-token = true`), and request-type
//! aliases in `[types.NAME]` tables. Flags on the command line override the file. An unknown
//! key, a value of the wrong kind or one its flag refuses stops the start with the file, the
//! line and the reason. `contrib/kennel.toml` is an annotated example.
//!
//! The file becomes flags, parsed by the same clap definition as the command line, so a key
//! means exactly what its flag means and is validated by the same code.

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;

use kennel_options::watchdog::Args;

/// Keys of a `[types.NAME]` table.
const TYPE_KEYS: [&str; 2] = ["service", "answer"];

/// The command line with the configuration file's flags merged in before it (so the command
/// line wins), or a message naming the file and the line.
pub fn merged_args(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let Some(path) = config_path(&argv) else {
        return Ok(argv);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
    let given = cli_flags(&argv);
    let from_file = flags_from(&path, &text, &given)?;
    // The file's flags alone must parse: a bad value is reported at its line.
    let exe = argv
        .first()
        .cloned()
        .unwrap_or_else(|| "kennel-watchdog".into());
    if let Err(e) = <Args as clap::Parser>::try_parse_from(
        std::iter::once(exe.clone()).chain(from_file.iter().map(|(_, f)| f.clone())),
    ) {
        let flag = e.to_string();
        let line = from_file
            .iter()
            .find(|(key, _)| flag.contains(&format!("--{key}")))
            .map_or(0, |(key, _)| line_of(&text, key));
        let first = flag
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        return Err(format!("{}:{line}: {first}", path.display()));
    }
    let mut out = vec![exe];
    out.extend(from_file.into_iter().map(|(_, f)| f));
    out.extend(argv.into_iter().skip(1));
    Ok(out)
}

/// `--config FILE` or `--config=FILE`, if given.
fn config_path(argv: &[OsString]) -> Option<std::path::PathBuf> {
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--config" {
            return it.next().map(Into::into);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(p.into());
        }
    }
    None
}

/// The long flags present on the command line (`--max-workers 4` → `max-workers`).
fn cli_flags(argv: &[OsString]) -> Vec<String> {
    let mut out: Vec<String> = argv
        .iter()
        .filter_map(|a| {
            a.to_str()?
                .strip_prefix("--")
                .map(|f| f.split('=').next().unwrap_or(f).to_string())
        })
        .collect();
    // The pool's size is one choice: any of its flags on the command line replaces the file's.
    if out
        .iter()
        .any(|f| matches!(f.as_str(), "workers" | "min-workers" | "max-workers"))
    {
        out.extend(["workers", "min-workers", "max-workers"].map(String::from));
    }
    out
}

/// The file's flags, each with the key it came from, skipping those the command line gives.
fn flags_from(
    path: &Path,
    text: &str,
    given: &[String],
) -> Result<Vec<(String, OsString)>, String> {
    let at = |key: &str, why: String| format!("{}:{}: {why}", path.display(), line_of(text, key));
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map_or(0, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        format!("{}:{line}: {}", path.display(), e.message())
    })?;
    let known: Vec<String> = Args::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .filter(|l| l != "config")
        .collect();
    let mut out = Vec::new();
    for (key, value) in &table {
        if key == "types" {
            out.extend(types(value).map_err(|(k, why)| at(&k, why))?);
            continue;
        }
        if !known.contains(key) {
            return Err(at(
                key,
                format!("unknown key {key:?} (the keys are kennel-watchdog's flags: see --help)"),
            ));
        }
        if given.contains(key) {
            continue;
        }
        let flag = OsString::from(format!("--{key}"));
        match value {
            toml::Value::Boolean(true) => out.push((key.clone(), flag)),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => out.extend([(key.clone(), flag), (key.clone(), s.into())]),
            toml::Value::Integer(n) => {
                out.extend([(key.clone(), flag), (key.clone(), n.to_string().into())])
            }
            toml::Value::Float(x) => {
                out.extend([(key.clone(), flag), (key.clone(), x.to_string().into())])
            }
            other => {
                return Err(at(
                    key,
                    format!("{key} takes one value, not {}", other.type_str()),
                ))
            }
        }
    }
    Ok(out)
}

/// `[types.NAME] service = "…", answer = "port" | "addr-port"` as `--type-alias` flags.
fn types(value: &toml::Value) -> Result<Vec<(String, OsString)>, (String, String)> {
    let table = value.as_table().ok_or((
        "types".to_string(),
        "types must be a table of [types.NAME] tables".to_string(),
    ))?;
    let mut out = Vec::new();
    for (name, t) in table {
        let t = t.as_table().ok_or((
            format!("types.{name}"),
            format!("[types.{name}] must be a table"),
        ))?;
        if let Some(bad) = t.keys().find(|k| !TYPE_KEYS.contains(&k.as_str())) {
            return Err((
                bad.clone(),
                format!("[types.{name}]: unknown key {bad:?} (service, answer)"),
            ));
        }
        let service = t.get("service").and_then(toml::Value::as_str).ok_or((
            format!("types.{name}"),
            format!("[types.{name}] needs service = \"…\""),
        ))?;
        let answer = t
            .get("answer")
            .and_then(toml::Value::as_str)
            .unwrap_or("port");
        out.push(("type-alias".to_string(), "--type-alias".into()));
        out.push((
            "type-alias".to_string(),
            format!("{name}={service}/{answer}").into(),
        ));
    }
    Ok(out)
}

/// The 1-based line where `key` is set (`key =`, or a `[types.key]` header), 0 if not found.
fn line_of(text: &str, key: &str) -> usize {
    let bare = key.rsplit('.').next().unwrap_or(key);
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            let is_key = l
                .strip_prefix(bare)
                .is_some_and(|r| r.trim_start().starts_with('='));
            is_key
                || l.starts_with(&format!("[types.{bare}]"))
                || l.starts_with(&format!("[{key}]"))
        })
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(file: &str, cli: &[&str]) -> Result<Vec<String>, String> {
        let path = std::env::temp_dir().join(format!(
            "kennel-config-{}-{}.toml",
            std::process::id(),
            file.len()
        ));
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = vec![
            "kennel-watchdog".into(),
            "--config".into(),
            path.clone().into(),
        ];
        argv.extend(cli.iter().map(OsString::from));
        let r = merged_args(argv).map(|v| {
            v.into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        });
        let _ = std::fs::remove_file(path);
        r
    }

    #[test]
    fn the_file_becomes_flags_and_the_command_line_wins() {
        let v = merged(
            "max-workers = 4\nmin-workers = 1\ntime-limit = \"2s\"\nrequire-token = true\n",
            &["--port", "0"],
        )
        .unwrap();
        let line = v.join(" ");
        for pair in [
            "--max-workers 4",
            "--min-workers 1",
            "--time-limit 2s",
            "--require-token",
        ] {
            assert!(line.contains(pair), "{pair} in {line}");
        }
        assert!(
            line.ends_with("--port 0"),
            "the command line comes last: {line}"
        );
        let v = merged("max-workers = 4\nmin-workers = 1\n", &["--workers", "3"]).unwrap();
        assert!(
            !v.join(" ").contains("max-workers"),
            "the command line's pool replaces the file's"
        );
        let v = merged(
            "[types.i_have_a_request_please]\nservice = \"requetetype1\"\nanswer = \"addr-port\"\n",
            &[],
        )
        .unwrap();
        assert!(v
            .join(" ")
            .contains("--type-alias i_have_a_request_please=requetetype1/addr-port"));
    }

    #[test]
    fn mistakes_name_the_file_and_the_line() {
        let e = merged("port = 2222\nfrobnicate = 1\n", &[]).unwrap_err();
        assert!(e.contains(".toml:2: unknown key \"frobnicate\""), "{e}");
        let e = merged("port = 2222\n\ntime-limit = \"forever\"\n", &[]).unwrap_err();
        assert!(e.contains(".toml:3: "), "{e}");
        assert!(e.contains("forever"), "{e}");
        let e = merged("port = [1, 2]\n", &[]).unwrap_err();
        assert!(
            e.contains(".toml:1: port takes one value, not array"),
            "{e}"
        );
        let e = merged("port = \n", &[]).unwrap_err();
        assert!(e.contains(".toml:1: "), "{e}");
        let e = merged("[types.x]\nservice = \"echo\"\ncolour = \"red\"\n", &[]).unwrap_err();
        assert!(
            e.contains(".toml:3: [types.x]: unknown key \"colour\""),
            "{e}"
        );
    }
}
