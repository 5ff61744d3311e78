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
//!
//! Kafka's format has no checksum, so a flipped digit still parses. Each
//! checkpoint therefore has a mirror under `.meta/` with the same text and a
//! CRC-32C line, written first; on open the mirror wins whenever its CRC
//! holds, and any disagreement is reported.

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

fn render(checkpoint: &Checkpoint) -> String {
    let mut text = format!("0\n{}\n", checkpoint.len());
    for ((topic, partition), offset) in checkpoint {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    text
}

#[cfg(test)]
pub fn write(storage: &dyn Storage, path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    storage
        .write_atomic(path, render(checkpoint).as_bytes())
        .map_err(|e| Error::io("write checkpoint", path, e))
}

/// Writes the checksummed mirror, then Kafka's file: a crash in between
/// leaves the mirror newer, and the mirror is what `read_checked` trusts.
pub fn write_with_mirror(
    storage: &dyn Storage,
    path: &Path,
    mirror: &Path,
    checkpoint: &Checkpoint,
) -> Result<()> {
    let text = render(checkpoint);
    // Paired with `parse` on open: what is written reads back the same.
    debug_assert_eq!(
        parse(&text).as_ref(),
        Some(checkpoint),
        "a checkpoint reads back as written"
    );
    let crc = crc32c::crc32c(text.as_bytes());
    let mirrored = format!("{text}crc32c {crc:08x}\n");
    storage
        .write_atomic(mirror, mirrored.as_bytes())
        .map_err(|e| Error::io("write checkpoint", mirror, e))?;
    storage
        .write_atomic(path, text.as_bytes())
        .map_err(|e| Error::io("write checkpoint", path, e))
}

fn read_mirror(mirror: &Path) -> Option<Checkpoint> {
    let text = std::fs::read_to_string(mirror).ok()?;
    let body_end = text.trim_end_matches('\n').rfind('\n')? + 1;
    let (body, crc_line) = text.split_at_checked(body_end)?;
    let crc = u32::from_str_radix(crc_line.trim().strip_prefix("crc32c ")?, 16).ok()?;
    if crc32c::crc32c(body.as_bytes()) != crc {
        return None;
    }
    parse(body)
}

/// What a checkpoint and its mirror say together.
#[derive(Debug, Default)]
pub struct Checked {
    pub checkpoint: Option<Checkpoint>,
    /// Why the result is not simply both files agreeing, when it is not.
    pub doubt: Option<String>,
}

/// Reads Kafka's file and the mirror: the mirror when its CRC holds (and
/// a note when Kafka's file differs), else Kafka's file (a directory from
/// before mirrors, or Kafka's own), else nothing.
pub fn read_checked(path: &Path, mirror: &Path) -> Checked {
    let kafka = read(path);
    let kafka_present = path.exists();
    match (read_mirror(mirror), mirror.exists()) {
        (Some(m), _) => Checked {
            doubt: (kafka.as_ref() != Some(&m)).then(|| {
                format!(
                    "{} {} its checksummed copy in {}; the copy was used",
                    path.display(),
                    if kafka_present {
                        "differs from"
                    } else {
                        "is missing beside"
                    },
                    mirror.display()
                )
            }),
            checkpoint: Some(m),
        },
        (None, mirror_present) => Checked {
            doubt: match (&kafka, mirror_present, kafka_present) {
                (Some(_), true, _) => Some(format!(
                    "the checksummed copy {} fails its CRC; {} was used as it is",
                    mirror.display(),
                    path.display()
                )),
                (None, _, true) => Some(format!("{} does not parse", path.display())),
                _ => None,
            },
            checkpoint: kafka,
        },
    }
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
