//! Decoding one request message into a typed request and encoding its reply (or its error
// as the errno's name), as xenstored answers each message type.

use super::connection::{ConnId, RingInfo};
use super::daemon::{DomainRequest, Xenstored};
use super::message::{args, first_and_rest, one_arg, parse_u64};
use super::path;
use super::perms::{Perms, parse_domid};
use alloc::format;
use alloc::vec::Vec;
use hypercall_abi::errno::Errno;
use hypercall_abi::xenstore::{XENSTORE_PAYLOAD_MAX, XsdSockmsg, XsdSockmsgType};

/// A successful reply: its payload and a watch event to send right after it.
struct Reply {
    payload: Vec<u8>,
    then: Option<Vec<u8>>,
}

impl Reply {
    fn ok() -> Reply {
        Reply::data(b"OK\0".to_vec())
    }

    fn data(payload: Vec<u8>) -> Reply {
        Reply {
            payload,
            then: None,
        }
    }
}

fn privileged_only(x: &Xenstored, conn: ConnId) -> Result<(), Errno> {
    if x.caller(conn)?.privileged() {
        Ok(())
    } else {
        Err(Errno::Acces)
    }
}

impl Xenstored {
    /// Processes one complete request of `conn` and queues its reply.
    pub(super) fn handle(&mut self, conn: ConnId, h: XsdSockmsg, payload: &[u8]) {
        let r = self.process(conn, &h, payload);
        let cfg = self.config;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match r {
            Ok((ty, reply)) => {
                c.queue_reply(ty, h.req_id, h.tx_id, &reply.payload);
                if let Some(e) = reply.then {
                    c.queue_event(&cfg, &e);
                }
            }
            Err(e) => c.queue_error(h.req_id, h.tx_id, e),
        }
    }

    fn process(
        &mut self,
        conn: ConnId,
        h: &XsdSockmsg,
        payload: &[u8],
    ) -> Result<(XsdSockmsgType, Reply), Errno> {
        use XsdSockmsgType as T;
        // Types xenstored has no handler for (replies, the removed 20, unknown) are ENOSYS.
        let ty = match T::try_from(h.type_) {
            Ok(T::WatchEvent | T::Error) | Err(_) => return Err(Errno::NoSys),
            Ok(t) => t,
        };
        let privileged_type = matches!(
            ty,
            T::Control
                | T::Introduce
                | T::Release
                | T::IsDomainIntroduced
                | T::Resume
                | T::SetTarget
        );
        if privileged_type {
            privileged_only(self, conn)?;
        }
        // WATCH and UNWATCH ignore the transaction id; every other request names an open
        // transaction of the connection or none.
        let tx = if matches!(ty, T::Watch | T::Unwatch) {
            0
        } else {
            h.tx_id
        };
        let c = self.conns.get(&conn).ok_or(Errno::Inval)?;
        if tx != 0 && !c.transactions.contains_key(&tx) {
            return Err(Errno::NoEnt);
        }
        let reply = match ty {
            T::Read => {
                let p = self.node_path(conn, one_arg(payload)?)?;
                Reply::data(self.req_read(conn, tx, &p)?)
            }
            T::Write => {
                let (raw, value) = first_and_rest(payload)?;
                let p = self.node_path(conn, raw)?;
                self.req_write(conn, tx, &p, value)?;
                Reply::ok()
            }
            T::Mkdir => {
                let p = self.node_path(conn, one_arg(payload)?)?;
                self.req_mkdir(conn, tx, &p)?;
                Reply::ok()
            }
            T::Rm => {
                let p = self.node_path(conn, one_arg(payload)?)?;
                self.req_rm(conn, tx, &p)?;
                Reply::ok()
            }
            T::Directory => {
                let p = self.node_path(conn, one_arg(payload)?)?;
                let mut v = Vec::new();
                for name in self.req_directory(conn, tx, &p)? {
                    v.extend_from_slice(name.as_bytes());
                    v.push(0);
                }
                Reply::data(v)
            }
            T::DirectoryPart => {
                let a = args(payload);
                let [raw, off] = a[..] else {
                    return Err(Errno::Inval);
                };
                let off = usize::try_from(parse_u64(off)?).map_err(|_| Errno::Inval)?;
                let p = self.node_path(conn, raw)?;
                let node = self.req_node(conn, tx, &p)?;
                Reply::data(directory_part(
                    node.generation,
                    &node.children_bytes(),
                    off,
                )?)
            }
            T::GetPerms => Reply::data(self.req_get_perms(conn, tx, one_arg(payload)?)?.encode()),
            T::SetPerms => {
                let (raw, list) = first_and_rest(payload)?;
                let perms = Perms::parse(list)?;
                self.req_set_perms(conn, tx, raw, perms)?;
                Reply::ok()
            }
            T::Watch | T::Unwatch => {
                let a = args(payload);
                let [raw, token] = a[..] else {
                    return Err(Errno::Inval);
                };
                if ty == T::Watch {
                    let first = self.req_watch(conn, raw, token)?;
                    Reply {
                        payload: b"OK\0".to_vec(),
                        then: first,
                    }
                } else {
                    self.req_unwatch(conn, raw, token)?;
                    Reply::ok()
                }
            }
            T::TransactionStart => {
                if tx != 0 {
                    return Err(Errno::Busy);
                }
                let id = self.req_transaction_start(conn)?;
                Reply::data(format!("{id}\0").into_bytes())
            }
            T::TransactionEnd => {
                let commit = match one_arg(payload)? {
                    b"T" => true,
                    b"F" => false,
                    _ => return Err(Errno::Inval),
                };
                self.req_transaction_end(conn, tx, commit)?;
                Reply::ok()
            }
            T::Introduce => {
                let a = args(payload);
                let [d, mfn, port, ..] = a[..] else {
                    return Err(Errno::Inval);
                };
                let domid = parse_domid(d)?;
                let mfn = parse_u64(mfn)?;
                let port = u32::try_from(parse_u64(port)?).map_err(|_| Errno::Inval)?;
                let known = self.conn_of(domid).is_some();
                let conn = self.introduce(domid, mfn, port)?;
                if !known {
                    self.requests.push_back(DomainRequest::Introduced {
                        conn,
                        domid,
                        ring: RingInfo { mfn, port },
                    });
                }
                Reply::ok()
            }
            T::Release => {
                let domid = parse_domid(one_arg(payload)?)?;
                self.release(domid)?;
                self.requests.push_back(DomainRequest::Released { domid });
                Reply::ok()
            }
            T::GetDomainPath => {
                let domid = parse_domid(one_arg(payload)?)?;
                let mut v = path::domain_path(domid).into_bytes();
                v.push(0);
                Reply::data(v)
            }
            T::IsDomainIntroduced => {
                let domid = parse_domid(one_arg(payload)?)?;
                Reply::data(if self.is_introduced(domid) {
                    b"T\0".to_vec()
                } else {
                    b"F\0".to_vec()
                })
            }
            T::Resume => {
                let domid = parse_domid(one_arg(payload)?)?;
                self.conn_of(domid).ok_or(Errno::NoEnt)?;
                Reply::ok()
            }
            T::SetTarget => {
                let a = args(payload);
                let [d, t] = a[..] else {
                    return Err(Errno::Inval);
                };
                let (domid, target) = (parse_domid(d)?, parse_domid(t)?);
                let c = self.conn_of(domid).ok_or(Errno::NoEnt)?;
                if let Some(c) = self.conns.get_mut(&c) {
                    c.target = Some(target);
                }
                Reply::ok()
            }
            T::ResetWatches => {
                self.req_reset_watches(conn)?;
                Reply::ok()
            }
            T::Control => match args(payload).first().copied() {
                Some(b"check") => Reply::ok(),
                Some(b"help") => Reply::data(b"check\nhelp\n\0".to_vec()),
                _ => return Err(Errno::Inval),
            },
            T::WatchEvent | T::Error => return Err(Errno::NoSys),
        };
        Ok((ty, reply))
    }
}

/// The DIRECTORY_PART reply: the generation, then the whole child names from byte `off` of
/// the child list that fit, then an empty string.
pub(super) fn directory_part(
    generation: u64,
    children: &[u8],
    off: usize,
) -> Result<Vec<u8>, Errno> {
    if off > children.len() {
        return Err(Errno::Inval);
    }
    let mut v = format!("{generation}\0").into_bytes();
    let room = XENSTORE_PAYLOAD_MAX - v.len() - 1;
    let rest = &children[off..];
    let mut len = 0;
    for name in rest.split_inclusive(|&b| b == 0) {
        if len + name.len() > room {
            break;
        }
        len += name.len();
    }
    v.extend_from_slice(&rest[..len]);
    v.push(0);
    Ok(v)
}
