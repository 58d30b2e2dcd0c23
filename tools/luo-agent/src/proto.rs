// SPDX-License-Identifier: GPL-2.0
//! The client protocol of `luod`: newline-delimited JSON objects on a Unix
//! stream socket, file descriptors passed with `SCM_RIGHTS`.
//!
//! The base protocol is the `luo-agent` README's:
//!
//! 1. the client sends `{"cmd": "SUBSCRIBE", "id": "unique-id"}`;
//! 2. before the kexec, luod sends `{"event": "START_PRESERVATION"}` with the
//!    session's fd; the client preserves its files into it;
//! 3. the client sends `{"cmd": "READY"}`;
//! 4. after the kexec the client connects again and sends
//!    `{"cmd": "CLAIM", "id": "unique-id"}`; luod answers with the session fd,
//!    and the client retrieves its files and finishes the session.
//!
//! Extensions are additive (Documentation/luod.rst): a request may carry a
//! `"seq"` number, and then every request gets an `OK` or `ERROR` line echoing
//! it; without one, only errors are answered, so a client of the base protocol
//! reads exactly the lines it expects.  Other extensions: `VERSION`, `STATUS`,
//! `KEXEC` and `RELEASE` (for `luoctl`), and the `PROGRESS` event.

use serde::{Deserialize, Serialize};

/// Where luod listens.
pub const SOCKET_PATH: &str = "/run/luod/liveupdate.sock";
/// The longest line either side accepts, its newline excluded.
pub const MAX_LINE: usize = 64 * 1024;
/// The version of the extensions.
pub const PROTOCOL_VERSION: u32 = 1;
/// Prefix of the LUO sessions luod creates for its clients.
pub const SESSION_PREFIX: &str = "luod.";
/// The session that holds luod's own records.
pub const RECORDS_SESSION: &str = "luod";
/// Longest client id: the session name (`SESSION_PREFIX` + id) must fit in
/// the 63 bytes of a LUO session name.
pub const MAX_ID: usize = 63 - SESSION_PREFIX.len();

/// A request from a client or from `luoctl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Request {
    /// Base protocol: be given a session at the next live update.
    Subscribe { id: String },
    /// Base protocol: the files are in the session.  Extension: the tokens
    /// it preserved them under, which `STATUS` lists (before and after the
    /// kexec) and luod's records carry.
    Ready {
        #[serde(default)]
        tokens: Vec<u64>,
    },
    /// Base protocol, after the kexec: the session of `id`.
    Claim { id: String },
    /// Extension: the protocol version and luod's.
    Version,
    /// Extension: subscribers, sessions and the live update's state.
    Status,
    /// Extension (`luoctl kexec`): perform a live update into the loaded
    /// kernel, waiting up to `timeout_ms` for the clients.
    Kexec {
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Extension (`luoctl release`): give up an unclaimed session for good.
    Release { id: String },
}

/// A request with its optional sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(flatten)]
    pub req: Request,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not a JSON object of a known request.
    Malformed,
    /// Longer than [`MAX_LINE`].
    TooLong,
    /// An id that is empty, too long, or not `[A-Za-z0-9._-]`.
    BadId,
    /// `SUBSCRIBE` of an id that has a subscriber.
    Duplicate,
    /// `CLAIM` or `RELEASE` of an id with no session.
    UnknownId,
    /// A request that does not fit the connection's or luod's state
    /// (`READY` before `START_PRESERVATION`, `CLAIM` twice, ...).
    BadState,
    /// File descriptors sent with a request that takes none.
    UnexpectedFd,
    /// A live update is refused: no kernel loaded, clients not ready, ...
    Refused,
    /// The kernel refused an operation (errno in the message).
    Kernel,
}

/// A session as `STATUS` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub id: String,
    pub session: String,
    /// `subscribed`, `preserving`, `ready`, `incoming`, `claimed`.
    pub state: String,
    /// Whether a client is connected for it.
    pub connected: bool,
    /// The tokens its client said it preserved (`READY`), if it did.
    #[serde(default)]
    pub tokens: Vec<u64>,
}

/// What `STATUS` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The number of live updates that led to this boot (luod's records).
    pub generation: u64,
    /// The kernel release luod updated from, if this boot is a live update.
    pub updated_from: Option<String>,
    /// Whether a kernel is loaded for kexec (`/sys/kernel/kexec_loaded`).
    pub kexec_loaded: bool,
    /// `idle`, `preserving` or `rebooting`.
    pub phase: String,
    pub sessions: Vec<SessionStatus>,
    /// A problem that makes luod refuse `KEXEC`, if any.
    pub problem: Option<String>,
}

/// A line from luod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    /// Base protocol: preserve your files into the session that comes with
    /// this line.
    StartPreservation {
        #[serde(default)]
        session: String,
    },
    /// The session of a `CLAIM`, which comes with this line.
    Claimed { id: String, session: String },
    /// A request with a `seq` succeeded.
    Ok {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// A request failed.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        code: ErrorCode,
        message: String,
    },
    /// The answer to `VERSION`.
    Version { protocol: u32, luod: String },
    /// The answer to `STATUS`.
    Status(Status),
    /// During `KEXEC`: clients ready so far.
    Progress {
        ready: usize,
        total: usize,
        waiting: Vec<String>,
    },
}

/// Checks a client id: 1 to [`MAX_ID`] bytes of `[A-Za-z0-9._-]`.
pub fn check_id(id: &str) -> Result<(), ErrorCode> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ErrorCode::BadId)
    }
}

/// The LUO session name of client `id` (which [`check_id`] accepted).
pub fn session_name(id: &str) -> String {
    format!("{SESSION_PREFIX}{id}")
}

/// Parses one line (without its newline) into a request.
pub fn parse_request(line: &[u8]) -> Result<Envelope, (ErrorCode, String)> {
    if line.len() > MAX_LINE {
        return Err((
            ErrorCode::TooLong,
            format!("line longer than {MAX_LINE} bytes"),
        ));
    }
    let env: Envelope =
        serde_json::from_slice(line).map_err(|e| (ErrorCode::Malformed, e.to_string()))?;
    match &env.req {
        Request::Subscribe { id } | Request::Claim { id } | Request::Release { id } => {
            check_id(id).map_err(|c| (c, format!("bad id {id:?}")))?
        }
        _ => {}
    }
    Ok(env)
}

/// Parses one line from luod.
pub fn parse_event(line: &[u8]) -> Result<Event, String> {
    serde_json::from_slice(line).map_err(|e| e.to_string())
}

/// One line of JSON, newline included.
pub fn to_line<T: Serialize>(v: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(v).expect("protocol types always serialize");
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_protocol_lines_parse_as_the_readme_writes_them() {
        let sub = parse_request(br#"{"cmd": "SUBSCRIBE", "id": "unique-id"}"#).unwrap();
        assert_eq!(
            sub.req,
            Request::Subscribe {
                id: "unique-id".into()
            }
        );
        assert_eq!(sub.seq, None);
        assert_eq!(
            parse_request(br#"{"cmd": "READY"}"#).unwrap().req,
            Request::Ready { tokens: vec![] }
        );
        assert_eq!(
            parse_request(br#"{"cmd": "READY", "tokens": [1, 18446744073709551615]}"#)
                .unwrap()
                .req,
            Request::Ready {
                tokens: vec![1, u64::MAX]
            }
        );
        assert!(parse_request(br#"{"cmd": "READY", "tokens": [-1]}"#).is_err());
        let claim = parse_request(br#"{"cmd":"CLAIM","id":"vm-1"}"#).unwrap();
        assert_eq!(claim.req, Request::Claim { id: "vm-1".into() });
        // What luod sends is what the README says the client waits for.
        let ev = Event::StartPreservation {
            session: "luod.vm-1".into(),
        };
        let line = to_line(&ev);
        assert!(line.ends_with(b"\n"));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["event"], "START_PRESERVATION");
        // The README's own line, without a session name, parses too.
        assert_eq!(
            parse_event(br#"{"event": "START_PRESERVATION"}"#).unwrap(),
            Event::StartPreservation {
                session: String::new()
            }
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_seq_is_kept() {
        let env = parse_request(br#"{"cmd":"STATUS","seq":7,"x":[1,2]}"#).unwrap();
        assert_eq!(
            env,
            Envelope {
                req: Request::Status,
                seq: Some(7)
            }
        );
        let env = parse_request(br#"{"cmd":"KEXEC","timeout_ms":1500}"#).unwrap();
        assert_eq!(
            env.req,
            Request::Kexec {
                timeout_ms: Some(1500)
            }
        );
    }

    #[test]
    fn malformed_requests_are_refused_with_a_code() {
        let cases: &[(&[u8], ErrorCode)] = &[
            (b"", ErrorCode::Malformed),
            (b"not json", ErrorCode::Malformed),
            (b"[1,2,3]", ErrorCode::Malformed),
            (br#"{"id":"x"}"#, ErrorCode::Malformed),
            (br#"{"cmd":"REBOOT"}"#, ErrorCode::Malformed),
            (br#"{"cmd":"SUBSCRIBE"}"#, ErrorCode::Malformed),
            (br#"{"cmd":"SUBSCRIBE","id":5}"#, ErrorCode::Malformed),
            (br#"{"cmd":"SUBSCRIBE","id":""}"#, ErrorCode::BadId),
            (br#"{"cmd":"SUBSCRIBE","id":"a/b"}"#, ErrorCode::BadId),
            (br#"{"cmd":"CLAIM","id":"caf\u00e9"}"#, ErrorCode::BadId),
            (
                br#"{"cmd":"SUBSCRIBE","id":"x","seq":-1}"#,
                ErrorCode::Malformed,
            ),
        ];
        for (line, code) in cases {
            let got = parse_request(line).map_err(|(c, _)| c);
            assert_eq!(got, Err(*code), "{}", String::from_utf8_lossy(line));
        }
        let long = format!(r#"{{"cmd":"SUBSCRIBE","id":"{}"}}"#, "a".repeat(MAX_LINE));
        assert_eq!(
            parse_request(long.as_bytes()).map_err(|(c, _)| c),
            Err(ErrorCode::TooLong)
        );
    }

    #[test]
    fn ids_fit_a_luo_session_name() {
        let id = "a".repeat(MAX_ID);
        assert!(check_id(&id).is_ok());
        assert_eq!(session_name(&id).len(), 63);
        assert_eq!(check_id(&"a".repeat(MAX_ID + 1)), Err(ErrorCode::BadId));
        assert!(check_id("kv-cache_1.0").is_ok());
    }

    #[test]
    fn events_round_trip() {
        let events = [
            Event::Claimed {
                id: "a".into(),
                session: "luod.a".into(),
            },
            Event::Ok { seq: Some(3) },
            Event::Error {
                seq: None,
                code: ErrorCode::UnknownId,
                message: "no".into(),
            },
            Event::Version {
                protocol: PROTOCOL_VERSION,
                luod: "0.1.0".into(),
            },
            Event::Progress {
                ready: 1,
                total: 2,
                waiting: vec!["b".into()],
            },
            Event::Status(Status {
                generation: 2,
                updated_from: Some("7.3.4".into()),
                kexec_loaded: true,
                phase: "idle".into(),
                sessions: vec![SessionStatus {
                    id: "a".into(),
                    session: "luod.a".into(),
                    state: "incoming".into(),
                    connected: false,
                    tokens: vec![1, 2],
                }],
                problem: None,
            }),
        ];
        for ev in events {
            let line = to_line(&ev);
            assert_eq!(parse_event(&line[..line.len() - 1]).unwrap(), ev);
        }
    }
}
