//! A bounds-checked cursor over a frame's bytes, shared by every decoder.
//!
//! Each read either returns the value and advances, or returns [`Problem::Truncated`] naming
//! the offset; nothing here can index out of bounds, so a decoder written against
//! [`Reader`] cannot panic on a short or hostile frame.
#![deny(clippy::indexing_slicing)]

use super::Problem;

/// A cursor over one frame.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// Starts at the first byte.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            offset: 0,
        }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Offset of the next byte from the start of the frame.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The bytes not read yet, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// The next `len` bytes.
    pub fn take(&mut self, len: usize) -> Result<&'a [u8], Problem> {
        if len > self.rest.len() {
            return Err(Problem::Truncated {
                offset: self.offset,
                needed: len - self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        self.offset += len;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Problem> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| Problem::Truncated {
            offset: self.offset,
            needed: N,
        })
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, Problem> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    /// A little-endian u16.
    pub fn u16_le(&mut self) -> Result<u16, Problem> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// A big-endian u16.
    pub fn u16_be(&mut self) -> Result<u16, Problem> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A little-endian i16.
    pub fn i16_le(&mut self) -> Result<i16, Problem> {
        Ok(i16::from_le_bytes(self.array()?))
    }

    /// A big-endian i16.
    pub fn i16_be(&mut self) -> Result<i16, Problem> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    /// A little-endian u32.
    pub fn u32_le(&mut self) -> Result<u32, Problem> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian f32.
    pub fn f32_le(&mut self) -> Result<f32, Problem> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// A little-endian unsigned integer of 1 to 8 bytes.
    pub fn uint_le(&mut self, len: usize) -> Result<u64, Problem> {
        let bytes = self.take(len.min(8))?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A little-endian two's-complement integer of 1 to 8 bytes.
    pub fn int_le(&mut self, len: usize) -> Result<i64, Problem> {
        let len = len.clamp(1, 8);
        let raw = self.uint_le(len)?;
        let shift = 64 - 8 * len as u32;
        Ok(((raw << shift) as i64) >> shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_advance_and_short_reads_name_the_offset() {
        let mut reader = Reader::new(&[0x01, 0xca, 0x09, 0xff, 0xff, 0x7f]);
        assert_eq!(reader.u8(), Ok(1));
        assert_eq!(reader.i16_le(), Ok(2506));
        assert_eq!(reader.int_le(3), Ok(0x7fffff));
        assert_eq!(
            reader.u16_le(),
            Err(Problem::Truncated {
                offset: 6,
                needed: 2
            })
        );
        let mut negative = Reader::new(&[0xea, 0xea]);
        assert_eq!(negative.int_le(2), Ok(-5398));
    }
}
