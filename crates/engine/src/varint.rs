//! Zig-zag varints as Kafka's record format uses them (the protobuf encoding).
//!
//! Decoders take a cursor and never read past the slice: every byte they read
//! comes from a caller or from disk and is not trusted.

/// The longest encoding of a 32-bit varint.
pub const VARINT_BYTES_MAX: usize = 5;
/// The longest encoding of a 64-bit varlong.
pub const VARLONG_BYTES_MAX: usize = 10;

/// Why a varint could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The slice ended in the middle of the number.
    Truncated,
    /// More continuation bytes than the type allows.
    TooLong,
}

#[inline]
pub fn zigzag_encode_i64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

#[inline]
pub fn zigzag_decode_i64(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Appends the zig-zag varlong encoding of `value` to `out`.
#[inline]
pub fn write_varlong(out: &mut Vec<u8>, value: i64) {
    let mut v = zigzag_encode_i64(value);
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends the zig-zag varint encoding of `value` to `out`.
#[inline]
pub fn write_varint(out: &mut Vec<u8>, value: i32) {
    write_varlong(out, i64::from(value));
}

/// The number of bytes `write_varlong(value)` produces.
#[cfg(test)]
pub fn varlong_size(value: i64) -> usize {
    let v = zigzag_encode_i64(value);
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads a zig-zag varlong at `*pos`, advancing it.
#[inline]
pub fn read_varlong(bytes: &[u8], pos: &mut usize) -> Result<i64, VarintError> {
    let mut result: u64 = 0;
    let mut shift = 0u32;
    for i in 0..VARLONG_BYTES_MAX {
        let Some(&b) = bytes.get(*pos + i) else {
            return Err(VarintError::Truncated);
        };
        result |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            *pos += i + 1;
            return Ok(zigzag_decode_i64(result));
        }
        shift += 7;
    }
    Err(VarintError::TooLong)
}

/// Reads a zig-zag varint at `*pos`, advancing it. Values outside i32 are
/// rejected rather than silently truncated.
#[inline]
pub fn read_varint(bytes: &[u8], pos: &mut usize) -> Result<i32, VarintError> {
    let start = *pos;
    let value = read_varlong(bytes, pos)?;
    if *pos - start > VARINT_BYTES_MAX {
        return Err(VarintError::TooLong);
    }
    i32::try_from(value).map_err(|_| VarintError::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // Values and encodings from the protobuf zig-zag table.
        let cases: [(i64, &[u8]); 6] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            write_varlong(&mut out, value);
            assert_eq!(out, bytes, "encoding {value}");
            let mut pos = 0;
            assert_eq!(read_varlong(bytes, &mut pos), Ok(value));
            assert_eq!(pos, bytes.len());
        }
        let mut out = Vec::new();
        write_varint(&mut out, 64);
        assert_eq!(out, [0x80, 0x01]);
    }

    #[test]
    fn truncated_and_overlong_inputs_are_errors() {
        let mut pos = 0;
        assert_eq!(read_varlong(&[0x80], &mut pos), Err(VarintError::Truncated));
        let long = [0xffu8; 11];
        let mut pos = 0;
        assert_eq!(read_varlong(&long, &mut pos), Err(VarintError::TooLong));
        // A varlong that does not fit an i32 is not a varint.
        let mut out = Vec::new();
        write_varlong(&mut out, i64::from(i32::MAX) + 1);
        let mut pos = 0;
        assert_eq!(read_varint(&out, &mut pos), Err(VarintError::TooLong));
    }

    proptest! {
        #[test]
        fn varlong_round_trip(value in any::<i64>()) {
            let mut out = Vec::new();
            write_varlong(&mut out, value);
            prop_assert_eq!(out.len(), varlong_size(value));
            let mut pos = 0;
            prop_assert_eq!(read_varlong(&out, &mut pos), Ok(value));
            prop_assert_eq!(pos, out.len());
        }

        #[test]
        fn varint_round_trip(value in any::<i32>()) {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            let mut pos = 0;
            prop_assert_eq!(read_varint(&out, &mut pos), Ok(value));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut pos = 0;
            let _ = read_varlong(&bytes, &mut pos);
            prop_assert!(pos <= bytes.len());
        }
    }
}
