//! Sans-IO assembly of client frames into messages, with every RFC 6455 rule enforced as
//! early as possible: text is validated while its bytes arrive, sizes are checked when a
//! header arrives, control frames may come between fragments.

use super::deflate::{Deflate, InflateError, Inflater};
use super::frame::{FrameError, FrameHeader, OpCode, apply_mask, parse_client_header};
use super::utf8::Utf8Validator;
use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    Text,
    Binary,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole message: a piece of the caller's buffer when it came in one frame that
    /// [`Receiver::whole_message`] could take, assembled otherwise.
    Message(DataKind, Bytes),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The peer's close frame: its code and reason, if it gave one.
    Close(Option<(u16, String)>),
}

/// Why we fail the connection; [`ProtocolError::close_code`] is what we tell the peer.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    #[error("new data frame while a fragmented message is unfinished")]
    ExpectedContinuation,
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    #[error("message longer than {0} bytes")]
    MessageTooBig(usize),
    #[error("close frame with a 1-byte payload")]
    CloseFrameTooShort,
    #[error("close code {0} is not allowed on the wire")]
    InvalidCloseCode(u16),
    #[error(transparent)]
    Inflate(#[from] InflateError),
}

impl ProtocolError {
    pub fn close_code(self) -> u16 {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::Inflate(InflateError::Corrupt) => 1007,
            ProtocolError::MessageTooBig(_) | ProtocolError::Inflate(InflateError::TooBig(_)) => {
                1009
            }
            _ => 1002,
        }
    }
}

/// Codes a peer may send in a close frame (RFC 6455 7.4 and the IANA registry).
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[derive(Debug)]
struct Frame {
    header: FrameHeader,
    received: u64,
}

#[derive(Debug)]
pub struct Receiver {
    max_message: usize,
    frame: Option<Frame>,
    kind: Option<DataKind>,
    message: Vec<u8>,
    control: Vec<u8>,
    utf8: Utf8Validator,
    /// Set when permessage-deflate was negotiated.
    inflater: Option<Inflater>,
    /// The message being received is compressed: its text is checked once inflated.
    compressed: bool,
    /// What is left to do after an error (see [`Receiver::feed`]).
    after_error: AfterError,
}

/// After an error we have told the peer about, all that is left is to notice its Close
/// frame, so the connection can end cleanly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterError {
    /// No error yet.
    Nothing,
    /// The error was about a message (its text, size, order or compression): frames
    /// still parse, data frames are skipped unchecked, control frames are reported.
    SkipData,
    /// The error was in the framing itself: nothing after it can be trusted.
    SkipAll,
}

impl Receiver {
    pub fn new(max_message: usize) -> Receiver {
        Receiver {
            max_message,
            frame: None,
            kind: None,
            message: Vec::new(),
            control: Vec::new(),
            utf8: Utf8Validator::default(),
            inflater: None,
            compressed: false,
            after_error: AfterError::Nothing,
        }
    }

    /// Accepts messages compressed with permessage-deflate, as negotiated.
    pub fn with_deflate(mut self, deflate: Option<Deflate>) -> Receiver {
        self.inflater = deflate.map(Inflater::new);
        self
    }

    /// Payload bytes still to come for the frame being received (0 between frames).
    pub fn pending_payload(&self) -> usize {
        self.frame.as_ref().map_or(0, |f| {
            (f.header.len - f.received).min(usize::MAX as u64) as usize
        })
    }

    /// Where the rest of the current data frame's payload can be read to directly, and
    /// how many bytes of it are still to come (`None` for control frames, between
    /// frames, or when little is left: then `feed` is as good).
    pub fn payload_target(&mut self) -> Option<(&mut Vec<u8>, usize)> {
        let frame = self.frame.as_ref()?;
        let remaining = (frame.header.len - frame.received) as usize;
        if frame.header.opcode.is_control() || remaining < 4096 || self.skips_data() {
            return None;
        }
        Some((&mut self.message, remaining))
    }

    /// Accounts for `n` payload bytes the caller appended to the message through
    /// [`Receiver::payload_target`]: unmasks and checks them as `feed` would.
    pub fn payload_appended(&mut self, n: usize) -> Result<Option<Event>, ProtocolError> {
        let result = self.appended(n);
        self.note(result)
    }

    fn appended(&mut self, n: usize) -> Result<Option<Event>, ProtocolError> {
        let checking = self.checks_text_on_arrival();
        let Some(frame) = self.frame.as_mut() else {
            return Ok(None);
        };
        let header = frame.header;
        let start = self.message.len() - n;
        let fresh = &mut self.message[start..];
        apply_mask(fresh, header.mask, frame.received);
        frame.received += n as u64;
        if checking && self.utf8.feed(fresh).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        if frame.received < header.len {
            return Ok(None);
        }
        self.frame = None;
        self.finish_frame(header)
    }

    /// Remembers an error, for what [`Receiver::feed`] does after one.
    fn note<T>(&mut self, result: Result<T, ProtocolError>) -> Result<T, ProtocolError> {
        if let Err(e) = &result {
            self.after_error = match e {
                ProtocolError::Frame(_) => AfterError::SkipAll,
                _ => AfterError::SkipData,
            };
            (self.kind, self.compressed) = (None, false);
            self.message = Vec::new();
        }
        result
    }

    /// Text is checked as its bytes arrive, unless compressed: that is checked once
    /// inflated, when the message is whole.
    fn checks_text_on_arrival(&self) -> bool {
        self.kind == Some(DataKind::Text) && !self.compressed
    }

    fn skips_data(&self) -> bool {
        self.after_error != AfterError::Nothing
    }

    /// Splits a whole message off the front of `buf` without copying it, when it is one
    /// plain data frame already complete there (the usual case for small messages): its
    /// payload is unmasked in place and its text checked at once. `None` leaves `buf` to
    /// [`Receiver::feed`]: for a message under way, a fragment, a control, compressed,
    /// oversized, incomplete or malformed frame, and after an error.
    pub fn whole_message(&mut self, buf: &mut BytesMut) -> Option<Result<Event, ProtocolError>> {
        if self.frame.is_some() || self.kind.is_some() || self.skips_data() {
            return None;
        }
        let Ok(Some((header, n))) = parse_client_header(buf) else {
            return None;
        };
        let kind = match header.opcode {
            OpCode::Text => DataKind::Text,
            OpCode::Binary => DataKind::Binary,
            _ => return None,
        };
        if !header.fin || header.rsv1 || header.len > self.max_message as u64 {
            return None;
        }
        let end = n.checked_add(header.len as usize)?;
        if buf.len() < end {
            return None;
        }
        let mut payload = buf.split_to(end);
        payload.advance(n);
        apply_mask(&mut payload, header.mask, 0);
        if kind == DataKind::Text && std::str::from_utf8(&payload).is_err() {
            return Some(self.note(Err(ProtocolError::InvalidUtf8)));
        }
        Some(Ok(Event::Message(kind, payload.freeze())))
    }

    /// Consumes bytes from the front of `input`. Returns how many were consumed and the
    /// next event, if one completed. Call again with the rest until it returns
    /// `Ok(None)`, which means it needs more input.
    ///
    /// After an error, feeding more only looks for the peer's Close (and other control
    /// frames), skipping data unchecked; after an error in the framing itself it skips
    /// everything.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Result<Option<Event>, ProtocolError>) {
        if self.after_error == AfterError::SkipAll {
            return (input.len(), Ok(None));
        }
        let (n, result) = self.feed_frames(input);
        (n, self.note(result))
    }

    fn feed_frames(&mut self, input: &[u8]) -> (usize, Result<Option<Event>, ProtocolError>) {
        let mut pos = 0;
        loop {
            if self.frame.is_none() {
                match self.start_frame(&input[pos..]) {
                    Ok(Some(n)) => pos += n,
                    Ok(None) => return (pos, Ok(None)),
                    Err(e) => return (pos, Err(e)),
                }
            }
            let checking = self.checks_text_on_arrival();
            let keeping = !self.skips_data();
            let Some(frame) = self.frame.as_mut() else {
                return (pos, Ok(None));
            };
            let header = frame.header;
            let n = ((header.len - frame.received) as usize).min(input.len() - pos);
            let chunk = &input[pos..pos + n];
            let mut bad_text = false;
            if header.opcode.is_control() {
                self.control.extend_from_slice(chunk);
            } else if keeping {
                let start = self.message.len();
                self.message.extend_from_slice(chunk);
                let fresh = &mut self.message[start..];
                apply_mask(fresh, header.mask, frame.received);
                bad_text = checking && self.utf8.feed(fresh).is_err();
            }
            frame.received += n as u64;
            pos += n;
            if bad_text {
                return (pos, Err(ProtocolError::InvalidUtf8));
            }
            if frame.received < header.len {
                return (pos, Ok(None));
            }
            self.frame = None;
            match self.finish_frame(header) {
                Ok(None) => continue,
                other => return (pos, other),
            }
        }
    }

    /// Parses and checks the next header; returns its length, or `None` for "need more".
    fn start_frame(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some((header, n)) = parse_client_header(input)? else {
            return Ok(None);
        };
        if self.skips_data() && !header.opcode.is_control() {
            self.frame = Some(Frame {
                header,
                received: 0,
            });
            return Ok(Some(n));
        }
        // RSV1 marks the first frame of a compressed message, and only that.
        let starts_message = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if header.rsv1 && (self.inflater.is_none() || !starts_message) {
            return Err(FrameError::ReservedBits.into());
        }
        if starts_message {
            self.compressed = header.rsv1;
        }
        match header.opcode {
            OpCode::Continuation if self.kind.is_none() => {
                return Err(ProtocolError::UnexpectedContinuation);
            }
            OpCode::Text | OpCode::Binary if self.kind.is_some() => {
                return Err(ProtocolError::ExpectedContinuation);
            }
            OpCode::Text => {
                self.kind = Some(DataKind::Text);
                self.utf8.reset();
            }
            OpCode::Binary => self.kind = Some(DataKind::Binary),
            _ => {}
        }
        if !header.opcode.is_control() {
            let total = self.message.len() as u64 + header.len;
            if total > self.max_message as u64 {
                return Err(ProtocolError::MessageTooBig(self.max_message));
            }
            // Reserve for what the header promises, but never trust it with more than 1 MiB;
            // and a byte more, for a caller that reads the rest of the payload straight into
            // the message (`payload_target`) with room for one byte of what follows:
            // without it that read reallocated the message once a large frame.
            self.message.reserve((header.len as usize).min(1 << 20) + 1);
        }
        self.frame = Some(Frame {
            header,
            received: 0,
        });
        Ok(Some(n))
    }

    fn finish_frame(&mut self, header: FrameHeader) -> Result<Option<Event>, ProtocolError> {
        if header.opcode.is_control() {
            let mut payload = std::mem::take(&mut self.control);
            apply_mask(&mut payload, header.mask, 0);
            return match header.opcode {
                OpCode::Ping => Ok(Some(Event::Ping(payload))),
                OpCode::Pong => Ok(Some(Event::Pong(payload))),
                _ => parse_close(&payload).map(|c| Some(Event::Close(c))),
            };
        }
        if !header.fin || self.skips_data() {
            return Ok(None);
        }
        let kind = self.kind.take().unwrap_or(DataKind::Binary);
        let mut message = std::mem::take(&mut self.message);
        if self.compressed {
            if let Some(inflater) = self.inflater.as_mut() {
                message = inflater.inflate(&mut message, self.max_message)?;
            }
            if kind == DataKind::Text && std::str::from_utf8(&message).is_err() {
                return Err(ProtocolError::InvalidUtf8);
            }
        } else if kind == DataKind::Text && !self.utf8.is_complete() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(Some(Event::Message(kind, message.into())))
    }
}

fn parse_close(payload: &[u8]) -> Result<Option<(u16, String)>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::CloseFrameTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}

#[cfg(test)]
mod tests;
