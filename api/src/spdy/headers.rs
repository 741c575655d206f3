//! SPDY/3 header blocks: a count and length-prefixed names and values, compressed by one zlib
//! stream per direction and session, primed with the dictionary of the SPDY/3 draft (section
//! 2.6.10.1) so that common header words cost almost nothing.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::SpdyError;

/// The largest decompressed header block accepted (a port-forward's are a few dozen bytes).
const MAX_BLOCK: usize = 256 * 1024;

/// The words of the SPDY/3 dictionary that appear with a 4-byte length prefix, in order.
const PREFIXED: [&str; 65] = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// What follows the prefixed words, unprefixed: status codes and reasons, dates, common values.
const TAIL: [&str; 19] = [
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information",
    "204 No Content",
    "301 Moved Permanently",
    "400 Bad Request",
    "401 Unauthorized",
    "403 Forbidden",
    "404 Not Found",
    "500 Internal Server Error",
    "501 Not Implemented",
    "503 Service Unavailable",
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00",
    " Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
    "text/plain,text/javascript,public",
    "privatemax-age=",
    "gzip,deflate,sdch",
    "charset=utf-8",
    "charset=iso-8859-1,utf-,*,enq=0.",
];

/// The SPDY/3 header-compression dictionary (1,423 bytes).
pub fn dictionary() -> Vec<u8> {
    let mut out = Vec::with_capacity(1423);
    for word in PREFIXED {
        out.extend_from_slice(&(word.len() as u32).to_be_bytes());
        out.extend_from_slice(word.as_bytes());
    }
    for part in TAIL {
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Name/value pairs, names lowercase, in the order sent.
pub type Headers = Vec<(String, String)>;

/// The receiving side's decompressor.
pub struct Inflater {
    z: Decompress,
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    /// A fresh session's.
    pub fn new() -> Self {
        Self {
            z: Decompress::new(true),
        }
    }

    /// Decompresses one header block (the next part of the session's zlib stream) and parses it.
    pub fn read(&mut self, compressed: &[u8]) -> Result<Headers, SpdyError> {
        parse(&self.inflate(compressed)?)
    }

    fn inflate(&mut self, input: &[u8]) -> Result<Vec<u8>, SpdyError> {
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        let mut pos = 0;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= MAX_BLOCK {
                    return Err(SpdyError::Headers(format!(
                        "decompresses to more than {MAX_BLOCK} bytes"
                    )));
                }
                out.reserve(out.capacity());
            }
            let (before_in, before_out) = (self.z.total_in(), out.len());
            match self
                .z
                .decompress_vec(&input[pos..], &mut out, FlushDecompress::Sync)
            {
                Ok(Status::StreamEnd) => {
                    return Err(SpdyError::Headers("the zlib stream ended".into()))
                }
                Ok(_) => {}
                Err(e) => match e.needs_dictionary() {
                    Some(wanted) => {
                        let dict = dictionary();
                        let ours = self
                            .z
                            .set_dictionary(&dict)
                            .map_err(|e| SpdyError::Headers(e.to_string()))?;
                        if ours != wanted {
                            return Err(SpdyError::Headers(format!(
                                "the peer compresses with dictionary {wanted:#x}, not SPDY/3's ({ours:#x})"
                            )));
                        }
                    }
                    None => return Err(SpdyError::Headers(e.to_string())),
                },
            }
            pos += (self.z.total_in() - before_in) as usize;
            let progressed = self.z.total_in() != before_in || out.len() != before_out;
            if pos >= input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
            if !progressed && pos >= input.len() {
                return Ok(out);
            }
        }
    }
}

/// The sending side's compressor.
pub struct Deflater {
    z: Compress,
    primed: bool,
}

impl Default for Deflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Deflater {
    /// A fresh session's.
    pub fn new() -> Self {
        Self {
            z: Compress::new(Compression::default(), true),
            primed: false,
        }
    }

    /// Serializes and compresses one header block, flushed so the peer can read it at once.
    pub fn write(&mut self, headers: &[(String, String)]) -> Result<Vec<u8>, SpdyError> {
        if !self.primed {
            self.z
                .set_dictionary(&dictionary())
                .map_err(|e| SpdyError::Headers(e.to_string()))?;
            self.primed = true;
        }
        let plain = serialize(headers);
        let mut out = Vec::with_capacity(plain.len() + 64);
        let mut pos = 0;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(64));
            }
            let before = self.z.total_in();
            self.z
                .compress_vec(&plain[pos..], &mut out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Headers(e.to_string()))?;
            pos += (self.z.total_in() - before) as usize;
            if pos >= plain.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

fn serialize(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (name, value) in headers {
        for s in [name.to_ascii_lowercase().as_str(), value.as_str()] {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

fn parse(block: &[u8]) -> Result<Headers, SpdyError> {
    let mut rest = block;
    let mut take = |n: usize| -> Result<&[u8], SpdyError> {
        if rest.len() < n {
            return Err(SpdyError::Headers("a header block ends early".into()));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let count = be32(take(4)?) as usize;
    let mut out = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let n = be32(take(4)?) as usize;
        let name = String::from_utf8_lossy(take(n)?).into_owned();
        let n = be32(take(4)?) as usize;
        let value = String::from_utf8_lossy(take(n)?).into_owned();
        out.push((name, value));
    }
    Ok(out)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_spdy3s() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert!(d.starts_with(b"\0\0\0\x07options\0\0\0\x04head"));
        assert!(d.ends_with(b"sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."));
        // The Adler-32 a zlib stream primed with it names in its header (what kubectl's
        // Go framer, primed with the same bytes, announces).
        let mut z = Compress::new(Compression::default(), true);
        assert_eq!(z.set_dictionary(&d).unwrap(), adler32(&d));
    }

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in data {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    #[test]
    fn blocks_round_trip_through_one_stream() {
        let mut tx = Deflater::new();
        let mut rx = Inflater::new();
        let first: Headers = vec![
            ("streamtype".into(), "error".into()),
            ("port".into(), "8080".into()),
            ("requestid".into(), "0".into()),
        ];
        let second: Headers = vec![
            ("streamtype".into(), "data".into()),
            ("port".into(), "8080".into()),
            ("requestid".into(), "0".into()),
        ];
        let a = tx.write(&first).unwrap();
        let b = tx.write(&second).unwrap();
        // The second block leans on the first: it cannot be read on its own.
        assert!(b.len() < a.len());
        assert_eq!(rx.read(&a).unwrap(), first);
        assert_eq!(rx.read(&b).unwrap(), second);
        assert_eq!(rx.read(&tx.write(&[]).unwrap()).unwrap(), Vec::new());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut rx = Inflater::new();
        assert!(rx.read(b"not zlib at all").is_err());
        let mut rx = Inflater::new();
        // A valid stream whose block claims more pairs than it holds.
        let mut tx = Compress::new(Compression::default(), true);
        let mut out = Vec::with_capacity(64);
        tx.compress_vec(&[0, 0, 0, 5], &mut out, FlushCompress::Sync)
            .unwrap();
        assert!(matches!(rx.read(&out), Err(SpdyError::Headers(_))));
    }
}
