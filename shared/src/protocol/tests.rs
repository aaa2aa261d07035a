//! Byte-level examples, rejects, and property tests for the protocol.

use super::*;
use proptest::prelude::*;

fn encode(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode(&mut out);
    out
}

fn check_bytes(m: Message, expected: &[u8]) {
    let bytes = encode(&m);
    assert_eq!(bytes, expected, "{m:?}");
    assert_eq!(Message::decode(&bytes), Ok(m));
}

fn check_err(bytes: &[u8], expected: DecodeError) {
    assert_eq!(Message::decode(bytes), Err(expected), "{bytes:02x?}");
}

fn camera() -> Camera {
    Camera {
        x: 1.0,
        y: 2.0,
        altitude: 3.0,
        yaw: 0.5,
        horizon: -0.25,
        distance: 800.0,
        fov: 1.5,
    }
}

#[test]
fn literal_encodings() {
    check_bytes(Message::Ping(7), &[8, 7, 0, 0, 0]);
    check_bytes(Message::Pong(0x0403_0201), &[9, 1, 2, 3, 4]);
    check_bytes(Message::SetMode(RenderMode::Client), &[7, 1]);
    check_bytes(Message::Pause(true), &[12, 1]);
    check_bytes(Message::GetMap, &[13]);
    check_bytes(Message::Abandon, &[18]);
    check_bytes(Message::Resize(640, 360), &[19, 0x80, 2, 0x68, 1]);
    // A frame's labels: count, then id, x, y; the encoding byte after them.
    let labelled = encode(&Message::Frame(Frame {
        seq: 0,
        camera: camera(),
        last_input: 0,
        width: 1,
        height: 1,
        labels: vec![Label {
            id: 7,
            x: -2,
            y: 300,
        }],
        encoding: FrameEncoding::Raw,
        payload: &[9],
    }));
    assert_eq!(&labelled[41..], &[1, 7, 0, 0xfe, 0xff, 0x2c, 0x01, 0, 9]);
    check_bytes(
        Message::Race(RaceEvent::Gate {
            gate: 3,
            split: 0x0102,
            best: 0,
        }),
        &[15, 1, 3, 2, 1, 0, 0, 0, 0, 0, 0],
    );
    check_bytes(
        Message::Result(RunResult {
            course: 0x0807_0605_0403_0201,
            name: "Ann".into(),
            time: 3600,
            rank: 1,
            record: true,
        }),
        &[
            16, 1, 2, 3, 4, 5, 6, 7, 8, 3, 0, b'A', b'n', b'n', 0x10, 0x0e, 0, 0, 1, 0, 0, 0, 1,
        ],
    );
    check_bytes(
        Message::Hello(Hello {
            version: 1,
            mode: RenderMode::Server,
            width: 320,
            height: 200,
            encodings: 3,
            name: "ab".into(),
        }),
        &[1, 1, 0, 0, 0x40, 1, 200, 0, 3, 2, 0, b'a', b'b'],
    );
    check_bytes(
        Message::Input(Input {
            seq: 258,
            keys: keys::FORWARD | keys::FAST,
            look_x: -1,
            look_y: 2,
            client_time: 9,
        }),
        &[3, 2, 1, 0, 0, 0x01, 0x01, 0xff, 0xff, 2, 0, 9, 0, 0, 0],
    );
    check_bytes(
        Message::Error {
            code: ErrorCode::BadViewport,
            text: "no".into(),
        },
        &[10, 3, 0, 2, 0, b'n', b'o'],
    );
}

#[test]
fn frame_layout() {
    let payload = [5u8; 64 * 48];
    let m = Message::Frame(Frame {
        labels: Vec::new(),
        seq: 1,
        camera: camera(),
        last_input: 2,
        width: 64,
        height: 48,
        encoding: FrameEncoding::Raw,
        payload: &payload,
    });
    let bytes = encode(&m);
    assert_eq!(bytes.len(), 1 + 4 + 28 + 4 + 2 + 2 + 1 + 1 + payload.len());
    assert_eq!(&bytes[5..9], &1.0f32.to_le_bytes());
    assert_eq!(Message::decode(&bytes), Ok(m));
    // The encoding byte: 0 raw, 1 runs, 2 run planes, 3 video; nothing else.
    let at = bytes.len() - payload.len() - 1;
    for (byte, encoding) in [
        (1, FrameEncoding::Runs),
        (2, FrameEncoding::RunPlanes),
        (3, FrameEncoding::Video),
    ] {
        let mut other = bytes.clone();
        other[at] = byte;
        match Message::decode(&other) {
            Ok(Message::Frame(f)) => assert_eq!(f.encoding, encoding),
            other => panic!("{other:?}"),
        }
    }
    let mut unknown = bytes.clone();
    unknown[at] = 4;
    assert!(Message::decode(&unknown).is_err());
    // A video payload holds a flags byte and at least one byte of stream.
    let mut empty_video = bytes[..at + 2].to_vec();
    empty_video[at] = 3;
    assert_eq!(Message::decode(&empty_video), Err(DecodeError::Truncated));
}

#[test]
fn acks_and_key_frame_requests() {
    assert_eq!(encode(&Message::Ack(0x0102_0304)), [21, 4, 3, 2, 1]);
    assert_eq!(
        Message::decode(&[21, 4, 3, 2, 1]),
        Ok(Message::Ack(0x0102_0304))
    );
    assert_eq!(Message::decode(&[21, 4, 3]), Err(DecodeError::Truncated));
    assert_eq!(encode(&Message::KeyFrame), [22]);
    assert_eq!(Message::decode(&[22]), Ok(Message::KeyFrame));
    assert_eq!(
        Message::decode(&[22, 0]),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn chat_messages() {
    check_bytes(
        Message::Say {
            channel: Channel::World,
            text: "hi".into(),
        },
        &[23, 0, 2, 0, b'h', b'i'],
    );
    check_bytes(
        Message::Say {
            channel: Channel::Direct("bo".into()),
            text: String::new(),
        },
        &[23, 3, 2, 0, b'b', b'o', 0, 0],
    );
    check_bytes(
        Message::Chat(ChatLine {
            id: 0x0102,
            channel: Channel::Global,
            from: "a".into(),
            flags: chat_flags::CLAIMED,
            time: 0x0304,
            text: "<b>".into(),
        }),
        &[
            24, 2, 1, 0, 0, 0, 0, 0, 0, 2, 1, 0, b'a', 2, 4, 3, 0, 0, 0, 0, 0, 0, 3, 0, b'<', b'b',
            b'>',
        ],
    );
    check_bytes(
        Message::ChatNotice("slow".into()),
        &[25, 4, 0, b's', b'l', b'o', b'w'],
    );
    // 300 four-byte characters fit; one byte more does not.
    let long = "𝄞".repeat(MAX_CHAT_CHARS);
    let say = encode(&Message::Say {
        channel: Channel::Race,
        text: long.clone(),
    });
    assert_eq!(
        Message::decode(&say),
        Ok(Message::Say {
            channel: Channel::Race,
            text: long
        })
    );
    let mut over = vec![23, 1];
    over.extend_from_slice(&((MAX_CHAT_BYTES + 1) as u16).to_le_bytes());
    over.extend(std::iter::repeat_n(b'a', MAX_CHAT_BYTES + 1));
    check_err(
        &over,
        DecodeError::TooLong {
            field: "chat text",
            len: MAX_CHAT_BYTES + 1,
            max: MAX_CHAT_BYTES,
        },
    );
    check_err(
        &[23, 4, 0, 0],
        DecodeError::BadValue {
            field: "channel",
            value: 4,
        },
    );
    let mut bad_flags = encode(&Message::Chat(ChatLine {
        id: 1,
        channel: Channel::World,
        from: String::new(),
        flags: 0,
        time: 0,
        text: String::new(),
    }));
    bad_flags[12] = 8;
    check_err(
        &bad_flags,
        DecodeError::BadValue {
            field: "chat flags",
            value: 8,
        },
    );
    check_err(
        &[23, 0, 2, 0, 0xff, 0xfe],
        DecodeError::BadUtf8("chat text"),
    );
}

#[test]
fn rejects() {
    check_err(&[], DecodeError::Empty);
    check_err(&[0], DecodeError::UnknownTag(0));
    check_err(&[200, 1, 2], DecodeError::UnknownTag(200));
    check_err(&[8, 7, 0, 0], DecodeError::Truncated);
    check_err(&[8, 7, 0, 0, 0, 0], DecodeError::TrailingBytes(1));
    check_err(
        &[7, 3],
        DecodeError::BadValue {
            field: "render mode",
            value: 3,
        },
    );
    check_err(
        &[1, 1, 0, 0, 0x40, 1, 200, 0, 0, 2, 0, 0xff, 0xfe],
        DecodeError::BadUtf8("name"),
    );
    check_err(
        &[1, 1, 0, 0, 0x40, 1, 200, 0, 0, 65, 0],
        DecodeError::TooLong {
            field: "name",
            len: 65,
            max: MAX_NAME_BYTES,
        },
    );
    check_err(
        &[3, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0],
        DecodeError::BadValue {
            field: "keys",
            value: 0x4000,
        },
    );
    check_err(
        &[15, 9],
        DecodeError::BadValue {
            field: "race event",
            value: 9,
        },
    );
    check_err(
        &[14, 0, 0, 0, 0, 0, 0, 0, 0, 65],
        DecodeError::TooLong {
            field: "gate list",
            len: 65,
            max: MAX_GATES,
        },
    );
    check_err(
        &[17, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
        DecodeError::TooLong {
            field: "ghost",
            len: 0xffff,
            max: MAX_GHOST_SAMPLES,
        },
    );
    check_err(
        &[10, 99, 0, 0, 0],
        DecodeError::BadValue {
            field: "error code",
            value: 99,
        },
    );
    // A frame whose payload does not match its size.
    let mut frame = encode(&Message::Frame(Frame {
        labels: Vec::new(),
        seq: 1,
        camera: camera(),
        last_input: 0,
        width: 64,
        height: 48,
        encoding: FrameEncoding::Raw,
        payload: &[0; 64 * 48],
    }));
    frame.pop();
    check_err(
        &frame,
        DecodeError::PayloadSize {
            expected: 64 * 48,
            got: 64 * 48 - 1,
        },
    );
    // A NaN in the camera.
    frame[5..9].copy_from_slice(&f32::NAN.to_le_bytes());
    check_err(&frame, DecodeError::NonFinite);
    // A map chunk reaching past the total.
    check_err(
        &[5, 4, 0, 0, 0, 5, 0, 0, 0, 1, 2],
        DecodeError::BadValue {
            field: "map chunk offset",
            value: 4,
        },
    );
    // A player list claiming more entries than it holds.
    check_err(&[6, 3, 0], DecodeError::Truncated);
}

#[test]
fn every_prefix_of_a_valid_message_is_rejected() {
    let m = Message::Players(vec![PlayerInfo {
        id: 3,
        name: "pilot".into(),
        camera: camera(),
    }]);
    let bytes = encode(&m);
    for n in 0..bytes.len() {
        assert!(Message::decode(&bytes[..n]).is_err(), "prefix {n}");
    }
}

fn finite() -> impl Strategy<Value = f32> {
    prop::num::f32::NORMAL | prop::num::f32::ZERO | prop::num::f32::SUBNORMAL
}

fn any_camera() -> impl Strategy<Value = Camera> {
    prop::array::uniform7(finite()).prop_map(|v| Camera {
        x: v[0],
        y: v[1],
        altitude: v[2],
        yaw: v[3],
        horizon: v[4],
        distance: v[5],
        fov: v[6],
    })
}

fn any_mode() -> impl Strategy<Value = RenderMode> {
    prop_oneof![
        Just(RenderMode::Server),
        Just(RenderMode::Client),
        Just(RenderMode::Video)
    ]
}

fn name() -> impl Strategy<Value = String> {
    "\\PC{0,16}"
}

/// Owned messages (their borrowed payloads live in the strategy's values).
#[derive(Debug, Clone)]
enum Owned {
    Msg(Message<'static>),
    Frame(u32, Camera, u32, u16, u16, Vec<u8>),
    Chunk(u32, Vec<u8>, u32),
}

fn any_message() -> impl Strategy<Value = Owned> {
    let hello = (
        any::<u16>(),
        any_mode(),
        any::<u16>(),
        any::<u16>(),
        any::<u8>(),
        name(),
    )
        .prop_map(|(version, mode, width, height, encodings, name)| {
            Message::Hello(Hello {
                version,
                mode,
                width,
                height,
                encodings,
                name,
            })
        });
    let welcome = (
        any::<[u16; 6]>(),
        any_mode(),
        any::<u8>(),
        (name(), name()),
        prop::collection::vec(any::<u8>(), 768),
    )
        .prop_map(|(v, mode, tick_hz, (name, room), pal)| {
            Message::Welcome(Welcome {
                version: v[0],
                player_id: v[1],
                mode,
                frame_width: v[2],
                frame_height: v[3],
                map_width: v[4],
                map_height: v[5],
                tick_hz,
                name,
                palette: Box::new(Palette::from_bytes(pal.as_slice().try_into().unwrap())),
                map_id: v[0] as u64 * 7,
                room,
            })
        });
    let input = (
        any::<u32>(),
        0..=keys::ALL,
        any::<i16>(),
        any::<i16>(),
        any::<u32>(),
    )
        .prop_map(|(seq, keys, look_x, look_y, client_time)| {
            Message::Input(Input {
                seq,
                keys,
                look_x,
                look_y,
                client_time,
            })
        });
    let players = prop::collection::vec((any::<u16>(), name(), any_camera()), 0..8).prop_map(|v| {
        Message::Players(
            v.into_iter()
                .map(|(id, name, camera)| PlayerInfo { id, name, camera })
                .collect(),
        )
    });
    let state =
        (any::<u32>(), any::<u32>(), any_camera()).prop_map(|(tick, last_input, camera)| {
            Message::State(State {
                tick,
                last_input,
                camera,
            })
        });
    let course = (
        any::<u64>(),
        prop::collection::vec(prop::array::uniform5(finite()), 0..20),
    )
        .prop_map(|(id, gates)| {
            Message::Course(CourseInfo {
                id,
                gates: gates
                    .into_iter()
                    .map(|[x, y, altitude, yaw, radius]| crate::course::Gate {
                        x,
                        y,
                        altitude,
                        yaw,
                        radius,
                    })
                    .collect(),
            })
        });
    let race =
        prop_oneof![
            any::<u32>().prop_map(|tick| RaceEvent::Start { tick }),
            (any::<u8>(), any::<u32>(), any::<u32>())
                .prop_map(|(gate, split, best)| RaceEvent::Gate { gate, split, best }),
            (any::<u32>(), any::<u32>()).prop_map(|(time, best)| RaceEvent::Finish { time, best }),
            (any::<u8>(), any::<u32>()).prop_map(|(gate, until)| RaceEvent::Crash { gate, until }),
            Just(RaceEvent::Abandon),
            Just(RaceEvent::NotSaved),
        ]
        .prop_map(Message::Race);
    let result = (
        any::<u64>(),
        name(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(course, name, time, rank, record)| {
            Message::Result(RunResult {
                course,
                name,
                time,
                rank,
                record,
            })
        });
    let ghost = (
        name(),
        any::<u32>(),
        prop::collection::vec(prop::array::uniform4(finite()), 0..50),
    )
        .prop_map(|(name, time, samples)| {
            Message::Ghost(GhostRun {
                name,
                time,
                samples: samples
                    .into_iter()
                    .map(|[x, y, altitude, yaw]| GhostSample {
                        x,
                        y,
                        altitude,
                        yaw,
                    })
                    .collect(),
            })
        });
    let race = prop_oneof![
        course,
        race,
        result,
        ghost,
        Just(Message::Abandon),
        any::<(u16, u16)>().prop_map(|(w, h)| Message::Resize(w, h)),
        any::<(u16, u16)>().prop_map(|(w, h)| Message::Resized(w, h)),
        any::<u32>().prop_map(Message::Ack),
        Just(Message::KeyFrame),
    ];
    let channel = prop_oneof![
        Just(Channel::World),
        Just(Channel::Race),
        Just(Channel::Global),
        name().prop_map(Channel::Direct),
    ];
    let chat = prop_oneof![
        (channel.clone(), "\\PC{0,300}").prop_map(|(channel, text)| Message::Say { channel, text }),
        (
            any::<u64>(),
            channel,
            name(),
            0u8..8,
            any::<u64>(),
            "\\PC{0,300}"
        )
            .prop_map(
                |(id, channel, from, flags, time, text)| Message::Chat(ChatLine {
                    id,
                    channel,
                    from,
                    flags,
                    time,
                    text
                })
            ),
        "\\PC{0,40}".prop_map(Message::ChatNotice),
    ];
    let small = prop_oneof![
        any_mode().prop_map(Message::SetMode),
        any::<bool>().prop_map(Message::Pause),
        Just(Message::GetMap),
        any::<u32>().prop_map(Message::Ping),
        any::<u32>().prop_map(Message::Pong),
        "\\PC{0,40}".prop_map(|text| Message::Error {
            code: ErrorCode::RateLimited,
            text
        }),
    ];
    let frame = (any::<u32>(), any_camera(), any::<u32>(), 0u16..40, 0u16..40).prop_flat_map(
        |(seq, cam, last, w, h)| {
            prop::collection::vec(any::<u8>(), w as usize * h as usize)
                .prop_map(move |p| Owned::Frame(seq, cam, last, w, h, p))
        },
    );
    let chunk = (
        prop::collection::vec(any::<u8>(), 0..300),
        any::<u32>(),
        0u32..1000,
    )
        .prop_map(|(data, offset, extra)| {
            let offset = offset / 2;
            let total = offset + data.len() as u32 + extra;
            Owned::Chunk(offset, data, total)
        });
    prop_oneof![
        prop_oneof![hello, welcome, input, players, state, small, race, chat].prop_map(Owned::Msg),
        frame,
        chunk,
    ]
}

proptest! {
    #[test]
    fn round_trip(m in any_message()) {
        let msg = match &m {
            Owned::Msg(msg) => msg.clone(),
            Owned::Frame(seq, camera, last_input, width, height, payload) => Message::Frame(Frame {
                labels: Vec::new(),
                seq: *seq, camera: *camera, last_input: *last_input, width: *width,
                height: *height, encoding: FrameEncoding::Raw, payload,
            }),
            Owned::Chunk(offset, data, total) => Message::MapChunk(MapChunk {
                offset: *offset, total: *total, data,
            }),
        };
        let bytes = encode(&msg);
        prop_assert_eq!(Message::decode(&bytes), Ok(msg));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(m in any_message(), at in any::<prop::sample::Index>(), v in any::<u8>()) {
        if let Owned::Msg(msg) = m {
            let mut bytes = encode(&msg);
            let i = at.index(bytes.len());
            bytes[i] = v;
            if let Ok(decoded) = Message::decode(&bytes) {
                // Whatever decodes must encode back to the same bytes.
                prop_assert_eq!(encode(&decoded), bytes);
            }
        }
    }
}
