//! The receiver on literal client frames.

use super::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame.
fn client(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(fin as u8) << 7 | opcode];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    let mut p = payload.to_vec();
    apply_mask(&mut p, MASK, 0);
    out.extend_from_slice(&p);
    out
}

/// Feeds `input` in pieces of `piece` bytes and collects events until the first error.
fn run(input: &[u8], piece: usize, max: usize) -> (Vec<Event>, Option<ProtocolError>) {
    let mut events = Vec::new();
    for seen in run_past_errors(input, piece, max) {
        match seen {
            Ok(e) => events.push(e),
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

fn check(input: &[u8], expected: &[Event], error: Option<ProtocolError>) {
    for piece in [1, 2, 3, 7, input.len().max(1)] {
        let (events, err) = run(input, piece, 1 << 20);
        assert_eq!(events, expected, "piece {piece}");
        assert_eq!(err, error, "piece {piece}");
    }
}

fn text(s: &str) -> Event {
    Event::Message(DataKind::Text, Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn rfc6455_examples() {
    // 5.7: a single masked "Hello".
    check(&client(true, 1, b"Hello"), &[text("Hello")], None);
    // 5.7: a fragmented unmasked-in-the-RFC "Hel" + "lo", here masked as a client must.
    let input = [client(false, 1, b"Hel"), client(true, 0, b"lo")].concat();
    check(&input, &[text("Hello")], None);
    // 5.7: a masked ping with "Hello".
    check(
        &client(true, 9, b"Hello"),
        &[Event::Ping(b"Hello".to_vec())],
        None,
    );
    // 256 and 65536 bytes of binary: 16- and 64-bit lengths.
    for n in [256, 65536] {
        let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
        check(
            &client(true, 2, &data),
            &[Event::Message(DataKind::Binary, data.clone().into())],
            None,
        );
    }
}

#[test]
fn control_frames_between_fragments() {
    let input = [
        client(false, 1, b"frag"),
        client(true, 9, b"p"),
        client(false, 0, b"men"),
        client(true, 10, b""),
        client(true, 0, b"ted"),
    ]
    .concat();
    check(
        &input,
        &[
            Event::Ping(b"p".to_vec()),
            Event::Pong(vec![]),
            text("fragmented"),
        ],
        None,
    );
}

#[test]
fn utf8_split_across_fragments_is_valid() {
    let s = "κόσμε".as_bytes();
    let input = [
        client(false, 1, &s[..1]),
        client(false, 0, &s[1..4]),
        client(true, 0, &s[4..]),
    ]
    .concat();
    check(&input, &[text("κόσμε")], None);
}

#[test]
fn invalid_utf8_fails_before_the_frame_ends() {
    // The bad byte is the 3rd of a 100-byte frame: with the first 12 bytes fed, we fail.
    let mut payload = vec![b'a'; 100];
    payload[2] = 0xff;
    let frame = client(true, 1, &payload);
    let mut r = Receiver::new(1 << 20);
    let (_, res) = r.feed(&frame[..12]);
    assert_eq!(res, Err(ProtocolError::InvalidUtf8));
    assert_eq!(ProtocolError::InvalidUtf8.close_code(), 1007);
    // A message ending mid-character is invalid too.
    check(
        &client(true, 1, &[0xce]),
        &[],
        Some(ProtocolError::InvalidUtf8),
    );
}

/// Feeds `input` in pieces of `piece` bytes and goes on after errors, as a connection
/// does while it waits for the peer's Close: events and errors in order. Whole frames
/// go through [`Receiver::whole_message`] first, as on a connection: every test that
/// expects the same for every piece size (`check`) compares it with `feed`.
fn run_past_errors(input: &[u8], piece: usize, max: usize) -> Vec<Result<Event, ProtocolError>> {
    drive(input, piece, max, true)
}

/// [`run_past_errors`] through `feed` alone.
fn run_feed_only(input: &[u8], piece: usize, max: usize) -> Vec<Result<Event, ProtocolError>> {
    drive(input, piece, max, false)
}

fn drive(input: &[u8], piece: usize, max: usize, whole: bool) -> Vec<Result<Event, ProtocolError>> {
    let mut r = Receiver::new(max);
    let mut seen = Vec::new();
    let mut buf = BytesMut::new();
    for chunk in input.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            if whole && let Some(res) = r.whole_message(&mut buf) {
                seen.push(res);
                continue;
            }
            let (n, res) = r.feed(&buf);
            buf.advance(n);
            match res {
                Ok(Some(e)) => seen.push(Ok(e)),
                Ok(None) => break,
                Err(e) => seen.push(Err(e)),
            }
        }
    }
    seen
}

#[test]
fn after_an_error_only_control_frames_are_reported() {
    let close = client(true, 8, &[0x03, 0xe8]);
    let ping = client(true, 9, b"p");
    let after = [client(true, 1, &[0xff; 40]), ping, close].concat();
    let closed = || Ok(Event::Close(Some((1000, String::new()))));
    let pinged = || Ok(Event::Ping(b"p".to_vec()));
    // A four-byte character broken at its last byte, early in a longer frame: the rest of
    // the frame and the next text frame go unchecked (they once reached a validator
    // holding four bytes, which panicked).
    let mut bad_text = b"ab\xf0\x90\x80A".to_vec();
    bad_text.extend([0xf0; 30]);
    let too_big = client(true, 2, &[7; 300]);
    let cases = [
        (client(true, 1, &bad_text), ProtocolError::InvalidUtf8),
        (too_big, ProtocolError::MessageTooBig(200)),
        (
            client(true, 0, b"orphan"),
            ProtocolError::UnexpectedContinuation,
        ),
        (client(true, 8, &[0x03]), ProtocolError::CloseFrameTooShort),
    ];
    for (first, error) in cases {
        let input = [first, after.clone()].concat();
        for piece in [1, 2, 3, 7, input.len()] {
            let seen = run_past_errors(&input, piece, 200);
            assert_eq!(
                seen,
                [Err(error), pinged(), closed()],
                "{error:?}, piece {piece}"
            );
        }
    }
    // A framing error (an unmasked frame): nothing after it can be parsed, or is.
    let mut unmasked = client(true, 2, b"xyz");
    unmasked[1] &= 0x7f;
    let input = [unmasked, after].concat();
    let seen = run_past_errors(&input, 5, 200);
    assert_eq!(
        seen,
        [Err(ProtocolError::Frame(
            FrameError::UnmaskedFrameFromClient
        ))]
    );
}

#[test]
fn sequencing_errors() {
    check(
        &client(true, 0, b"x"),
        &[],
        Some(ProtocolError::UnexpectedContinuation),
    );
    let input = [client(false, 1, b"a"), client(true, 2, b"b")].concat();
    check(&input, &[], Some(ProtocolError::ExpectedContinuation));
    // Unmasked: the second byte lacks the mask bit.
    check(
        &[0x81, 0x01, b'a'],
        &[],
        Some(ProtocolError::Frame(FrameError::UnmaskedFrameFromClient)),
    );
}

#[test]
fn message_size_limit_counts_all_fragments() {
    let input = [client(false, 2, &[0; 60]), client(true, 0, &[0; 60])].concat();
    let (events, err) = run(&input, 1000, 100);
    assert!(events.is_empty());
    assert_eq!(err, Some(ProtocolError::MessageTooBig(100)));
    assert_eq!(ProtocolError::MessageTooBig(100).close_code(), 1009);
    // The limit is checked on the header: a huge claimed length fails before any payload.
    let mut r = Receiver::new(100);
    let header = [0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
    assert_eq!(r.feed(&header).1, Err(ProtocolError::MessageTooBig(100)));
}

#[test]
fn close_frames() {
    check(&client(true, 8, b""), &[Event::Close(None)], None);
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    check(
        &client(true, 8, &payload),
        &[Event::Close(Some((1000, "bye".into())))],
        None,
    );
    check(
        &client(true, 8, &[3]),
        &[],
        Some(ProtocolError::CloseFrameTooShort),
    );
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000] {
        check(
            &client(true, 8, &code.to_be_bytes()),
            &[],
            Some(ProtocolError::InvalidCloseCode(code)),
        );
    }
    for code in [1000u16, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
        assert!(is_valid_close_code(code), "{code}");
    }
    let bad_reason = [0x03, 0xe8, 0xff];
    check(
        &client(true, 8, &bad_reason),
        &[],
        Some(ProtocolError::InvalidUtf8),
    );
}

/// A payload read straight into the message gives the same events as feeding it.
#[test]
fn payload_appended_directly_matches_feed() {
    let text = "ü".repeat(5000); // 10,000 bytes of two-byte characters
    let frame = client(true, 1, text.as_bytes());
    let mut r = Receiver::new(1 << 20);
    let (n, res) = r.feed(&frame[..8]); // the 8-byte header (16-bit length, mask)
    assert_eq!((n, res), (8, Ok(None)));
    let mut rest = &frame[8..];
    let mut events = Vec::new();
    while !rest.is_empty() {
        let (message, remaining) = r.payload_target().expect("a large payload is pending");
        // Arbitrary piece sizes, splitting characters too.
        let take = remaining.min(3333);
        message.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        if let Some(e) = r.payload_appended(take).unwrap() {
            events.push(e);
        }
        if r.pending_payload() < 4096 && !rest.is_empty() {
            let (n, res) = r.feed(rest);
            rest = &rest[n..];
            events.extend(res.unwrap());
        }
    }
    assert_eq!(events, vec![self::text(&text)]);
    // Invalid UTF-8 read this way still fails at once.
    let mut bad = vec![b'a'; 5000];
    bad[10] = 0xff;
    let frame = client(true, 1, &bad);
    let mut r = Receiver::new(1 << 20);
    assert_eq!(r.feed(&frame[..8]), (8, Ok(None)));
    let (message, _) = r.payload_target().unwrap();
    message.extend_from_slice(&frame[8..108]);
    assert_eq!(r.payload_appended(100), Err(ProtocolError::InvalidUtf8));
}

/// Feeds whole `input` to a receiver that negotiated permessage-deflate.
fn run_deflate(input: &[u8], max: usize) -> (Vec<Event>, Option<ProtocolError>) {
    let deflate = super::super::deflate::negotiate(
        ["permessage-deflate"],
        super::super::deflate::Policy::Accept,
    );
    let mut r = Receiver::new(max).with_deflate(deflate);
    let (mut events, mut pos) = (Vec::new(), 0);
    loop {
        let (n, res) = r.feed(&input[pos..]);
        pos += n;
        match res {
            Ok(Some(e)) => events.push(e),
            Ok(None) => return (events, None),
            Err(e) => return (events, Some(e)),
        }
    }
}

/// RFC 7692 7.2.3.1: "Hello" compressed in one frame (RSV1 set), then in two fragments
/// (7.2.3.1's second example), with a ping between them.
#[test]
fn rfc7692_compressed_messages() {
    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut input = client(true, 0x41, &HELLO);
    input.extend(client(false, 0x41, &HELLO[..3]));
    input.extend(client(true, 0x9, b"p"));
    input.extend(client(true, 0x0, &HELLO[3..]));
    let (events, err) = run_deflate(&input, 100);
    assert_eq!(err, None);
    assert_eq!(
        events,
        [text("Hello"), Event::Ping(b"p".to_vec()), text("Hello")]
    );
    // Uncompressed messages still pass on the same connection.
    let (events, _) = run_deflate(&client(true, 0x1, b"plain"), 100);
    assert_eq!(events, [text("plain")]);
}

#[test]
fn compressed_rejects() {
    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let code = |input: &[u8], max: usize| run_deflate(input, max).1.map(|e| e.close_code());
    // Not negotiated: RSV1 is a protocol error.
    let (_, err) = run(&client(true, 0x41, &HELLO), 1, 100);
    assert_eq!(err.map(|e| e.close_code()), Some(1002));
    // RSV1 on a continuation or a control frame.
    let mut cont = client(false, 0x41, &HELLO[..3]);
    cont.extend(client(true, 0x40, &HELLO[3..]));
    assert_eq!(code(&cont, 100), Some(1002));
    assert_eq!(code(&client(true, 0xC9, b""), 100), Some(1002));
    // Inflates past the limit: 1009; not deflate: 1007.
    assert_eq!(code(&client(true, 0x41, &HELLO), 4), Some(1009));
    assert_eq!(code(&client(true, 0x42, &[0xff; 9]), 100), Some(1007));
    // Compressed text that is not UTF-8 once inflated: 1007.
    let mut bad = Vec::new();
    let deflate = super::super::deflate::negotiate(
        ["permessage-deflate"],
        super::super::deflate::Policy::Accept,
    )
    .unwrap();
    super::super::deflate::compress(
        &[0x48, 0xff, 0xfe],
        deflate,
        super::super::deflate::Content::Any,
        &mut bad,
    );
    assert_eq!(code(&client(true, 0x41, &bad), 100), Some(1007));
}

#[test]
fn whole_frames_in_the_buffer_are_handed_out_in_place() {
    let input = [client(true, 2, b"abc"), client(true, 1, b"de")].concat();
    let mut buf = BytesMut::from(&input[..]);
    let start = buf.as_ptr() as usize;
    let mut r = Receiver::new(1 << 20);
    let Some(Ok(Event::Message(DataKind::Binary, m))) = r.whole_message(&mut buf) else {
        panic!("a whole binary frame");
    };
    assert_eq!(m, &b"abc"[..]);
    assert_eq!(
        m.as_ptr() as usize,
        start + 6,
        "not copied: right after its header"
    );
    let Some(Ok(Event::Message(DataKind::Text, m))) = r.whole_message(&mut buf) else {
        panic!("a whole text frame");
    };
    assert_eq!(m, &b"de"[..]);
    assert!(buf.is_empty());
}

#[test]
fn frames_whole_message_cannot_take_are_left_to_feed() {
    let mut r = Receiver::new(100);
    let untouched = |r: &mut Receiver, bytes: &[u8]| {
        let mut buf = BytesMut::from(bytes);
        assert!(r.whole_message(&mut buf).is_none(), "{bytes:02x?}");
        assert_eq!(&buf[..], bytes, "left as it was");
    };
    let hello = client(true, 1, b"Hello");
    untouched(&mut r, &hello[..hello.len() - 1]); // incomplete
    untouched(&mut r, &client(false, 1, b"Hel")); // a first fragment
    untouched(&mut r, &client(true, 9, b"ping")); // control
    untouched(&mut r, &client(true, 2, &[0; 101])); // over the limit: feed reports it
    let mut unmasked = client(true, 2, b"x");
    unmasked[1] &= 0x7f;
    untouched(&mut r, &unmasked); // malformed: feed reports it
    let mut compressed = client(true, 2, b"x");
    compressed[0] |= 0x40;
    untouched(&mut r, &compressed);
    // Mid-message, even a complete final frame belongs to the general path.
    assert_eq!(r.feed(&client(false, 1, b"Hel")).1, Ok(None));
    untouched(&mut r, &client(true, 0, b"lo"));
    untouched(&mut r, &hello);
}

#[test]
fn bad_text_in_a_whole_frame_fails_as_in_pieces() {
    let mut r = Receiver::new(1 << 20);
    let mut buf = BytesMut::from(&client(true, 1, b"ok\xff")[..]);
    assert_eq!(
        r.whole_message(&mut buf),
        Some(Err(ProtocolError::InvalidUtf8))
    );
    // Afterwards only the peer's Close matters: the general path skips data.
    let mut next = BytesMut::from(&client(true, 1, b"Hello")[..]);
    assert!(r.whole_message(&mut next).is_none());
}

/// One frame for the differential test: mostly well-formed, sometimes not.
fn arbitrary_frame() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    (
        any::<bool>(),
        prop::sample::select(vec![0u8, 1, 2, 8, 9, 10, 3]),
        prop::collection::vec(
            prop::sample::select(vec![b'a', 0xce, 0xba, 0xff, 0x00]),
            0..300,
        ),
        0u8..8,
    )
        .prop_map(|(fin, opcode, payload, flaw)| {
            let mut frame = client(fin, opcode, &payload);
            match flaw {
                0 => frame[1] &= 0x7f, // unmasked
                1 => frame[0] |= 0x40, // RSV1 without deflate
                _ => {}
            }
            frame
        })
}

proptest::proptest! {
    /// Whole frames split off in place (`whole_message`) give exactly what `feed` alone
    /// gives, events and errors, whatever the frames and however the bytes arrive.
    #[test]
    fn whole_messages_and_feed_agree(
        frames in proptest::collection::vec(arbitrary_frame(), 1..8),
        piece in 1usize..400,
        max in proptest::sample::select(vec![100usize, 1 << 20]),
    ) {
        let input = frames.concat();
        proptest::prop_assert_eq!(
            run_past_errors(&input, piece, max),
            run_feed_only(&input, piece, max)
        );
    }
}
