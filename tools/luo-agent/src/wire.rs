// SPDX-License-Identifier: GPL-2.0
//! Lines and file descriptors on a Unix stream socket.

use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use crate::proto::MAX_LINE;

/// The most descriptors taken from one message; more are closed by the kernel
/// (`MSG_CTRUNC`), and any at all with a request that takes none are refused.
const MAX_FDS: usize = 4;

/// Splits a byte stream into lines of at most [`MAX_LINE`] bytes, keeping at
/// most that much of an unfinished line: a longer line is reported, in its
/// place among the others, as [`Line::TooLong`], and skipped up to its newline.
#[derive(Default)]
pub struct LineReader {
    open: Vec<u8>,
    /// Inside a line that is too long: drop bytes up to the next newline.
    skipping: bool,
    done: VecDeque<Line>,
}

/// What [`LineReader::next_line`] gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, without its newline.
    Complete(Vec<u8>),
    /// A line longer than [`MAX_LINE`] was dropped.
    TooLong,
}

impl LineReader {
    /// Adds bytes read from the stream.
    pub fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let nl = data.iter().position(|&b| b == b'\n');
            if self.skipping {
                let Some(p) = nl else { return };
                self.skipping = false;
                data = &data[p + 1..];
                continue;
            }
            let end = nl.unwrap_or(data.len());
            if self.open.len() + end > MAX_LINE {
                self.open.clear();
                self.done.push_back(Line::TooLong);
                self.skipping = nl.is_none();
            } else {
                self.open.extend_from_slice(&data[..end]);
                if nl.is_some() {
                    self.done
                        .push_back(Line::Complete(std::mem::take(&mut self.open)));
                }
            }
            data = &data[(end + 1).min(data.len())..];
        }
    }

    /// The next complete line, if any.
    pub fn next_line(&mut self) -> Option<Line> {
        self.done.pop_front()
    }

    /// Bytes of an unfinished line.
    pub fn pending(&self) -> usize {
        self.open.len()
    }
}

/// Sends `line` (newline included), with `fd` attached to its first byte.
pub fn send_line(sock: BorrowedFd<'_>, line: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
    let mut sent = 0;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    while sent < line.len() {
        let mut cmsg = SendAncillaryBuffer::new(&mut space);
        let fds;
        if sent == 0 {
            if let Some(fd) = fd {
                fds = [fd];
                if !cmsg.push(SendAncillaryMessage::ScmRights(&fds)) {
                    return Err(io::Error::other("no room for the descriptor"));
                }
            }
        }
        let n = sendmsg(
            sock,
            &[IoSlice::new(&line[sent..])],
            &mut cmsg,
            SendFlags::NOSIGNAL,
        )?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        sent += n;
    }
    Ok(())
}

/// Reads what is there into `buf` (0: the peer closed), appending the
/// descriptors that came with it to `fds` (close-on-exec).
pub fn recv(sock: BorrowedFd<'_>, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let msg = recvmsg(
        sock,
        &mut [IoSliceMut::new(buf)],
        &mut cmsg,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    for m in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(got) = m {
            fds.extend(got);
        }
    }
    Ok(msg.bytes)
}

/// A connection read line by line, with the descriptors that came with the
/// bytes read so far.
pub struct Conn<S: AsFd> {
    pub sock: S,
    reader: LineReader,
    pub fds: Vec<OwnedFd>,
}

impl<S: AsFd> Conn<S> {
    pub fn new(sock: S) -> Self {
        Conn {
            sock,
            reader: LineReader::default(),
            fds: Vec::new(),
        }
    }

    /// The next line, reading as needed; `None` at the end of the stream.
    pub fn read_line(&mut self) -> io::Result<Option<Line>> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(line) = self.reader.next_line() {
                return Ok(Some(line));
            }
            let n = recv(self.sock.as_fd(), &mut buf, &mut self.fds)?;
            if n == 0 {
                return Ok(None);
            }
            self.reader.push(&buf[..n]);
        }
    }

    /// Sends a line, with a descriptor if given.
    pub fn send(&self, line: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
        send_line(self.sock.as_fd(), line, fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn lines(r: &mut LineReader) -> Vec<Line> {
        std::iter::from_fn(|| r.next_line()).collect()
    }

    #[test]
    fn lines_are_split_across_and_within_reads() {
        let mut r = LineReader::default();
        r.push(b"{\"a\":1}\n{\"b\"");
        assert_eq!(lines(&mut r), vec![Line::Complete(b"{\"a\":1}".to_vec())]);
        r.push(b":2}\n\n");
        assert_eq!(
            lines(&mut r),
            vec![
                Line::Complete(b"{\"b\":2}".to_vec()),
                Line::Complete(Vec::new())
            ]
        );
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn a_line_too_long_is_reported_once_and_skipped() {
        let mut r = LineReader::default();
        r.push(b"ok\n");
        let chunk = vec![b'x'; 10_000];
        for _ in 0..20 {
            r.push(&chunk);
            // Never more than a line's worth buffered.
            assert!(r.pending() <= MAX_LINE);
        }
        r.push(b"tail\nnext\n");
        assert_eq!(
            lines(&mut r),
            vec![
                Line::Complete(b"ok".to_vec()),
                Line::TooLong,
                Line::Complete(b"next".to_vec())
            ]
        );
        // A line of exactly MAX_LINE bytes is fine.
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        r.push(&exact);
        assert_eq!(lines(&mut r), vec![Line::Complete(vec![b'y'; MAX_LINE])]);
    }

    #[test]
    fn descriptors_travel_with_their_line() {
        let (a, b) = UnixStream::pair().unwrap();
        let (p, _q) = UnixStream::pair().unwrap();
        send_line(a.as_fd(), b"with\n", Some(p.as_fd())).unwrap();
        send_line(a.as_fd(), b"without\n", None).unwrap();
        let mut conn = Conn::new(b);
        assert_eq!(
            conn.read_line().unwrap(),
            Some(Line::Complete(b"with".to_vec()))
        );
        assert_eq!(conn.fds.len(), 1);
        assert_eq!(
            conn.read_line().unwrap(),
            Some(Line::Complete(b"without".to_vec()))
        );
        assert_eq!(conn.fds.len(), 1);
        drop(a);
        assert_eq!(conn.read_line().unwrap(), None);
    }

    #[test]
    fn a_big_line_is_sent_whole() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut big = vec![b'z'; MAX_LINE];
        big.push(b'\n');
        let t = std::thread::spawn(move || send_line(a.as_fd(), &big, None).unwrap());
        let mut conn = Conn::new(b);
        assert_eq!(
            conn.read_line().unwrap(),
            Some(Line::Complete(vec![b'z'; MAX_LINE]))
        );
        t.join().unwrap();
    }
}
