//! Record compression as Kafka's clients write it, so batches interoperate
//! with Apache Kafka and its clients:
//!
//! * gzip: a standard gzip member (RFC 1952).
//! * snappy: xerial snappy-java's stream framing, which the Java client
//!   writes (an 8-byte magic, two int32 versions, then blocks of int32
//!   length + raw snappy). Reading also accepts a bare raw snappy block.
//! * lz4: an LZ4 frame (independent 64 KiB blocks, no checksums beyond the
//!   header's), as Kafka's KafkaLZ4BlockOutputStream writes.
//! * zstd: a standard zstd frame.
//!
//! Decompression is bounded: output past `max_bytes` is an error, so a small
//! hostile batch cannot expand into gigabytes.

use std::io::{Read, Write};

/// The attribute bits (0-2) that number a batch's codec.
pub const COMPRESSION_MASK: u16 = 0x07;

/// Compression codecs as numbered in the batch attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Records stored as they are.
    None = 0,
    /// A gzip member (RFC 1952).
    Gzip = 1,
    /// snappy in xerial snappy-java's framing.
    Snappy = 2,
    /// An LZ4 frame.
    Lz4 = 3,
    /// A zstd frame.
    Zstd = 4,
}

impl Compression {
    /// The codec that batch attributes name, None for an unknown number
    /// (which makes the batch invalid).
    pub fn from_attributes(attributes: u16) -> Option<Compression> {
        match attributes & COMPRESSION_MASK {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The codec's name as Kafka's `compression.type` spells it, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Why records could not be compressed or decompressed.
#[derive(Debug, thiserror::Error)]
pub enum CompressionError {
    /// The input is not valid data of the codec.
    #[error("{codec} data is malformed: {reason}")]
    Malformed {
        /// The codec's name.
        codec: &'static str,
        /// What the codec reported.
        reason: String,
    },
    /// Decompression would pass the caller's bound (a possible bomb).
    #[error("{codec} data expands past the {max_bytes}-byte limit")]
    TooLarge {
        /// The codec's name.
        codec: &'static str,
        /// The bound it passed.
        max_bytes: usize,
    },
    /// A codec number outside 0-4.
    #[error("compression codec {0} is not known")]
    Unknown(u16),
}

/// xerial snappy-java's stream magic.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// The magic and the two int32 versions that open a xerial stream.
const XERIAL_HEADER_BYTES: usize = 16;
/// Uncompressed bytes per xerial block (snappy-java's default).
const XERIAL_BLOCK_BYTES: usize = 32 * 1024;

fn malformed(codec: &'static str, e: impl std::fmt::Display) -> CompressionError {
    CompressionError::Malformed {
        codec,
        reason: e.to_string(),
    }
}

/// Compresses `data` with `codec`. `level` is the codec's own level, or
/// None for its default.
pub fn compress(
    codec: Compression,
    data: &[u8],
    level: Option<i32>,
) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let level = level.map_or(flate2::Compression::default(), |l| {
                flate2::Compression::new(l.clamp(0, 9) as u32)
            });
            let mut enc =
                flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2 + 64), level);
            enc.write_all(data).map_err(|e| malformed("gzip", e))?;
            enc.finish().map_err(|e| malformed("gzip", e))
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(data.len() / 2 + 32);
            out.extend_from_slice(&XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            for block in data.chunks(XERIAL_BLOCK_BYTES) {
                let c = enc
                    .compress_vec(block)
                    .map_err(|e| malformed("snappy", e))?;
                out.extend_from_slice(&(c.len() as i32).to_be_bytes());
                out.extend_from_slice(&c);
            }
            Ok(out)
        }
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(
                info,
                Vec::with_capacity(data.len() / 2 + 32),
            );
            enc.write_all(data).map_err(|e| malformed("lz4", e))?;
            enc.finish().map_err(|e| malformed("lz4", e))
        }
        Compression::Zstd => {
            zstd::bulk::compress(data, level.unwrap_or(3)).map_err(|e| malformed("zstd", e))
        }
    }
}

/// Reads all of `r` into a Vec, failing past `max_bytes`.
fn read_bounded(
    mut r: impl Read,
    codec: &'static str,
    max_bytes: usize,
    hint: usize,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::with_capacity(hint.min(max_bytes));
    let n = r
        .by_ref()
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| malformed(codec, e))?;
    if n > max_bytes {
        return Err(CompressionError::TooLarge { codec, max_bytes });
    }
    Ok(out)
}

/// Decompresses `data` written with `codec`, producing at most `max_bytes`.
pub fn decompress(
    codec: Compression,
    data: &[u8],
    max_bytes: usize,
) -> Result<Vec<u8>, CompressionError> {
    let hint = data.len().saturating_mul(4);
    match codec {
        Compression::None => {
            if data.len() > max_bytes {
                return Err(CompressionError::TooLarge {
                    codec: "none",
                    max_bytes,
                });
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => read_bounded(
            flate2::read::MultiGzDecoder::new(data),
            "gzip",
            max_bytes,
            hint,
        ),
        Compression::Lz4 => read_bounded(
            lz4_flex::frame::FrameDecoder::new(data),
            "lz4",
            max_bytes,
            hint,
        ),
        Compression::Zstd => {
            let dec =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|e| malformed("zstd", e))?;
            read_bounded(dec, "zstd", max_bytes, hint)
        }
        Compression::Snappy => decompress_snappy(data, max_bytes),
    }
}

fn snappy_block(block: &[u8], out: &mut Vec<u8>, max_bytes: usize) -> Result<(), CompressionError> {
    let len = snap::raw::decompress_len(block).map_err(|e| malformed("snappy", e))?;
    if out.len() + len > max_bytes {
        return Err(CompressionError::TooLarge {
            codec: "snappy",
            max_bytes,
        });
    }
    let start = out.len();
    out.resize(start + len, 0);
    let target = out
        .get_mut(start..)
        .ok_or_else(|| malformed("snappy", "output buffer did not grow"))?;
    let written = snap::raw::Decoder::new()
        .decompress(block, target)
        .map_err(|e| malformed("snappy", e))?;
    debug_assert_eq!(written, len, "snappy wrote what its header promised");
    Ok(())
}

fn decompress_snappy(data: &[u8], max_bytes: usize) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    if !data.starts_with(&XERIAL_MAGIC) {
        snappy_block(data, &mut out, max_bytes)?;
        return Ok(out);
    }
    // The magic, then two int32 versions.
    let Some(mut rest) = data.get(XERIAL_HEADER_BYTES..) else {
        return Err(malformed("snappy", "xerial header is truncated"));
    };
    while !rest.is_empty() {
        let (len, after) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| malformed("snappy", "xerial block length is truncated"))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| malformed("snappy", "xerial block length is negative"))?;
        let (block, after) = after
            .split_at_checked(len)
            .ok_or_else(|| malformed("snappy", "xerial block runs past the data"))?;
        snappy_block(block, &mut out, max_bytes)?;
        rest = after;
    }
    Ok(out)
}

/// Maps the attribute codec number (0-4) to a codec.
pub fn codec_from_id(id: u16) -> Result<Compression, CompressionError> {
    Compression::from_attributes(id).ok_or(CompressionError::Unknown(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn frames_have_the_formats_kafka_reads() {
        let data = vec![b'k'; 100_000];
        assert_eq!(
            &compress(Compression::Gzip, &data, None).unwrap()[..2],
            &[0x1f, 0x8b]
        );
        let s = compress(Compression::Snappy, &data, None).unwrap();
        assert_eq!(&s[..8], &XERIAL_MAGIC);
        assert_eq!(&s[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(
            &compress(Compression::Lz4, &data, None).unwrap()[..4],
            &[0x04, 0x22, 0x4d, 0x18]
        );
        assert_eq!(
            &compress(Compression::Zstd, &data, None).unwrap()[..4],
            &[0x28, 0xb5, 0x2f, 0xfd]
        );
        // A bare raw snappy block, as some clients write, is read too.
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 1 << 20).unwrap(),
            data
        );
    }

    #[test]
    fn decompression_is_bounded_and_garbage_is_an_error() {
        let data = vec![0u8; 1 << 20];
        for codec in ALL {
            let c = compress(codec, &data, None).unwrap();
            assert!(
                matches!(
                    decompress(codec, &c, 1000),
                    Err(CompressionError::TooLarge { .. })
                ),
                "{codec:?}"
            );
        }
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(
                decompress(codec, b"definitely not compressed", 1 << 20).is_err(),
                "{codec:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..70_000), codec in 0usize..5) {
            let codec = ALL[codec];
            let c = compress(codec, &data, None).unwrap();
            prop_assert_eq!(decompress(codec, &c, 1 << 20).unwrap(), data);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), codec in 1usize..5) {
            let _ = decompress(ALL[codec], &data, 1 << 16);
        }
    }
}
