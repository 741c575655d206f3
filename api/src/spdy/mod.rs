//! SPDY/3 framing, as far as `kubectl port-forward` needs it.
//!
//! `kubectl port-forward` (1.30 and later) opens a WebSocket with the subprotocol
//! `SPDY/3.1+portforward.k8s.io` and runs a SPDY/3 session inside it: every binary message is a
//! slice of the SPDY byte stream (client-go's `TunnelingConnection`), and the session multiplexes
//! one pair of streams (`error` and `data`) per forwarded connection. Older clients, and kubectl
//! when the WebSocket upgrade is refused, speak the same SPDY over a plain HTTP/1.1 upgrade.
//!
//! This module is the codec: [`Frame`] is one frame, [`Decoder`] turns bytes into frames and
//! [`Encoder`] frames into bytes, each keeping its direction's header-compression state (SPDY
//! compresses every header block of a session with one zlib stream, primed with a fixed
//! dictionary, [`headers`]). What the frames mean for port-forwarding is the agent's business
//! (`kubelet::port_forward`).
//!
//! Written here rather than taken from a crate: no maintained Rust SPDY crate exists (SPDY was
//! superseded by HTTP/2 in browsers; Kubernetes kept it through moby/spdystream). The codec is
//! small, pure and unit-tested against the wire layout of the SPDY/3 draft.
//!
//! Flow control: SPDY/3 defines per-stream windows, but spdystream (what kubectl uses) neither
//! sends nor honours `WINDOW_UPDATE`; neither does Skiff, so a `WINDOW_UPDATE` decodes and is
//! ignored.
//!
//! ```
//! use skiff_api::spdy::{Decoder, Encoder, Frame};
//!
//! let mut client = Encoder::new();
//! let bytes = client
//!     .encode(&Frame::SynStream {
//!         stream_id: 1,
//!         associated: 0,
//!         priority: 0,
//!         fin: false,
//!         headers: vec![("streamtype".into(), "error".into()), ("port".into(), "80".into())],
//!     })
//!     .unwrap();
//! let mut server = Decoder::new();
//! server.push(&bytes);
//! let Some(Frame::SynStream { stream_id, headers, .. }) = server.next_frame().unwrap() else {
//!     panic!("a SYN_STREAM")
//! };
//! assert_eq!(stream_id, 1);
//! assert_eq!(headers[1], ("port".to_string(), "80".to_string()));
//! ```

mod frame;
pub mod headers;

pub use frame::{Decoder, Encoder, Frame, Headers};

/// What can go wrong reading or writing SPDY.
#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    /// A control frame of another SPDY version.
    #[error("SPDY version {0} is not supported (only 3)")]
    Version(u16),
    /// A frame whose fields do not fit its length.
    #[error("malformed SPDY {kind} frame: {reason}")]
    Malformed {
        /// The frame type.
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A header block that does not decompress, or decompresses to something that is no block.
    #[error("SPDY header block: {0}")]
    Headers(String),
}
