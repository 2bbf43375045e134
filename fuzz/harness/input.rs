//! A cursor over fuzz input. Reads never fail: past the end they return zeros / empty slices,
//! so every byte string is a valid input and the harnesses need no error paths of their own.

/// Splits fuzz input into small numbers and length-prefixed chunks.
pub struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.rest.len());
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        head
    }

    /// A chunk whose length is given by one byte (0–255).
    pub fn chunk8(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.take(n)
    }

    /// A chunk whose length is given by two bytes (0–65535).
    pub fn chunk16(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }

    /// A CoAP token: one length byte (taken modulo 9, so 0–8 bytes), then the bytes.
    pub fn token(&mut self) -> Vec<u8> {
        let n = usize::from(self.u8() % 9);
        self.take(n).to_vec()
    }

    /// Everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.rest.len())
    }
}

/// Appends a length-prefixed chunk as [`Input::chunk8`] reads it (for building seeds).
pub fn put_chunk8(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len().min(255);
    out.push(n as u8);
    out.extend_from_slice(&bytes[..n]);
}

/// Appends a length-prefixed chunk as [`Input::chunk16`] reads it (for building seeds).
pub fn put_chunk16(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len().min(65535);
    out.extend_from_slice(&(n as u16).to_be_bytes());
    out.extend_from_slice(&bytes[..n]);
}
