// SPDX-License-Identifier: GPL-2.0
//! luo-kvcache: the demo service of `make demo`, a key-value cache whose data
//! lives in a memfd, and a client of luod.
//!
//! `serve`: claims its session from luod (after a live update) and maps the
//! memfd it preserved, or builds its data set; subscribes; answers on its
//! socket; and when luod says START_PRESERVATION, preserves the memfd and
//! says READY.  `get`, `check`: a client of that socket.
//!
//! The data set: `keys` values of `value_size` bytes after a 4 KiB header,
//! value `k` a function of `k`, so that any process can check any key.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand};
use luo_agent::liveupdate::Session;
use luo_agent::proto::{self, Envelope, Event, Request};
use luo_agent::wire::{Conn, Line};
use rustix::mm::{mmap, MapFlags, ProtFlags};

const MAGIC: u64 = 0x6c75_6f2d_6b76_3031; // "luo-kv01"
const HEADER: usize = 4096;
const TOKEN: u64 = 1;

#[derive(Parser)]
#[command(about = "A key-value cache in a memfd that survives a live update through luod")]
struct Args {
    #[arg(long, default_value = "/run/kvcache.sock")]
    socket: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the cache.
    Serve {
        #[arg(long, default_value = "kvcache")]
        id: String,
        /// Size of the data set, MiB (a fresh start only).
        #[arg(long, default_value_t = 256)]
        mib: usize,
        #[arg(long, default_value_t = 1024)]
        value_size: usize,
        #[arg(long, default_value = proto::SOCKET_PATH)]
        luod: String,
        /// Subscribe, but never say READY (tests).
        #[arg(long)]
        never_ready: bool,
    },
    /// Print the value of a key (hex, first 16 bytes).
    Get { key: u64 },
    /// Check every key; prints the count and checksum.
    Check,
}

/// The value of key `k`, byte `i`.
fn byte(k: u64, i: usize) -> u8 {
    let x = k.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (x ^ (x >> 29)) as u8
}

/// A step of the demo's timeline.
fn mark(what: &str) {
    luo_agent::timeline(&format!("kvcache: {what}"));
}

/// The mapped data set.
struct Data {
    map: &'static mut [u8],
    keys: u64,
    value_size: usize,
}

impl Data {
    fn header(map: &[u8]) -> (u64, u64, u64) {
        let w = |i: usize| u64::from_le_bytes(map[i * 8..i * 8 + 8].try_into().unwrap());
        (w(0), w(1), w(2))
    }

    fn map(fd: &OwnedFd, len: usize) -> std::io::Result<&'static mut [u8]> {
        // SAFETY: a fresh shared mapping of the memfd, never unmapped, used only as bytes.
        let p = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )?
        };
        // SAFETY: `len` bytes mapped just above, for the life of the process.
        Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) })
    }

    fn build(fd: &OwnedFd, mib: usize, value_size: usize) -> std::io::Result<Self> {
        let len = mib << 20;
        rustix::fs::ftruncate(fd, len as u64)?;
        let map = Self::map(fd, len)?;
        let keys = ((len - HEADER) / value_size) as u64;
        for k in 0..keys {
            let v = &mut map[HEADER + k as usize * value_size..][..value_size];
            for (i, b) in v.iter_mut().enumerate() {
                *b = byte(k, i);
            }
        }
        map[..8].copy_from_slice(&MAGIC.to_le_bytes());
        map[8..16].copy_from_slice(&keys.to_le_bytes());
        map[16..24].copy_from_slice(&(value_size as u64).to_le_bytes());
        Ok(Data {
            map,
            keys,
            value_size,
        })
    }

    fn open(fd: &OwnedFd) -> Result<Self, String> {
        let len = rustix::fs::fstat(fd).map_err(|e| e.to_string())?.st_size as usize;
        if len < HEADER {
            return Err(format!("memfd of {len} bytes"));
        }
        let map = Self::map(fd, len).map_err(|e| e.to_string())?;
        let (magic, keys, value_size) = Self::header(map);
        if magic != MAGIC || value_size == 0 || HEADER as u64 + keys * value_size > len as u64 {
            return Err("not a kvcache memfd".into());
        }
        Ok(Data {
            map,
            keys,
            value_size: value_size as usize,
        })
    }

    fn value(&self, k: u64) -> Option<&[u8]> {
        (k < self.keys)
            .then(|| &self.map[HEADER + k as usize * self.value_size..][..self.value_size])
    }

    /// Every key checked: (keys right, FNV-1a of all values).
    fn check(&self) -> (u64, u64) {
        let mut good = 0;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for k in 0..self.keys {
            let v = self.value(k).unwrap();
            good += v.iter().enumerate().all(|(i, &b)| b == byte(k, i)) as u64;
            for &b in v {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        (good, h)
    }
}

fn send(conn: &Conn<UnixStream>, req: Request) -> std::io::Result<()> {
    conn.send(&proto::to_line(&Envelope { req, seq: None }), None)
}

/// The session luod hands back after a live update, if it has one for `id`.
fn claim(luod: &str, id: &str) -> Option<Session> {
    let mut conn = Conn::new(UnixStream::connect(luod).ok()?);
    send(&conn, Request::Claim { id: id.into() }).ok()?;
    match conn.read_line().ok()?? {
        Line::Complete(l) => match proto::parse_event(&l).ok()? {
            Event::Claimed { .. } => conn.fds.pop().map(Session),
            _ => None,
        },
        Line::TooLong => None,
    }
}

fn serve(
    args: &Args,
    id: &str,
    mib: usize,
    value_size: usize,
    luod: &str,
    never_ready: bool,
) -> Result<(), String> {
    mark("start");
    let (fd, data) = match claim(luod, id) {
        Some(session) => {
            mark("session claimed");
            let fd = session
                .retrieve_fd(TOKEN)
                .map_err(|e| format!("RETRIEVE_FD: {e}"))?;
            mark("memfd retrieved");
            let data = Data::open(&fd)?;
            session.finish().map_err(|e| format!("FINISH: {e}"))?;
            println!(
                "kvcache: {} keys back from the previous kernel, no reload",
                data.keys
            );
            (fd, data)
        }
        None => {
            let fd = rustix::fs::memfd_create(c"kvcache", rustix::fs::MemfdFlags::CLOEXEC)
                .map_err(|e| e.to_string())?;
            let t = Instant::now();
            let data = Data::build(&fd, mib, value_size).map_err(|e| e.to_string())?;
            println!(
                "kvcache: loaded {} keys ({mib} MiB) in {:.1} s",
                data.keys,
                t.elapsed().as_secs_f64()
            );
            (fd, data)
        }
    };
    let data = Arc::new(data);
    let _ = std::fs::remove_file(&args.socket);
    let listener = UnixListener::bind(&args.socket).map_err(|e| format!("{}: {e}", args.socket))?;
    // luod: subscribe, and preserve when asked.
    let mut conn = Conn::new(UnixStream::connect(luod).map_err(|e| format!("{luod}: {e}"))?);
    send(&conn, Request::Subscribe { id: id.into() }).map_err(|e| e.to_string())?;
    println!("kvcache: subscribed to luod as {id}");
    std::io::stdout().flush().ok();
    std::thread::spawn(move || loop {
        let line = match conn.read_line() {
            Ok(Some(Line::Complete(l))) => l,
            _ => return,
        };
        match proto::parse_event(&line) {
            Ok(Event::StartPreservation { session }) => {
                let Some(sfd) = conn.fds.pop() else {
                    eprintln!("kvcache: START_PRESERVATION without a session");
                    continue;
                };
                mark("start preservation");
                if let Err(e) = Session(sfd).preserve_fd(fd.as_fd(), TOKEN) {
                    eprintln!("kvcache: PRESERVE_FD into {session}: {e}");
                    continue;
                }
                if !never_ready {
                    mark("ready");
                    let _ = send(
                        &conn,
                        Request::Ready {
                            tokens: vec![TOKEN],
                        },
                    );
                }
            }
            Ok(Event::Error { message, .. }) => eprintln!("kvcache: luod: {message}"),
            _ => {}
        }
    });
    let mut first = true;
    for s in listener.incoming().flatten() {
        let data = Arc::clone(&data);
        let mut r = BufReader::new(&s);
        let mut line = String::new();
        if r.read_line(&mut line).is_err() {
            continue;
        }
        let reply = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["GET", k] => match k.parse().ok().and_then(|k| data.value(k)) {
                Some(v) => v[..16.min(v.len())]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
                None => "ERR no such key".into(),
            },
            ["CHECK"] => {
                let (good, sum) = data.check();
                format!("{good} {} {sum:016x}", data.keys)
            }
            _ => "ERR bad request".into(),
        };
        if first {
            mark("first request served");
            first = false;
        }
        let _ = (&s).write_all(format!("{reply}\n").as_bytes());
    }
    Ok(())
}

fn ask(path: &str, req: &str) -> Result<String, String> {
    let mut s = UnixStream::connect(path).map_err(|e| format!("{path}: {e}"))?;
    s.write_all(format!("{req}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(&s)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim_end().to_string())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let res = match &args.cmd {
        Cmd::Serve {
            id,
            mib,
            value_size,
            luod,
            never_ready,
        } => serve(&args, id, *mib, *value_size, luod, *never_ready),
        Cmd::Get { key } => ask(&args.socket, &format!("GET {key}")).map(|r| println!("{r}")),
        Cmd::Check => ask(&args.socket, "CHECK").and_then(|r| {
            println!("{r}");
            let mut it = r.split_whitespace();
            match (it.next(), it.next()) {
                (Some(good), Some(keys)) if good == keys && keys != "0" => Ok(()),
                _ => Err(format!("keys lost or wrong: {r}")),
            }
        }),
    };
    match res {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("luo-kvcache: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_set_checks_and_reopens() {
        let fd = rustix::fs::memfd_create(c"t", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        let d = Data::build(&fd, 1, 1000).unwrap();
        let keys = d.keys;
        assert_eq!(keys, ((1 << 20) - 4096) / 1000);
        let (good, sum) = d.check();
        assert_eq!(good, keys);
        let d2 = Data::open(&fd).unwrap();
        assert_eq!(d2.check(), (keys, sum));
        // A wrong byte is found.
        d2.map[HEADER + 5] ^= 1;
        assert_eq!(Data::open(&fd).unwrap().check().0, keys - 1);
    }
}
