//! The on-disk encoding of keys' versions and history events (little-endian, length-prefixed).

use bytes::Bytes;
use skiff_core::store::{EventKind, KeyValue, WatchEvent};

/// Format version written in the meta table; a file without it is not a Skiff store.
pub(crate) const FORMAT_VERSION: u64 = 1;

/// A stored version: `create_rev | mod_rev | value`.
pub(crate) fn encode_version(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + kv.value.len());
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.mod_revision.to_le_bytes());
    out.extend_from_slice(&kv.value);
    out
}

pub(crate) fn decode_version(key: &str, data: &[u8]) -> Option<KeyValue> {
    let mut r = Reader(data);
    let create_revision = r.i64()?;
    let mod_revision = r.i64()?;
    Some(KeyValue {
        key: key.to_string(),
        value: Bytes::copy_from_slice(r.0),
        create_revision,
        mod_revision,
    })
}

/// A history event: `kind | kv | has_prev | prev`, each kv as `key_len | key | create | mod | value_len | value`.
pub(crate) fn encode_event(ev: &WatchEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + ev.kv.value.len() * 2);
    out.push(match ev.kind {
        EventKind::Create => 0,
        EventKind::Update => 1,
        EventKind::Delete => 2,
    });
    put_kv(&mut out, &ev.kv);
    match &ev.prev {
        Some(prev) => {
            out.push(1);
            put_kv(&mut out, prev);
        }
        None => out.push(0),
    }
    out
}

pub(crate) fn decode_event(data: &[u8]) -> Option<WatchEvent> {
    let mut r = Reader(data);
    let kind = match r.u8()? {
        0 => EventKind::Create,
        1 => EventKind::Update,
        2 => EventKind::Delete,
        _ => return None,
    };
    let kv = r.kv()?;
    let prev = match r.u8()? {
        0 => None,
        1 => Some(r.kv()?),
        _ => return None,
    };
    r.0.is_empty().then_some(WatchEvent { kind, kv, prev })
}

fn put_kv(out: &mut Vec<u8>, kv: &KeyValue) {
    out.extend_from_slice(&(kv.key.len() as u32).to_le_bytes());
    out.extend_from_slice(kv.key.as_bytes());
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.mod_revision.to_le_bytes());
    out.extend_from_slice(&(kv.value.len() as u32).to_le_bytes());
    out.extend_from_slice(&kv.value);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<usize> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_le_bytes(b) as usize)
    }
    fn i64(&mut self) -> Option<i64> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        Some(i64::from_le_bytes(b))
    }
    fn kv(&mut self) -> Option<KeyValue> {
        let key_len = self.u32()?;
        let key = std::str::from_utf8(self.take(key_len)?).ok()?.to_string();
        let create_revision = self.i64()?;
        let mod_revision = self.i64()?;
        let value_len = self.u32()?;
        let value = Bytes::copy_from_slice(self.take(value_len)?);
        Some(KeyValue {
            key,
            value,
            create_revision,
            mod_revision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str, c: i64, m: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Bytes::copy_from_slice(value.as_bytes()),
            create_revision: c,
            mod_revision: m,
        }
    }

    #[test]
    fn versions_and_events_round_trip() {
        let v = kv("/a", "hello", 3, 7);
        assert_eq!(decode_version("/a", &encode_version(&v)), Some(v.clone()));
        let ev = WatchEvent {
            kind: EventKind::Update,
            kv: kv("/a", "new", 3, 8),
            prev: Some(v),
        };
        assert_eq!(decode_event(&encode_event(&ev)), Some(ev.clone()));
        let create = WatchEvent {
            kind: EventKind::Create,
            kv: kv("/b", "", 9, 9),
            prev: None,
        };
        assert_eq!(decode_event(&encode_event(&create)), Some(create));
    }

    #[test]
    fn truncated_or_garbage_records_are_rejected() {
        let ev = WatchEvent {
            kind: EventKind::Delete,
            kv: kv("/a", "x", 1, 2),
            prev: Some(kv("/a", "x", 1, 1)),
        };
        let bytes = encode_event(&ev);
        for cut in 0..bytes.len() {
            assert_eq!(decode_event(&bytes[..cut]), None, "cut at {cut}");
        }
        assert_eq!(decode_event(&[9, 0, 0]), None);
        assert_eq!(decode_version("/a", &[1, 2, 3]), None);
    }
}
