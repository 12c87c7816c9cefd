//! A minimal file archive, the one way files cross the sandbox's wall: the worker packs the
//! source into it, `kennel-run` unpacks it into the sandbox's private `/work`, and after a
//! compile packs the compiler's output back. Flat (no directories), names checked on the way
//! in, sizes bounded, so a hostile archive can write nothing outside `/work`.
//!
//! Format, repeated until the end: `u16` name length (little-endian), the name, one mode byte
//! (`0` = 0644, `1` = 0755), `u64` data length, the data.

use std::path::Path;

/// Most entries one archive may hold (a Java program's classes, a source file).
pub const MAX_ENTRIES: usize = 4096;

/// One file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub executable: bool,
    pub data: Vec<u8>,
}

/// A file name the archive accepts: ASCII letters, digits, `.`, `_`, `-`, `$` (Java's inner
/// classes), not starting with a dot, at most 255 bytes. No `/`: the archive is flat.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'$'))
}

/// A path the archive accepts: up to 8 names (each `valid_name`) joined by `/`, at most 255
/// bytes. Compiled Java keeps its packages in directories (`pkg/Main.class`); a submitted
/// file is always a plain name.
pub fn valid_path(path: &str) -> bool {
    path.len() <= 255 && path.split('/').count() <= 8 && path.split('/').all(valid_name)
}

/// Appends `entries` to an archive.
pub fn pack(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.data.len() + 300).sum());
    for e in entries {
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.push(u8::from(e.executable));
        out.extend_from_slice(&(e.data.len() as u64).to_le_bytes());
        out.extend_from_slice(&e.data);
    }
    out
}

/// `archive` with `extra` after it, without reading it back: an archive is its entries one
/// after another. (A name twice fails the unpacking in the sandbox: `unpack_into` creates.)
pub fn with(archive: &[u8], extra: &[Entry]) -> Vec<u8> {
    let mut out = archive.to_vec();
    out.extend_from_slice(&pack(extra));
    out
}

/// Reads an archive; any malformed byte is an error, never a panic.
pub fn unpack(mut bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        if entries.len() == MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} files"));
        }
        let name_len = u16::from_le_bytes(take::<2>(&mut bytes)?) as usize;
        let name = take_slice(&mut bytes, name_len)?;
        let name = std::str::from_utf8(name)
            .ok()
            .filter(|n| valid_path(n))
            .ok_or("a file name that is not allowed")?
            .to_string();
        let [mode] = take::<1>(&mut bytes)?;
        if mode > 1 {
            return Err(format!("unknown mode {mode}"));
        }
        let len = u64::from_le_bytes(take::<8>(&mut bytes)?);
        let len = usize::try_from(len).map_err(|_| "a file too large")?;
        let data = take_slice(&mut bytes, len)?.to_vec();
        entries.push(Entry {
            name,
            executable: mode == 1,
            data,
        });
    }
    Ok(entries)
}

fn take<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N], String> {
    let s = take_slice(bytes, N)?;
    Ok(s.try_into().expect("take_slice returned N bytes"))
}

fn take_slice<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if bytes.len() < n {
        return Err("truncated archive".into());
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

/// Packs every regular file under `dir` (sorted by path, for a stable cache entry); what is
/// not a plain file or directory with a valid name is left out.
pub fn pack_dir(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut entries = Vec::new();
    collect(dir, "", 0, &mut entries)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pack(&entries))
}

fn collect(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<Entry>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        // `DirEntry::metadata` does not follow a symbolic link.
        let meta = item.metadata()?;
        let Some(name) = item.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let path = format!("{prefix}{name}");
        if !valid_path(&path) || out.len() >= MAX_ENTRIES {
            continue;
        }
        if meta.is_dir() && depth < 7 {
            collect(&item.path(), &format!("{path}/"), depth + 1, out)?;
        } else if meta.is_file() {
            out.push(Entry {
                executable: meta.permissions().mode() & 0o100 != 0,
                data: std::fs::read(item.path())?,
                name: path,
            });
        }
    }
    Ok(())
}

/// Writes `entries` into `dir` (which must exist), with their modes.
pub fn unpack_into(entries: &[Entry], dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    for e in entries {
        let mode = if e.executable { 0o755 } else { 0o644 };
        if let Some((parent, _)) = e.name.rsplit_once('/') {
            // Directories made here only: a name already there that is not a directory
            // (a file, a link) fails the create.
            let mut at = dir.to_path_buf();
            for part in parent.split('/') {
                at.push(part);
                match std::fs::symlink_metadata(&at) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err(std::io::Error::other("a path through a non-directory")),
                    Err(_) => std::fs::create_dir(&at)?,
                }
            }
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(dir.join(&e.name))?;
        std::io::Write::write_all(&mut f, &e.data)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_names_and_truncation() {
        let entries = vec![
            Entry {
                name: "Main.class".into(),
                executable: false,
                data: vec![0xca, 0xfe],
            },
            Entry {
                name: "Main$1.class".into(),
                executable: true,
                data: vec![],
            },
        ];
        let bytes = pack(&entries);
        assert_eq!(unpack(&bytes).unwrap(), entries);
        assert_eq!(with(&pack(&entries[..1]), &entries[1..]), bytes);
        let first_entry = pack(&entries[..1]).len();
        for cut in (1..bytes.len()).filter(|c| *c != first_entry) {
            assert!(unpack(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(unpack(&bytes[..first_entry]).unwrap(), entries[..1]);
        for bad in ["../x", "a/../b", "/a", "a//b", ".hidden", "", "sp ace"] {
            let b = pack(&[Entry {
                name: bad.into(),
                executable: false,
                data: vec![],
            }]);
            assert!(unpack(&b).is_err(), "{bad:?} accepted");
        }
    }
}
