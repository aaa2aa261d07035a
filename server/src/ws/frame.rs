//! RFC 6455 frame headers: parsing (client to server) and writing (server to client).
//!
//! Sans-IO: byte slices in, headers out. A header parse returns `Ok(None)` when more
//! bytes are needed; incomplete is not invalid.

use bytes::Bytes;
use thiserror::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }
}

/// A violation of the framing rules; the connection fails with close code 1002.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("reserved bits set without a negotiated extension")]
    ReservedBits,
    #[error("reserved opcode {0:#x}")]
    ReservedOpCode(u8),
    #[error("client frame is not masked")]
    UnmaskedFrameFromClient,
    #[error("control frame payload longer than 125 bytes")]
    ControlFrameTooBig,
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    #[error("64-bit payload length has its top bit set")]
    LengthOverflow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    /// RSV1: "this message is compressed" under permessage-deflate; the receiver
    /// decides whether that is allowed.
    pub rsv1: bool,
    pub opcode: OpCode,
    pub mask: [u8; 4],
    pub len: u64,
}

/// Parses a client frame header from the start of `buf`: `Ok(Some((header, header_len)))`,
/// or `Ok(None)` if `buf` does not hold the whole header yet.
pub fn parse_client_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b0 & 0x30 != 0 {
        return Err(FrameError::ReservedBits);
    }
    let opcode = match b0 & 0x0f {
        0x0 => OpCode::Continuation,
        0x1 => OpCode::Text,
        0x2 => OpCode::Binary,
        0x8 => OpCode::Close,
        0x9 => OpCode::Ping,
        0xA => OpCode::Pong,
        other => return Err(FrameError::ReservedOpCode(other)),
    };
    let fin = b0 & 0x80 != 0;
    if b1 & 0x80 == 0 {
        return Err(FrameError::UnmaskedFrameFromClient);
    }
    let (len, mut at) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u16::from_be_bytes([b[0], b[1]]) as u64, 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes(b.try_into().unwrap_or_default());
                if len >> 63 != 0 {
                    return Err(FrameError::LengthOverflow);
                }
                (len, 10)
            }
            None => return Ok(None),
        },
        n => (n as u64, 2),
    };
    if opcode.is_control() {
        if len > 125 {
            return Err(FrameError::ControlFrameTooBig);
        }
        if !fin {
            return Err(FrameError::FragmentedControlFrame);
        }
    }
    let Some(mask) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    let mask = [mask[0], mask[1], mask[2], mask[3]];
    at += 4;
    Ok(Some((
        FrameHeader {
            fin,
            rsv1: b0 & 0x40 != 0,
            opcode,
            mask,
            len,
        },
        at,
    )))
}

/// A server frame ready to write: its header, and its payload without a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    head: [u8; 10],
    head_len: u8,
    pub payload: Bytes,
}

impl Outgoing {
    /// A frame of `payload`: a `Vec` or a received message's `Bytes`, not copied.
    pub fn new(opcode: OpCode, payload: impl Into<Bytes>) -> Outgoing {
        let payload = payload.into();
        let mut head = [0u8; 10];
        head[0] = 0x80 | opcode.bits();
        let len = payload.len();
        let head_len = match len {
            0..=125 => {
                head[1] = len as u8;
                2
            }
            126..=0xffff => {
                head[1] = 126;
                head[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            _ => {
                head[1] = 127;
                head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
                10
            }
        };
        Outgoing {
            head,
            head_len,
            payload,
        }
    }

    /// A data frame whose payload is compressed with permessage-deflate (RSV1 set).
    pub fn compressed(opcode: OpCode, payload: impl Into<Bytes>) -> Outgoing {
        let mut frame = Outgoing::new(opcode, payload);
        frame.head[0] |= 0x40;
        frame
    }

    pub fn head(&self) -> &[u8] {
        &self.head[..self.head_len as usize]
    }

    /// What is left to write after the first `n` bytes (header, then payload), as a
    /// "frame" of those bytes alone, for a writer to finish.
    pub fn after(&self, n: usize) -> Outgoing {
        let head_len = self.head_len as usize;
        let mut head = [0u8; 10];
        let kept = head_len.saturating_sub(n);
        head[..kept].copy_from_slice(&self.head[head_len - kept..head_len]);
        let from = n.saturating_sub(head_len).min(self.payload.len());
        Outgoing {
            head,
            head_len: kept as u8,
            payload: self.payload.slice(from..),
        }
    }

    /// Bytes on the wire.
    pub fn len(&self) -> usize {
        self.head_len as usize + self.payload.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// XORs `data` with the mask, `offset` bytes into the frame's payload (so a payload can
/// be unmasked in pieces as it arrives).
pub fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: u64) {
    let mut m = mask;
    m.rotate_left((offset % 4) as usize);
    let word = u32::from_ne_bytes(m);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (b, k) in chunks.into_remainder().iter_mut().zip(m) {
        *b ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole server frame as one buffer: header and payload.
    fn frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let o = Outgoing::new(opcode, payload.to_vec());
        [o.head(), &o.payload[..]].concat()
    }

    fn check(bytes: &[u8], expected: Result<Option<(FrameHeader, usize)>, FrameError>) {
        assert_eq!(parse_client_header(bytes), expected, "{bytes:02x?}");
    }

    fn header(fin: bool, opcode: OpCode, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv1: false,
            opcode,
            mask: [0x37, 0xfa, 0x21, 0x3d],
            len,
        }
    }

    /// RFC 6455 section 5.7: "A single-frame masked text message" saying "Hello".
    #[test]
    fn rfc6455_masked_hello() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        check(&bytes, Ok(Some((header(true, OpCode::Text, 5), 6))));
        let mut payload = bytes[6..].to_vec();
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, b"Hello");
        // Unmasking in two pieces gives the same.
        let mut a = bytes[6..8].to_vec();
        let mut b = bytes[8..].to_vec();
        apply_mask(&mut a, [0x37, 0xfa, 0x21, 0x3d], 0);
        apply_mask(&mut b, [0x37, 0xfa, 0x21, 0x3d], 2);
        assert_eq!([a, b].concat(), b"Hello");
    }

    /// RFC 6455 section 5.7: the unmasked examples are what a server writes.
    #[test]
    fn rfc6455_server_frames() {
        assert_eq!(
            frame(OpCode::Text, b"Hello"),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        assert_eq!(frame(OpCode::Ping, b"Hello")[..2], [0x89, 0x05]);
        assert_eq!(frame(OpCode::Pong, &[1, 2]), [0x8a, 0x02, 1, 2]);
        assert_eq!(
            Outgoing::new(OpCode::Binary, vec![0; 256]).head(),
            [0x82, 0x7E, 0x01, 0x00]
        );
        let big = Outgoing::new(OpCode::Binary, vec![0; 65536]);
        assert_eq!(big.head(), [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        let o = Outgoing::new(OpCode::Binary, vec![7; 300]);
        assert_eq!(o.head(), [0x82, 0x7E, 0x01, 0x2C]);
        assert_eq!(o.len(), 304);
    }

    #[test]
    fn extended_lengths_and_partial_headers() {
        let mut b16 = vec![0x82, 0xFE, 0x01, 0x00, 0x37, 0xfa, 0x21, 0x3d];
        check(&b16, Ok(Some((header(true, OpCode::Binary, 256), 8))));
        b16[0] = 0x02;
        for n in 0..8 {
            check(&b16[..n], Ok(None));
        }
        let b64 = [0x02, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d];
        check(&b64, Ok(Some((header(false, OpCode::Binary, 65536), 14))));
        for n in 0..14 {
            check(&b64[..n], Ok(None));
        }
    }

    #[test]
    fn rejects() {
        check(&[0x81, 0x05], Err(FrameError::UnmaskedFrameFromClient));
        check(&[0xA1, 0x85], Err(FrameError::ReservedBits));
        check(&[0x91, 0x85], Err(FrameError::ReservedBits));
        // RSV1 is passed on: the receiver knows whether compression was negotiated.
        let (h, _) = parse_client_header(&[0xC1, 0x80, 1, 2, 3, 4])
            .unwrap()
            .unwrap();
        assert!(h.rsv1);
        check(&[0x83, 0x80], Err(FrameError::ReservedOpCode(3)));
        check(&[0x8B, 0x80], Err(FrameError::ReservedOpCode(0xB)));
        check(&[0x89, 0xFE, 0, 126], Err(FrameError::ControlFrameTooBig));
        check(&[0x09, 0x80], Err(FrameError::FragmentedControlFrame));
        check(
            &[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
            Err(FrameError::LengthOverflow),
        );
    }
}
