//! SPDY/3 frames and their byte layout.
//!
//! Every frame has an 8-byte header. A control frame: the control bit, a 15-bit version (3), a
//! 16-bit type, 8 bits of flags, a 24-bit length. A data frame: the control bit clear, a 31-bit
//! stream id, flags, length. Then `length` bytes of payload.

use bytes::{Buf, Bytes, BytesMut};

pub use super::headers::Headers;
use super::headers::{Deflater, Inflater};
use super::SpdyError;

/// The version spoken.
const VERSION: u16 = 3;
/// `FLAG_FIN`, on data and stream-carrying control frames.
const FIN: u8 = 0x01;
/// A frame's header length.
const HEADER: usize = 8;
/// The largest payload the 24-bit length allows.
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// One SPDY/3 frame, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Opens a stream (`SYN_STREAM`); `fin` half-closes it at once.
    SynStream {
        /// Odd from the client, even from the server.
        stream_id: u32,
        /// The stream it belongs to (0: none).
        associated: u32,
        /// 0 (highest) to 7.
        priority: u8,
        /// No data follows from the sender.
        fin: bool,
        /// Its headers.
        headers: Headers,
    },
    /// Accepts a stream (`SYN_REPLY`).
    SynReply {
        /// The stream.
        stream_id: u32,
        /// No data follows from the sender.
        fin: bool,
        /// Its headers.
        headers: Headers,
    },
    /// Ends a stream abnormally (`RST_STREAM`).
    RstStream {
        /// The stream.
        stream_id: u32,
        /// Why (1 protocol error, 5 cancel, ...).
        status: u32,
    },
    /// Settings; their content does not matter here.
    Settings,
    /// A ping, answered by sending it back.
    Ping {
        /// Odd from the client, even from the server.
        id: u32,
    },
    /// The sender ends the session (`GOAWAY`).
    GoAway {
        /// The last stream it accepted.
        last_good: u32,
        /// 0 OK, 1 protocol error, 2 internal error.
        status: u32,
    },
    /// More headers for a stream (`HEADERS`).
    Headers {
        /// The stream.
        stream_id: u32,
        /// No data follows from the sender.
        fin: bool,
        /// The headers.
        headers: Headers,
    },
    /// Flow-control credit; ignored (see the [module docs](super)).
    WindowUpdate {
        /// The stream (0: the session).
        stream_id: u32,
        /// The credit.
        delta: u32,
    },
    /// Payload on a stream; `fin` half-closes it.
    Data {
        /// The stream.
        stream_id: u32,
        /// No more data follows from the sender.
        fin: bool,
        /// The bytes.
        data: Bytes,
    },
    /// A control frame of a type SPDY/3 does not define: skipped, as the draft says.
    Unknown {
        /// Its type.
        kind: u16,
    },
}

/// Bytes in, frames out. See the [module docs](super).
#[derive(Default)]
pub struct Decoder {
    buf: BytesMut,
    headers: Inflater,
}

impl Decoder {
    /// A decoder for a new session.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, `None` until one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, SpdyError> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        let len = (usize::from(self.buf[5]) << 16)
            | (usize::from(self.buf[6]) << 8)
            | usize::from(self.buf[7]);
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        let head = self.buf.split_to(HEADER);
        let payload = self.buf.split_to(len).freeze();
        let flags = head[4];
        if head[0] & 0x80 == 0 {
            let stream_id = be31(&head[0..4]);
            return Ok(Some(Frame::Data {
                stream_id,
                fin: flags & FIN != 0,
                data: payload,
            }));
        }
        let version = u16::from_be_bytes([head[0] & 0x7f, head[1]]);
        if version != VERSION {
            return Err(SpdyError::Version(version));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        self.control(kind, flags, payload).map(Some)
    }

    fn control(&mut self, kind: u16, flags: u8, mut p: Bytes) -> Result<Frame, SpdyError> {
        let fin = flags & FIN != 0;
        let need = |name: &'static str, n: usize, p: &Bytes| {
            if p.len() < n {
                Err(SpdyError::Malformed {
                    kind: name,
                    reason: format!("{} bytes of payload, at least {n} needed", p.len()),
                })
            } else {
                Ok(())
            }
        };
        Ok(match kind {
            SYN_STREAM => {
                need("SYN_STREAM", 10, &p)?;
                let stream_id = be31(&p[0..4]);
                let associated = be31(&p[4..8]);
                let priority = p[8] >> 5;
                p.advance(10);
                let headers = self.headers.read(&p)?;
                Frame::SynStream {
                    stream_id,
                    associated,
                    priority,
                    fin,
                    headers,
                }
            }
            SYN_REPLY | HEADERS => {
                need(
                    if kind == SYN_REPLY {
                        "SYN_REPLY"
                    } else {
                        "HEADERS"
                    },
                    4,
                    &p,
                )?;
                let stream_id = be31(&p[0..4]);
                p.advance(4);
                let headers = self.headers.read(&p)?;
                if kind == SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        fin,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        fin,
                        headers,
                    }
                }
            }
            RST_STREAM => {
                need("RST_STREAM", 8, &p)?;
                Frame::RstStream {
                    stream_id: be31(&p[0..4]),
                    status: be32(&p[4..8]),
                }
            }
            SETTINGS => Frame::Settings,
            PING => {
                need("PING", 4, &p)?;
                Frame::Ping { id: be32(&p[0..4]) }
            }
            GOAWAY => {
                need("GOAWAY", 4, &p)?;
                Frame::GoAway {
                    last_good: be31(&p[0..4]),
                    status: if p.len() >= 8 { be32(&p[4..8]) } else { 0 },
                }
            }
            WINDOW_UPDATE => {
                need("WINDOW_UPDATE", 8, &p)?;
                Frame::WindowUpdate {
                    stream_id: be31(&p[0..4]),
                    delta: be31(&p[4..8]),
                }
            }
            kind => Frame::Unknown { kind },
        })
    }
}

/// Frames in, bytes out. See the [module docs](super).
#[derive(Default)]
pub struct Encoder {
    headers: Deflater,
}

impl Encoder {
    /// An encoder for a new session.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frame's bytes. Data longer than a frame can carry is an error: split it first.
    pub fn encode(&mut self, frame: &Frame) -> Result<Vec<u8>, SpdyError> {
        let flag = |fin: bool| if fin { FIN } else { 0 };
        let (kind, flags, payload) = match frame {
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                if data.len() > MAX_PAYLOAD {
                    return Err(SpdyError::Malformed {
                        kind: "DATA",
                        reason: format!("{} bytes do not fit one frame", data.len()),
                    });
                }
                let mut out = Vec::with_capacity(HEADER + data.len());
                out.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                out.push(flag(*fin));
                out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
                out.extend_from_slice(data);
                return Ok(out);
            }
            Frame::SynStream {
                stream_id,
                associated,
                priority,
                fin,
                headers,
            } => {
                let mut p = Vec::new();
                p.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                p.extend_from_slice(&(associated & 0x7fff_ffff).to_be_bytes());
                p.push((priority & 0x7) << 5);
                p.push(0);
                p.extend(self.headers.write(headers)?);
                (SYN_STREAM, flag(*fin), p)
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            }
            | Frame::Headers {
                stream_id,
                fin,
                headers,
            } => {
                let kind = if matches!(frame, Frame::SynReply { .. }) {
                    SYN_REPLY
                } else {
                    HEADERS
                };
                let mut p = (stream_id & 0x7fff_ffff).to_be_bytes().to_vec();
                p.extend(self.headers.write(headers)?);
                (kind, flag(*fin), p)
            }
            Frame::RstStream { stream_id, status } => {
                let mut p = (stream_id & 0x7fff_ffff).to_be_bytes().to_vec();
                p.extend_from_slice(&status.to_be_bytes());
                (RST_STREAM, 0, p)
            }
            Frame::Settings => (SETTINGS, 0, 0u32.to_be_bytes().to_vec()),
            Frame::Ping { id } => (PING, 0, id.to_be_bytes().to_vec()),
            Frame::GoAway { last_good, status } => {
                let mut p = (last_good & 0x7fff_ffff).to_be_bytes().to_vec();
                p.extend_from_slice(&status.to_be_bytes());
                (GOAWAY, 0, p)
            }
            Frame::WindowUpdate { stream_id, delta } => {
                let mut p = (stream_id & 0x7fff_ffff).to_be_bytes().to_vec();
                p.extend_from_slice(&(delta & 0x7fff_ffff).to_be_bytes());
                (WINDOW_UPDATE, 0, p)
            }
            Frame::Unknown { kind } => (*kind, 0, Vec::new()),
        };
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
        out.extend_from_slice(&kind.to_be_bytes());
        out.push(flags);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        out.extend(payload);
        Ok(out)
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be31(b: &[u8]) -> u32 {
    be32(b) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frames: &[Frame]) -> Vec<Frame> {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        let bytes: Vec<u8> = frames.iter().flat_map(|f| enc.encode(f).unwrap()).collect();
        // Delivered in awkward pieces, as WebSocket messages may slice the stream.
        let mut out = Vec::new();
        for chunk in bytes.chunks(5) {
            dec.push(chunk);
            while let Some(f) = dec.next_frame().unwrap() {
                out.push(f);
            }
        }
        out
    }

    #[test]
    fn every_frame_round_trips_across_arbitrary_splits() {
        let frames = vec![
            Frame::SynStream {
                stream_id: 1,
                associated: 0,
                priority: 2,
                fin: false,
                headers: vec![("streamtype".into(), "error".into())],
            },
            Frame::SynReply {
                stream_id: 1,
                fin: false,
                headers: vec![],
            },
            Frame::Data {
                stream_id: 3,
                fin: true,
                data: Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"),
            },
            Frame::Data {
                stream_id: 3,
                fin: true,
                data: Bytes::new(),
            },
            Frame::RstStream {
                stream_id: 5,
                status: 5,
            },
            Frame::Ping { id: 7 },
            Frame::GoAway {
                last_good: 5,
                status: 0,
            },
            Frame::Headers {
                stream_id: 3,
                fin: false,
                headers: vec![("a".into(), "b".into())],
            },
            Frame::WindowUpdate {
                stream_id: 0,
                delta: 65536,
            },
            Frame::Settings,
        ];
        assert_eq!(round_trip(&frames), frames);
    }

    #[test]
    fn wire_layout_matches_the_draft() {
        let mut enc = Encoder::new();
        let ping = enc.encode(&Frame::Ping { id: 1 }).unwrap();
        assert_eq!(ping, [0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
        let data = enc
            .encode(&Frame::Data {
                stream_id: 3,
                fin: true,
                data: Bytes::from_static(b"hi"),
            })
            .unwrap();
        assert_eq!(data, [0, 0, 0, 3, 1, 0, 0, 2, b'h', b'i']);
    }

    #[test]
    fn other_versions_and_short_frames_are_errors() {
        let mut dec = Decoder::new();
        dec.push(&[0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
        assert!(matches!(dec.next_frame(), Err(SpdyError::Version(2))));
        let mut dec = Decoder::new();
        dec.push(&[0x80, 3, 0, 3, 0, 0, 0, 2, 0, 0]);
        assert!(matches!(
            dec.next_frame(),
            Err(SpdyError::Malformed {
                kind: "RST_STREAM",
                ..
            })
        ));
        let mut dec = Decoder::new();
        dec.push(&[0x80, 3, 0, 6, 0, 0, 0, 4, 0]);
        assert_eq!(dec.next_frame().unwrap(), None, "incomplete: wait for more");
    }
}
