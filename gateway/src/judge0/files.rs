//! Judge0's `additional_files`: a zip whose files are put beside the program. Read with the
//! `zip` crate, every byte bounded: at most `MAX_FILES - 1` entries, at most `max_bytes`
//! decompressed in all — counted as they are inflated, not as the headers claim (a zip bomb
//! lies in its headers) — and only flat, plain names (Kennel's archive into the sandbox is
//! flat). A bad zip is refused with the reason, never half-read.

use std::io::Read;

use kennel_runner::SourceFile;

/// The files of `zip`, in their order.
pub fn unzip(zip: &[u8], max_bytes: u64, max_files: usize) -> Result<Vec<SourceFile>, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| format!("is not a zip archive ({e})"))?;
    let mut files = Vec::new();
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("entry {i} cannot be read ({e})"))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        if name.contains('/') {
            return Err(format!(
                "holds {name:?}, in a directory: Kennel takes the files flat, without directories"
            ));
        }
        kennel_runner::program::check_name(&name)?;
        if files.len() + 1 >= max_files {
            return Err(format!("holds more than {} files", max_files - 1));
        }
        let room = max_bytes - total;
        let mut content = Vec::new();
        (&mut entry)
            .take(room + 1)
            .read_to_end(&mut content)
            .map_err(|e| format!("{name:?} cannot be decompressed ({e})"))?;
        total += content.len() as u64;
        if total > max_bytes {
            return Err(format!(
                "decompresses to more than {} KB (max_extract_size)",
                max_bytes / 1024
            ));
        }
        files.push(SourceFile { name, content });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
        buf.into_inner()
    }

    #[test]
    fn reads_flat_files_and_refuses_bombs_directories_and_garbage() {
        let z = zip_of(&[("a.h", b"int f();".to_vec()), ("data.txt", b"42".to_vec())]);
        let files = unzip(&z, 1 << 20, 64).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            (files[1].name.as_str(), &files[1].content[..]),
            ("data.txt", &b"42"[..])
        );
        // 64 MiB of zeros compress to ~64 KiB: refused once 1 MiB has been inflated.
        let bomb = zip_of(&[("zeros", vec![0u8; 64 << 20])]);
        assert!(bomb.len() < 1 << 20);
        let e = unzip(&bomb, 1 << 20, 64).unwrap_err();
        assert!(e.contains("more than 1024 KB"), "{e}");
        let e = unzip(&zip_of(&[("d/x.c", vec![])]), 1 << 20, 64).unwrap_err();
        assert!(e.contains("directory"), "{e}");
        let e = unzip(&zip_of(&[("../x", vec![])]), 1 << 20, 64).unwrap_err();
        assert!(e.contains("directory") || e.contains("refused"), "{e}");
        assert!(unzip(b"PK\x03\x04 not really", 1 << 20, 64).is_err());
        let many: Vec<(String, Vec<u8>)> = (0..70).map(|i| (format!("f{i}"), vec![])).collect();
        let refs: Vec<(&str, Vec<u8>)> =
            many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        assert!(unzip(&zip_of(&refs), 1 << 20, 64)
            .unwrap_err()
            .contains("more than 63"));
    }
}
