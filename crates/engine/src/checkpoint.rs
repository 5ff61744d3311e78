//! Offset checkpoint files in Kafka's text format, used for the recovery
//! point and the log start offset:
//!
//! ```text
//! 0            <- version
//! 2            <- number of entries
//! orders 0 1234
//! orders 1 99
//! ```
//!
//! Written atomically through the storage seam. A file that does not parse is
//! ignored as a whole (recovery then scans everything), never half-trusted.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::Storage;

pub type Checkpoint = BTreeMap<(String, u32), u64>;

/// The most entries a checkpoint may hold: more is treated as corrupt.
const CHECKPOINT_ENTRIES_MAX: usize = 1 << 20;

pub fn read(path: &Path) -> Option<Checkpoint> {
    let text = std::fs::read_to_string(path).ok()?;
    parse(&text)
}

fn parse(text: &str) -> Option<Checkpoint> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "0" {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    if count > CHECKPOINT_ENTRIES_MAX {
        return None;
    }
    let mut out = Checkpoint::new();
    for _ in 0..count {
        let line = lines.next()?;
        let mut parts = line.rsplitn(3, ' ');
        let offset: u64 = parts.next()?.parse().ok()?;
        let partition: u32 = parts.next()?.parse().ok()?;
        let topic = parts.next()?;
        if topic.is_empty() {
            return None;
        }
        out.insert((topic.to_string(), partition), offset);
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return None;
    }
    Some(out)
}

pub fn write(storage: &dyn Storage, path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    let mut text = format!("0\n{}\n", checkpoint.len());
    for ((topic, partition), offset) in checkpoint {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    storage
        .write_atomic(path, text.as_bytes())
        .map_err(|e| Error::io("write checkpoint", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_garbage() {
        let mut c = Checkpoint::new();
        c.insert(("a.b-c".into(), 3), 42);
        c.insert(("x".into(), 0), 0);
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("cp");
        write(&crate::io::RealStorage, &p, &c).expect("write");
        assert_eq!(read(&p), Some(c));
        assert_eq!(parse("1\n0\n"), None);
        assert_eq!(parse("0\n2\nx 0 1\n"), None);
        assert_eq!(parse("0\n1\nx zero 1\n"), None);
        assert_eq!(parse("0\n1\nx 0 1\ny 0 2\n"), None);
    }
}
