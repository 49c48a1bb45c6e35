//! Who is acting: the operating-system user at the other end of the socket.
//!
//! The service reads the peer's credentials from the kernel (`SO_PEERCRED`): a client
//! cannot claim to be someone else, which is what makes the audit log's `actor` and the
//! separation of duties mean something.

use std::os::fd::AsFd;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Uid, User};
use serde::{Deserialize, Serialize};

/// An acting user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Numeric user id.
    pub uid: u32,
    /// User name from the system's user database, or `uid:N` when it has none.
    pub name: String,
}

impl Actor {
    /// The user with this id.
    pub fn from_uid(uid: u32) -> Actor {
        let name = User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or_else(|| format!("uid:{uid}"), |user| user.name);
        Actor { uid, name }
    }

    /// The user running this process (for in-process use and `init`).
    pub fn current() -> Actor {
        Actor::from_uid(nix::unistd::getuid().as_raw())
    }

    /// The gate itself, for the steps it takes on its own (scans, recovery).
    pub fn gate() -> Actor {
        Actor {
            uid: nix::unistd::getuid().as_raw(),
            name: "(gate)".to_owned(),
        }
    }

    /// The user at the other end of a Unix socket, as the kernel reports it.
    ///
    /// # Errors
    /// When the socket has no peer credentials (not a Unix socket).
    pub fn of_peer(socket: &impl AsFd) -> std::io::Result<Actor> {
        let credentials = getsockopt(socket, PeerCredentials).map_err(std::io::Error::from)?;
        Ok(Actor::from_uid(credentials.uid()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_pair_reports_this_process_user() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(Actor::of_peer(&a).unwrap(), Actor::current());
    }

    #[test]
    fn unknown_ids_are_named_by_number() {
        assert_eq!(Actor::from_uid(4_000_000_000).name, "uid:4000000000");
    }
}
