//! A minimal writer of `newc` cpio archives, the initramfs format. The
//! kernel unpacks archives laid end to end, so the guest backend appends
//! one with the agent to the base initramfs of `scripts/kernels.sh`.

use std::collections::BTreeSet;

/// An archive being built: directories are added for every parent path.
#[derive(Default)]
pub struct Archive {
    out: Vec<u8>,
    dirs: BTreeSet<String>,
    ino: u32,
}

impl Archive {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            1, // nlink
            0, // mtime
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0, // check
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.out.len() % 4 != 0 {
            self.out.push(0);
        }
    }

    fn parents(&mut self, path: &str) {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if self.dirs.insert(prefix.clone()) {
                let dir = prefix.clone();
                self.entry(&dir, 0o040755, &[]);
            }
        }
    }

    /// Adds a regular file at `path` (absolute or relative to the root).
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.parents(path);
        let name = path.trim_start_matches('/').to_string();
        self.entry(&name, 0o100000 | (mode & 0o7777), data);
    }

    /// The archive with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_aligned_and_parents_come_first() {
        let mut a = Archive::default();
        a.file("/lib64/ld.so", 0o755, b"abc");
        let out = a.finish();
        assert_eq!(out.len() % 4, 0);
        let text = String::from_utf8_lossy(&out);
        let dir = text.find("lib64\0").unwrap();
        let file = text.find("lib64/ld.so\0").unwrap();
        assert!(dir < file);
        assert!(text.contains("TRAILER!!!"));
        // The header of the file: mode 0100755, size 3.
        assert!(text.contains(
            "000081ed00000000000000000000000100000000\
00000003"
        ));
    }
}
