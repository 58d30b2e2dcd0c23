// SPDX-License-Identifier: GPL-2.0
//! luod's records: what it hands itself across a live update, as JSON in a
//! sealed memfd that it preserves in its own LUO session (`luod`, token 1).
//! After the kexec, the new luod finds everything it needs in LUO itself; no
//! state on disk.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
use serde::{Deserialize, Serialize};

use crate::proto::{check_id, session_name};

/// The records format.
pub const VERSION: u32 = 1;
/// The token of the records memfd in the `luod` session.
pub const TOKEN: u64 = 1;
/// The largest records memfd luod reads.
pub const MAX_SIZE: u64 = 1 << 20;

/// One client's session, handed over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub id: String,
    /// Its LUO session.
    pub session: String,
    /// The tokens its files were preserved under, as the client said.
    #[serde(default)]
    pub tokens: Vec<u64>,
}

/// What luod preserves for the next luod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    pub version: u32,
    /// Live updates luod has done on this machine since a cold boot.
    pub generation: u64,
    /// The release of the kernel that wrote the records.
    pub kernel: String,
    pub clients: Vec<ClientRecord>,
}

impl Records {
    /// Checks records read from the previous kernel: the version, each id and
    /// session name, no id twice.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != VERSION {
            return Err(format!(
                "records version {} (this luod reads {VERSION})",
                self.version
            ));
        }
        let mut seen = BTreeSet::new();
        for c in &self.clients {
            check_id(&c.id).map_err(|_| format!("bad client id {:?}", c.id))?;
            if c.session != session_name(&c.id) {
                return Err(format!("client {:?} has session {:?}", c.id, c.session));
            }
            if !seen.insert(&c.id) {
                return Err(format!("client {:?} is there twice", c.id));
            }
        }
        Ok(())
    }

    /// Parses and validates records.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let r: Records = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        r.validate()?;
        Ok(r)
    }

    /// A sealed memfd holding the records (no write, grow, shrink, or more seals).
    pub fn to_memfd(&self) -> io::Result<OwnedFd> {
        let fd = memfd_create(
            c"luod-records",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        let mut f = File::from(fd);
        f.write_all(&serde_json::to_vec(self).map_err(io::Error::other)?)?;
        let fd = OwnedFd::from(f);
        fcntl_add_seals(
            &fd,
            SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL,
        )?;
        Ok(fd)
    }

    /// Reads records back from a memfd.
    pub fn from_memfd(fd: impl AsFd) -> Result<Self, String> {
        let fd = fd.as_fd().try_clone_to_owned().map_err(|e| e.to_string())?;
        let mut f = File::from(fd);
        f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        f.take(MAX_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        if bytes.len() as u64 > MAX_SIZE {
            return Err(format!("records larger than {MAX_SIZE} bytes"));
        }
        Self::parse(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Records {
        Records {
            version: VERSION,
            generation: 3,
            kernel: "7.3.4-luo-rust".into(),
            clients: vec![
                ClientRecord {
                    id: "kv".into(),
                    session: "luod.kv".into(),
                    tokens: vec![1],
                },
                ClientRecord {
                    id: "vm-1".into(),
                    session: "luod.vm-1".into(),
                    tokens: vec![],
                },
            ],
        }
    }

    #[test]
    fn records_survive_a_sealed_memfd() {
        let r = sample();
        let fd = r.to_memfd().unwrap();
        assert_eq!(Records::from_memfd(&fd).unwrap(), r);
        // Sealed: nobody can change them now.
        let mut f = File::from(fd);
        assert!(f.write_all(b"x").is_err());
    }

    #[test]
    fn bad_records_are_refused() {
        let mut r = sample();
        r.version = 99;
        assert!(r.validate().is_err());
        let mut r = sample();
        r.clients[1].id = "kv".into();
        r.clients[1].session = "luod.kv".into();
        assert!(r.validate().unwrap_err().contains("twice"));
        let mut r = sample();
        r.clients[0].session = "systemd".into();
        assert!(r.validate().is_err());
        let mut r = sample();
        r.clients[0].id = "../x".into();
        assert!(r.validate().is_err());
        assert!(Records::parse(b"{\"version\":1}").is_err());
        assert!(Records::parse(b"\xff\xfe").is_err());
        assert!(Records::parse(&serde_json::to_vec(&sample()).unwrap()).is_ok());
    }

    #[test]
    fn oversized_records_are_not_read_whole() {
        let fd = memfd_create(c"big", MemfdFlags::CLOEXEC).unwrap();
        let mut f = File::from(fd);
        f.write_all(&vec![b' '; (MAX_SIZE + 10) as usize]).unwrap();
        assert!(Records::from_memfd(&f).unwrap_err().contains("larger"));
    }
}
