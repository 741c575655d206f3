//! Reading a container's log file, optionally following it until the container exits.

use std::io::SeekFrom;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use skiff_core::runtime::{LogOptions, RuntimeError};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::state::ContainerDir;

/// Where to start reading so that only the last `lines` lines are returned.
fn tail_offset(bytes: &[u8], lines: usize) -> usize {
    if lines == 0 {
        return bytes.len();
    }
    // A trailing newline ends the last line rather than starting an empty one.
    let end = if bytes.last() == Some(&b'\n') {
        bytes.len() - 1
    } else {
        bytes.len()
    };
    let mut seen = 0;
    for (i, b) in bytes[..end].iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == lines {
                return i + 1;
            }
        }
    }
    0
}

/// The log of the container in `dir` as a stream of chunks.
pub async fn stream(
    dir: ContainerDir,
    options: LogOptions,
) -> Result<BoxStream<'static, Result<Bytes, RuntimeError>>, RuntimeError> {
    let path = dir.log();
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(RuntimeError::io(
                format!("cannot read {}", path.display()),
                e,
            ))
        }
    };
    let mut start = 0u64;
    if let (Some(lines), Some(f)) = (options.tail_lines, file.as_mut()) {
        let mut all = Vec::new();
        f.read_to_end(&mut all)
            .await
            .map_err(|e| RuntimeError::io("cannot read the log", e))?;
        start = tail_offset(&all, lines) as u64;
    }
    if let Some(f) = file.as_mut() {
        f.seek(SeekFrom::Start(start))
            .await
            .map_err(|e| RuntimeError::io("cannot read the log", e))?;
    }
    let limit = options.limit_bytes.unwrap_or(usize::MAX);
    struct St {
        dir: ContainerDir,
        file: Option<tokio::fs::File>,
        follow: bool,
        left: usize,
        done: bool,
    }
    let st = St {
        dir,
        file,
        follow: options.follow,
        left: limit,
        done: false,
    };
    let s = stream::unfold(st, |mut st| async move {
        loop {
            if st.done || st.left == 0 {
                return None;
            }
            if st.file.is_none() {
                st.file = tokio::fs::File::open(st.dir.log()).await.ok();
            }
            let mut buf = vec![0u8; 64 * 1024.min(st.left)];
            let n = match st.file.as_mut() {
                Some(f) => match f.read(&mut buf).await {
                    Ok(n) => n,
                    Err(e) => {
                        st.done = true;
                        return Some((Err(RuntimeError::io("cannot read the log", e)), st));
                    }
                },
                None => 0,
            };
            if n > 0 {
                buf.truncate(n);
                st.left -= n;
                return Some((Ok(Bytes::from(buf)), st));
            }
            if !st.follow {
                return None;
            }
            if st.dir.exited().exists() {
                // One more read catches what was written just before the exit.
                st.follow = false;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    Ok(s.boxed())
}

#[cfg(test)]
mod tests {
    use super::tail_offset;

    #[test]
    fn tail_counts_lines_from_the_end() {
        let log = b"a\nb\nc\n";
        assert_eq!(&log[tail_offset(log, 2)..], b"b\nc\n");
        assert_eq!(&log[tail_offset(log, 5)..], b"a\nb\nc\n");
        assert_eq!(&log[tail_offset(log, 0)..], b"");
        let partial = b"a\nb";
        assert_eq!(&partial[tail_offset(partial, 1)..], b"b");
    }
}
