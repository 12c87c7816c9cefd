//! The compile cache: the same source, language and compiler give the same binary, so the
//! archive a compile produced is kept under the SHA-256 of all three and handed to the next
//! run of that source without compiling. Private to the instance (a 0700 directory in its
//! runtime directory, removed with it at stop), shared by its workers, bounded in bytes: the
//! least recently used entries go first.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::language::Language;

/// The cache directory of an instance.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl CompileCache {
    /// Opens (creating, 0700) `dir`; `max_bytes` 0 disables the cache.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<CompileCache> {
        if let Err(e) = fs::DirBuilder::new().mode(0o700).create(dir) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(e);
            }
        }
        Ok(CompileCache {
            dir: dir.to_path_buf(),
            max_bytes,
        })
    }

    /// The key of a compile.
    pub fn key(lang: Language, compiler: &str, command: &[String], source: &[u8]) -> String {
        let mut h = Sha256::new();
        for part in [lang.name().as_bytes(), compiler.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        for part in command {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update((source.len() as u64).to_le_bytes());
        h.update(source);
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The archive stored under `key`, if any (and marks it recently used).
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        if self.max_bytes == 0 {
            return None;
        }
        let path = self.dir.join(key);
        let bytes = fs::read(&path).ok()?;
        if let Ok(f) = fs::File::open(&path) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
        Some(bytes)
    }

    /// Stores `archive` under `key` (written to a temporary name, then renamed: a reader never
    /// sees half an entry), then trims the cache to its size.
    pub fn put(&self, key: &str, archive: &[u8]) {
        if self.max_bytes == 0 || archive.len() as u64 > self.max_bytes {
            return;
        }
        let tmp = self.dir.join(format!(".{key}.{}", std::process::id()));
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(archive));
        match written.and_then(|()| fs::rename(&tmp, self.dir.join(key))) {
            Ok(()) => self.trim(),
            Err(e) => {
                log::warn!("compile cache: {e}");
                let _ = fs::remove_file(&tmp);
            }
        }
    }

    fn trim(&self) {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = dir
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((m.modified().ok()?, m.len(), e.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_entries_by_key_and_stays_within_its_size() {
        let dir = std::env::temp_dir().join(format!("kennel-cache-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let c = CompileCache::open(&dir, 100).unwrap();
        let k1 = CompileCache::key(Language::C, "gcc", &[], b"a");
        let k2 = CompileCache::key(Language::C, "gcc", &[], b"b");
        assert_ne!(k1, k2);
        assert_ne!(k1, CompileCache::key(Language::Cpp, "gcc", &[], b"a"));
        assert_eq!(c.get(&k1), None);
        c.put(&k1, &[1; 60]);
        assert_eq!(c.get(&k1), Some(vec![1; 60]));
        c.put(&k2, &[2; 60]);
        assert_eq!(c.get(&k2), Some(vec![2; 60]), "the newest entry stays");
        assert_eq!(c.get(&k1), None, "the oldest went to stay within 100 bytes");
        let mode = fs::metadata(&dir).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
