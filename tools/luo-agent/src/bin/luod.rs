// SPDX-License-Identifier: GPL-2.0
//! luod: the Live Update Orchestrator daemon.
//!
//! Owns the live update: clients subscribe on the socket; `luoctl kexec`
//! makes luod create a LUO session per client, hand it over
//! (`START_PRESERVATION`), wait until every client is `READY`, preserve its
//! own records in a session of its own, and reboot into the loaded kernel.
//! After the kexec the new luod reads its records back from LUO, retrieves
//! every client's session, and gives each to the client that `CLAIM`s it.
//! It holds `/dev/liveupdate` only while it creates or retrieves sessions.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use clap::Parser;
use luo_agent::liveupdate::{self, Device, Session};
use luo_agent::proto::{
    self, session_name, Envelope, ErrorCode, Event, Request, SessionStatus, Status,
};
use luo_agent::records::{self, ClientRecord, Records};
use luo_agent::wire::{Conn, Line};

#[derive(Parser)]
#[command(version, about = "The Live Update Orchestrator daemon")]
struct Args {
    /// The socket clients and luoctl connect to.
    #[arg(long, default_value = proto::SOCKET_PATH)]
    socket: String,
    /// Finish and drop a session nobody claimed this long after start (seconds; default: keep).
    #[arg(long)]
    claim_timeout: Option<u64>,
    /// Default time for clients to become READY (milliseconds).
    #[arg(long, default_value_t = 30_000)]
    ready_timeout: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Idle,
    Preserving,
    Rebooting,
}

/// A subscribed client.
struct Sub {
    conn: u64,
    sock: Arc<UnixStream>,
    /// Its session while a live update is being prepared.
    session: Option<Session>,
    ready: bool,
    gone: bool,
    /// The tokens it said it preserved.
    tokens: Vec<u64>,
}

struct State {
    phase: Phase,
    subs: BTreeMap<String, Sub>,
    /// Sessions of the previous kernel not claimed yet, with their tokens.
    incoming: BTreeMap<String, (Session, Vec<u64>)>,
    generation: u64,
    updated_from: Option<String>,
    /// Records that could not be read: a problem until luod restarts.
    records_problem: Option<String>,
    next_conn: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    ready_timeout: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn log(msg: std::fmt::Arguments<'_>) {
    eprintln!("luod: {msg}");
}

macro_rules! log {
    ($($t:tt)*) => { log(format_args!($($t)*)) };
}

/// Why `KEXEC` would be refused now, if it would.
fn problem(st: &State) -> Option<String> {
    if let Some(p) = &st.records_problem {
        return Some(format!(
            "the previous kernel's records could not be read: {p}"
        ));
    }
    if !st.incoming.is_empty() {
        let ids: Vec<_> = st.incoming.keys().cloned().collect();
        return Some(format!(
            "sessions from the previous kernel not claimed: {} (luoctl release ID)",
            ids.join(", ")
        ));
    }
    if !liveupdate::kexec_loaded() {
        return Some("no kernel loaded (luoctl load KERNEL)".into());
    }
    None
}

fn status(st: &State) -> Status {
    let mut sessions: Vec<SessionStatus> = st
        .subs
        .iter()
        .map(|(id, s)| SessionStatus {
            id: id.clone(),
            session: session_name(id),
            state: match (&s.session, s.ready) {
                (None, _) => "subscribed",
                (Some(_), false) => "preserving",
                (Some(_), true) => "ready",
            }
            .into(),
            connected: !s.gone,
            tokens: s.tokens.clone(),
        })
        .collect();
    sessions.extend(st.incoming.iter().map(|(id, (_, tokens))| SessionStatus {
        id: id.clone(),
        session: session_name(id),
        state: "incoming".into(),
        connected: false,
        tokens: tokens.clone(),
    }));
    Status {
        generation: st.generation,
        updated_from: st.updated_from.clone(),
        kexec_loaded: liveupdate::kexec_loaded(),
        phase: format!("{:?}", st.phase).to_lowercase(),
        sessions,
        problem: problem(st),
    }
}

fn error(seq: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Event {
    Event::Error {
        seq,
        code,
        message: message.into(),
    }
}

/// One client connection.
struct Client {
    shared: Arc<Shared>,
    id: u64,
    conn: Conn<Arc<UnixStream>>,
    /// The id this connection subscribed.
    subscribed: Option<String>,
}

impl Client {
    fn send(&self, ev: &Event) -> io::Result<()> {
        self.conn.send(&proto::to_line(ev), None)
    }

    fn run(mut self) {
        loop {
            let line = match self.conn.read_line() {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    log!("connection {}: {e}", self.id);
                    break;
                }
            };
            let reply = match line {
                Line::TooLong => Some(error(
                    None,
                    ErrorCode::TooLong,
                    format!("line over {} bytes", proto::MAX_LINE),
                )),
                Line::Complete(bytes) => {
                    // No request takes a descriptor: close any that came.
                    let stray = std::mem::take(&mut self.conn.fds).len();
                    match proto::parse_request(&bytes) {
                        Err((code, msg)) => Some(error(None, code, msg)),
                        Ok(env) if stray > 0 => Some(error(
                            env.seq,
                            ErrorCode::UnexpectedFd,
                            format!("{stray} file descriptors sent with a request that takes none"),
                        )),
                        Ok(env) => self.handle(env),
                    }
                }
            };
            if let Some(ev) = reply {
                if self.send(&ev).is_err() {
                    break;
                }
            }
        }
        self.disconnect();
    }

    fn ok(seq: Option<u64>) -> Option<Event> {
        seq.map(|seq| Event::Ok { seq: Some(seq) })
    }

    fn handle(&mut self, env: Envelope) -> Option<Event> {
        let seq = env.seq;
        match env.req {
            Request::Version => Some(Event::Version {
                protocol: proto::PROTOCOL_VERSION,
                luod: env!("CARGO_PKG_VERSION").into(),
            }),
            Request::Status => Some(Event::Status(status(&self.shared.lock()))),
            Request::Subscribe { id } => Some(match self.subscribe(id) {
                Ok(()) => return Self::ok(seq),
                Err((code, msg)) => error(seq, code, msg),
            }),
            Request::Ready { tokens } => {
                let mut st = self.shared.lock();
                let sub = self.subscribed.as_ref().and_then(|id| st.subs.get_mut(id));
                match sub {
                    Some(sub) if sub.session.is_some() => {
                        sub.ready = true;
                        sub.tokens = tokens;
                        self.shared.changed.notify_all();
                        Self::ok(seq)
                    }
                    _ => Some(error(
                        seq,
                        ErrorCode::BadState,
                        "READY before START_PRESERVATION",
                    )),
                }
            }
            Request::Claim { id } => {
                let session = self.shared.lock().incoming.remove(&id);
                let Some((session, tokens)) = session else {
                    return Some(error(
                        seq,
                        ErrorCode::UnknownId,
                        format!("no session for {id:?}"),
                    ));
                };
                let ev = Event::Claimed {
                    id: id.clone(),
                    session: session_name(&id),
                };
                if let Err(e) = self.conn.send(&proto::to_line(&ev), Some(session.as_fd())) {
                    // Not handed over: keep it for another claim.
                    log!("claim of {id}: {e}");
                    self.shared.lock().incoming.insert(id, (session, tokens));
                    return None;
                }
                log!("session of {id} claimed");
                None
            }
            Request::Release { id } => match self.shared.lock().incoming.remove(&id) {
                // Closing a retrieved session finishes it (unretrieved files are freed).
                Some(session) => {
                    drop(session);
                    log!("session of {id} released");
                    Self::ok(seq)
                }
                None => Some(error(
                    seq,
                    ErrorCode::UnknownId,
                    format!("no session for {id:?}"),
                )),
            },
            Request::Kexec { timeout_ms } => {
                let timeout = timeout_ms.unwrap_or(self.shared.ready_timeout);
                Some(
                    match kexec(&self.shared, &self.conn, Duration::from_millis(timeout)) {
                        Ok(()) => return Self::ok(seq),
                        Err((code, msg)) => error(seq, code, msg),
                    },
                )
            }
        }
    }

    fn subscribe(&mut self, id: String) -> Result<(), (ErrorCode, String)> {
        let mut st = self.shared.lock();
        if st.phase != Phase::Idle {
            return Err((ErrorCode::BadState, "a live update is under way".into()));
        }
        if self.subscribed.is_some() {
            return Err((
                ErrorCode::BadState,
                "this connection has subscribed already".into(),
            ));
        }
        if st.subs.contains_key(&id) {
            return Err((ErrorCode::Duplicate, format!("{id:?} has a subscriber")));
        }
        if st.incoming.contains_key(&id) {
            return Err((
                ErrorCode::BadState,
                format!("claim the session of {id:?} first"),
            ));
        }
        let sock = Arc::clone(&self.conn.sock);
        st.subs.insert(
            id.clone(),
            Sub {
                conn: self.id,
                sock,
                session: None,
                ready: false,
                gone: false,
                tokens: Vec::new(),
            },
        );
        log!("{id} subscribed");
        self.subscribed = Some(id);
        Ok(())
    }

    fn disconnect(self) {
        let Some(id) = self.subscribed else { return };
        let mut st = self.shared.lock();
        if st.phase == Phase::Idle {
            st.subs.remove(&id);
        } else if let Some(sub) = st.subs.get_mut(&id).filter(|s| s.conn == self.id) {
            // A live update is being prepared: it cannot go on without this client.
            sub.gone = true;
        }
        self.shared.changed.notify_all();
        log!("{id} disconnected");
    }
}

/// Drops every session made for the live update; the clients keep their files.
fn abandon(st: &mut State) {
    st.subs.retain(|_, s| !s.gone);
    for sub in st.subs.values_mut() {
        sub.session = None;
        sub.ready = false;
        sub.tokens.clear();
    }
    st.phase = Phase::Idle;
}

fn kexec(
    shared: &Shared,
    ctl: &Conn<Arc<UnixStream>>,
    timeout: Duration,
) -> Result<(), (ErrorCode, String)> {
    let refused = |m: String| (ErrorCode::Refused, m);
    let mut st = shared.lock();
    if st.phase != Phase::Idle {
        return Err((ErrorCode::BadState, "a live update is under way".into()));
    }
    if let Some(p) = problem(&st) {
        return Err(refused(p));
    }
    st.phase = Phase::Preserving;
    // Sessions out, one per client.
    let res = (|| {
        let dev = Device::open()
            .map_err(|e| (ErrorCode::Kernel, format!("{}: {e}", liveupdate::DEVICE)))?;
        for (id, sub) in st.subs.iter_mut() {
            let name = session_name(id);
            let session = dev
                .create_session(&name)
                .map_err(|e| (ErrorCode::Kernel, format!("create session {name}: {e}")))?;
            let ev = Event::StartPreservation { session: name };
            proto_send(&sub.sock, &ev, Some(&session))
                .map_err(|e| refused(format!("{id}: cannot send START_PRESERVATION: {e}")))?;
            sub.session = Some(session);
        }
        Ok(dev)
    })();
    let dev = match res {
        Ok(dev) => dev,
        Err(e) => {
            abandon(&mut st);
            return Err(e);
        }
    };
    // Every client READY, or no live update.
    let deadline = Instant::now() + timeout;
    let total = st.subs.len();
    let mut last = usize::MAX;
    loop {
        let waiting: Vec<String> = st
            .subs
            .iter()
            .filter(|(_, s)| !s.ready)
            .map(|(id, _)| id.clone())
            .collect();
        if let Some((id, _)) = st.subs.iter().find(|(_, s)| s.gone && !s.ready) {
            let id = id.clone();
            abandon(&mut st);
            return Err(refused(format!(
                "{id} disconnected before READY: no live update"
            )));
        }
        if waiting.len() != last {
            last = waiting.len();
            let ev = Event::Progress {
                ready: total - waiting.len(),
                total,
                waiting: waiting.clone(),
            };
            let _ = ctl.send(&proto::to_line(&ev), None);
        }
        if waiting.is_empty() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            abandon(&mut st);
            return Err(refused(format!(
                "not READY after {} ms: {}; no live update, every session dropped",
                timeout.as_millis(),
                waiting.join(", ")
            )));
        }
        st = shared
            .changed
            .wait_timeout(st, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    // luod's own records, in its own session.
    let records = Records {
        version: records::VERSION,
        generation: st.generation + 1,
        kernel: rustix::system::uname()
            .release()
            .to_string_lossy()
            .into_owned(),
        clients: st
            .subs
            .iter()
            .map(|(id, s)| ClientRecord {
                id: id.clone(),
                session: session_name(id),
                tokens: s.tokens.clone(),
            })
            .collect(),
    };
    let own = (|| {
        let session = dev.create_session(proto::RECORDS_SESSION)?;
        let memfd = records.to_memfd()?;
        session.preserve_fd(memfd.as_fd(), records::TOKEN)?;
        io::Result::Ok(session)
    })();
    let own = match own {
        Ok(s) => s,
        Err(e) => {
            abandon(&mut st);
            return Err((ErrorCode::Kernel, format!("records session: {e}")));
        }
    };
    // Not held across the reboot (systemd-shutdown may want it).
    drop(dev);
    st.phase = Phase::Rebooting;
    log!(
        "every client ready ({total}); kexec, generation {}",
        records.generation
    );
    luo_agent::timeline("luod: every client ready, kexec started");
    let ev = Event::Progress {
        ready: total,
        total,
        waiting: vec!["kexec".into()],
    };
    let _ = ctl.send(&proto::to_line(&ev), None);
    rustix::fs::sync();
    let err = rustix::system::reboot(rustix::system::RebootCommand::Kexec).err();
    // Still here: the reboot failed.
    drop(own);
    abandon(&mut st);
    Err((
        ErrorCode::Kernel,
        format!(
            "reboot(KEXEC): {}",
            err.map_or("returned".into(), |e| e.to_string())
        ),
    ))
}

fn proto_send(sock: &UnixStream, ev: &Event, session: Option<&Session>) -> io::Result<()> {
    luo_agent::wire::send_line(
        sock.as_fd(),
        &proto::to_line(ev),
        session.map(|s| s.as_fd()),
    )
}

/// Reads the previous kernel's records and retrieves its clients' sessions.
fn restore(st: &mut State) {
    let dev = match Device::open() {
        Ok(dev) => dev,
        Err(e) => {
            log!("{}: {e}; nothing to restore", liveupdate::DEVICE);
            return;
        }
    };
    let own = match dev.retrieve_session(proto::RECORDS_SESSION) {
        Ok(s) => s,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return,
        Err(e) => {
            st.records_problem = Some(format!("retrieve session {}: {e}", proto::RECORDS_SESSION));
            return;
        }
    };
    let records = own
        .retrieve_fd(records::TOKEN)
        .map_err(|e| e.to_string())
        .and_then(Records::from_memfd);
    let records = match records {
        Ok(r) => r,
        Err(e) => {
            log!("records: {e}");
            st.records_problem = Some(e);
            return;
        }
    };
    st.generation = records.generation;
    st.updated_from = Some(records.kernel.clone());
    for c in &records.clients {
        match dev.retrieve_session(&c.session) {
            Ok(s) => {
                st.incoming.insert(c.id.clone(), (s, c.tokens.clone()));
            }
            Err(e) => log!("session {} of {}: {e}", c.session, c.id),
        }
    }
    if let Err(e) = own.finish() {
        log!("finish {}: {e}", proto::RECORDS_SESSION);
    }
    log!(
        "live update {} from {}: {} sessions to claim",
        records.generation,
        records.kernel,
        st.incoming.len()
    );
}

fn main() {
    let args = Args::parse();
    let mut st = State {
        phase: Phase::Idle,
        subs: BTreeMap::new(),
        incoming: BTreeMap::new(),
        generation: 0,
        updated_from: None,
        records_problem: None,
        next_conn: 0,
    };
    restore(&mut st);
    let shared = Arc::new(Shared {
        state: Mutex::new(st),
        changed: Condvar::new(),
        ready_timeout: args.ready_timeout,
    });
    if let Some(secs) = args.claim_timeout {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            let mut st = shared.lock();
            for (id, session) in std::mem::take(&mut st.incoming) {
                log!("session of {id} not claimed in {secs} s: released");
                drop(session);
            }
        });
    }
    let path = std::path::Path::new(&args.socket);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::remove_file(path);
    let listener = match UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) => {
            log!("bind {}: {e}", args.socket);
            std::process::exit(1);
        }
    };
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    log!("listening on {}", args.socket);
    for stream in listener.incoming() {
        let sock = match stream {
            Ok(s) => Arc::new(s),
            Err(e) => {
                log!("accept: {e}");
                continue;
            }
        };
        let id = {
            let mut st = shared.lock();
            st.next_conn += 1;
            st.next_conn
        };
        let client = Client {
            shared: Arc::clone(&shared),
            id,
            conn: Conn::new(sock),
            subscribed: None,
        };
        std::thread::spawn(move || client.run());
    }
}
