// SPDX-License-Identifier: GPL-2.0
//! luod's protocol handling, against the real daemon on a private socket.
//! (There is no /dev/liveupdate here: the live update itself is tested in
//! QEMU, by `make check`.)

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use luo_agent::proto::{self, Envelope, ErrorCode, Event, Request, Status};
use luo_agent::wire::{send_line, Conn, Line};

struct Luod {
    child: Child,
    socket: String,
}

impl Luod {
    fn start(name: &str) -> Luod {
        let socket = format!(
            "{}/luod-test-{}-{name}.sock",
            std::env::temp_dir().display(),
            std::process::id()
        );
        let _ = std::fs::remove_file(&socket);
        let child = Command::new(env!("CARGO_BIN_EXE_luod"))
            .args(["--socket", &socket])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while UnixStream::connect(&socket).is_err() {
            assert!(t.elapsed() < Duration::from_secs(10), "luod did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Luod { child, socket }
    }

    fn conn(&self) -> Conn<UnixStream> {
        let s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Conn::new(s)
    }
}

impl Drop for Luod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn send(c: &Conn<UnixStream>, req: Request, seq: Option<u64>) {
    c.send(&proto::to_line(&Envelope { req, seq }), None)
        .unwrap();
}

fn next(c: &mut Conn<UnixStream>) -> Event {
    match c.read_line().unwrap() {
        Some(Line::Complete(l)) => proto::parse_event(&l).unwrap(),
        other => panic!("no event: {other:?}"),
    }
}

fn error_code(ev: Event) -> ErrorCode {
    match ev {
        Event::Error { code, .. } => code,
        other => panic!("not an error: {other:?}"),
    }
}

fn status(c: &mut Conn<UnixStream>) -> Status {
    send(c, Request::Status, None);
    match next(c) {
        Event::Status(s) => s,
        other => panic!("not a status: {other:?}"),
    }
}

#[test]
fn subscriptions_and_their_errors() {
    let luod = Luod::start("subs");
    let mut a = luod.conn();
    // Base protocol: no answer to a good SUBSCRIBE.
    send(&a, Request::Subscribe { id: "kv".into() }, None);
    send(&a, Request::Version, None);
    assert!(matches!(
        next(&mut a),
        Event::Version {
            protocol: proto::PROTOCOL_VERSION,
            ..
        }
    ));
    // With seq: OK, echoing it.
    let mut b = luod.conn();
    send(&b, Request::Subscribe { id: "vm-1".into() }, Some(9));
    assert_eq!(next(&mut b), Event::Ok { seq: Some(9) });
    // A second subscriber for an id, or a second id on a connection.
    let mut c = luod.conn();
    send(&c, Request::Subscribe { id: "kv".into() }, Some(1));
    assert_eq!(error_code(next(&mut c)), ErrorCode::Duplicate);
    send(&b, Request::Subscribe { id: "other".into() }, None);
    assert_eq!(error_code(next(&mut b)), ErrorCode::BadState);
    // READY before START_PRESERVATION, CLAIM and RELEASE of nothing.
    send(&a, Request::Ready { tokens: vec![] }, None);
    assert_eq!(error_code(next(&mut a)), ErrorCode::BadState);
    send(
        &c,
        Request::Claim {
            id: "nobody".into(),
        },
        None,
    );
    assert_eq!(error_code(next(&mut c)), ErrorCode::UnknownId);
    send(
        &c,
        Request::Release {
            id: "nobody".into(),
        },
        None,
    );
    assert_eq!(error_code(next(&mut c)), ErrorCode::UnknownId);
    let s = status(&mut c);
    let ids: Vec<_> = s
        .sessions
        .iter()
        .map(|x| (x.id.as_str(), x.state.as_str()))
        .collect();
    assert_eq!(ids, [("kv", "subscribed"), ("vm-1", "subscribed")]);
    assert_eq!(s.generation, 0);
    // A subscriber that goes away is forgotten, and its id is free again.
    drop(a);
    let t = Instant::now();
    while status(&mut c).sessions.len() != 1 {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    send(&c, Request::Subscribe { id: "kv".into() }, Some(2));
    assert_eq!(next(&mut c), Event::Ok { seq: Some(2) });
}

#[test]
fn bad_input_gets_an_error_and_changes_nothing() {
    let luod = Luod::start("bad");
    let mut c = luod.conn();
    let lines: &[(&[u8], ErrorCode)] = &[
        (b"garbage\n", ErrorCode::Malformed),
        (b"{\"cmd\":\"REBOOT\"}\n", ErrorCode::Malformed),
        (b"{\"cmd\":\"SUBSCRIBE\"}\n", ErrorCode::Malformed),
        (
            b"{\"cmd\":\"SUBSCRIBE\",\"id\":\"../etc\"}\n",
            ErrorCode::BadId,
        ),
        (b"{\"cmd\":\"CLAIM\",\"id\":\"\"}\n", ErrorCode::BadId),
    ];
    for (line, code) in lines {
        c.send(line, None).unwrap();
        assert_eq!(
            error_code(next(&mut c)),
            *code,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    // An oversized line: one error, then the connection goes on.
    let mut big = vec![b'x'; proto::MAX_LINE + 100];
    big.push(b'\n');
    let sock = c.sock.try_clone().unwrap();
    let w = std::thread::spawn(move || send_line(sock.as_fd(), &big, None).unwrap());
    assert_eq!(error_code(next(&mut c)), ErrorCode::TooLong);
    w.join().unwrap();
    // A descriptor with a request that takes none: refused, not subscribed.
    let (p, _q) = UnixStream::pair().unwrap();
    let line = proto::to_line(&Envelope {
        req: Request::Subscribe { id: "fd".into() },
        seq: None,
    });
    send_line(c.sock.as_fd(), &line, Some(p.as_fd())).unwrap();
    assert_eq!(error_code(next(&mut c)), ErrorCode::UnexpectedFd);
    // A client that leaves in the middle of a line.
    let mut half = UnixStream::connect(&luod.socket).unwrap();
    half.write_all(b"{\"cmd\":\"SUBSCRIBE\",\"id\":\"hal")
        .unwrap();
    drop(half);
    assert!(status(&mut c).sessions.is_empty());
}

#[test]
fn kexec_is_refused_with_the_reason() {
    let luod = Luod::start("kexec");
    let mut c = luod.conn();
    let mut sub = luod.conn();
    send(&sub, Request::Subscribe { id: "kv".into() }, Some(1));
    assert_eq!(next(&mut sub), Event::Ok { seq: Some(1) });
    // No kernel loaded here (nor /dev/liveupdate): refused, and nothing changes.
    let s = status(&mut c);
    assert!(s.problem.is_some());
    send(
        &c,
        Request::Kexec {
            timeout_ms: Some(100),
        },
        Some(5),
    );
    match next(&mut c) {
        Event::Error {
            seq: Some(5),
            code,
            message,
        } => {
            assert!(
                matches!(code, ErrorCode::Refused | ErrorCode::Kernel),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&mut c).phase, "idle");
    assert_eq!(status(&mut c).sessions[0].state, "subscribed");
}
