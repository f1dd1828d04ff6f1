//! The node operations (read, write, mkdir, rm, directory, permissions) over a `Store`, with
// xenstored's permission, quota and error rules. Each either fails with no effect or
// succeeds and lists the changes that fire watches.

use super::config::Config;
use super::node::Node;
use super::path;
use super::perms::{Perms, Rights};
use super::store::Store;
use super::watch::Change;
use alloc::string::String;
use alloc::vec::Vec;
use hypercall_abi::domid::DomId;
use hypercall_abi::errno::Errno;

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The caller's domain; 0 is privileged.
    pub domid: DomId,
    /// The domain this one acts for (`SET_TARGET`), if any.
    pub target: Option<DomId>,
}

impl Caller {
    /// Whether quotas and permissions are bypassed (Dom0).
    pub fn privileged(&self) -> bool {
        self.domid == 0
    }

    /// What the caller may do with a node carrying `perms`.
    pub fn rights(&self, perms: &Perms) -> Rights {
        if self.privileged() {
            Rights::ALL
        } else {
            perms.rights_for(self.domid, self.target)
        }
    }
}

/// The access an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Reading.
    Read,
    /// Writing.
    Write,
}

fn allows(r: Rights, need: Need) -> bool {
    match need {
        Need::Read => r.read,
        Need::Write => r.write,
    }
}

/// The node at a validated `path` if the caller has `need` on it. A missing node is ENOENT if
/// the caller has `need` on its nearest existing ancestor, else EACCES (so a refused caller
/// learns nothing of what exists).
pub fn get_node<S: Store + ?Sized>(
    s: &mut S,
    caller: Caller,
    path: &str,
    need: Need,
) -> Result<Node, Errno> {
    if let Some(n) = s.get(path)? {
        return if allows(caller.rights(&n.perms), need) {
            Ok(n)
        } else {
            Err(Errno::Acces)
        };
    }
    let mut p = path::parent(path);
    while let Some(q) = p {
        if let Some(n) = s.get(q)? {
            return Err(if allows(caller.rights(&n.perms), need) {
                Errno::NoEnt
            } else {
                Errno::Acces
            });
        }
        p = path::parent(q);
    }
    Err(Errno::NoEnt)
}

fn check_size(caller: Caller, cfg: &Config, n: &Node) -> Result<(), Errno> {
    if !caller.privileged() && n.entry_size() >= cfg.max_entry_size {
        Err(Errno::NoSpc)
    } else {
        Ok(())
    }
}

/// Stores `writes` after checking, for an unprivileged caller, that no unprivileged owner
/// grows past its memory quota and that a transaction can hold them (ENOMEM otherwise).
fn apply<S: Store + ?Sized>(
    s: &mut S,
    caller: Caller,
    cfg: &Config,
    writes: Vec<(String, Node)>,
) -> Result<(), Errno> {
    if !caller.privileged() {
        let mut growth: Vec<(DomId, i64)> = Vec::new();
        let mut add = |d: DomId, by: i64| match growth.iter_mut().find(|(x, _)| *x == d) {
            Some((_, g)) => *g += by,
            None => growth.push((d, by)),
        };
        let mut total = 0usize;
        for (p, n) in &writes {
            if let Some(old) = s.get(p)? {
                add(old.perms.owner(), -(old.mem(p) as i64));
            }
            add(n.perms.owner(), n.mem(p) as i64);
            total += n.mem(p);
        }
        for (d, g) in growth {
            if d != 0 && g > 0 && s.usage(d).bytes + g as usize > cfg.max_memory_per_domain {
                return Err(Errno::NoMem);
            }
        }
        s.reserve(total)?;
    }
    for (p, n) in writes {
        s.put(&p, n);
    }
    Ok(())
}

/// READ: the value.
pub fn read<S: Store + ?Sized>(s: &mut S, caller: Caller, path: &str) -> Result<Vec<u8>, Errno> {
    Ok(get_node(s, caller, path, Need::Read)?.value)
}

/// Creates `path` and its missing ancestors (whose write permission `get_node` checked):
/// each inherits its parent's permissions, owned by the caller if unprivileged.
fn create<S: Store + ?Sized>(
    s: &mut S,
    caller: Caller,
    cfg: &Config,
    target: &str,
    value: &[u8],
    changes: &mut Vec<Change>,
) -> Result<(), Errno> {
    let mut missing: Vec<String> = alloc::vec![String::from(target)];
    let (mut parent_path, mut parent) = loop {
        let q = path::parent(missing.last().map_or("/", |p| p.as_str())).ok_or(Errno::NoEnt)?;
        match s.get(q)? {
            Some(n) => break (String::from(q), n),
            None => missing.push(String::from(q)),
        }
    };
    if !caller.privileged() {
        let have = s.usage(caller.domid).nodes as usize;
        if have + missing.len() > cfg.max_nodes_per_domain as usize {
            return Err(Errno::NoSpc);
        }
    }
    let mut writes: Vec<(String, Node)> = Vec::new();
    for p in missing.into_iter().rev() {
        parent.children.push(String::from(path::basename(&p)));
        check_size(caller, cfg, &parent)?;
        let mut perms = parent.perms.clone();
        if !caller.privileged() {
            perms.set_owner(caller.domid);
        }
        writes.push((core::mem::replace(&mut parent_path, p), parent));
        parent = Node::new(perms);
    }
    parent.value = value.to_vec();
    check_size(caller, cfg, &parent)?;
    writes.push((parent_path, parent));
    apply(s, caller, cfg, writes)?;
    changes.push(Change::at(target, None));
    Ok(())
}

/// WRITE: stores `value`, creating the node and missing parents.
pub fn write<S: Store + ?Sized>(
    s: &mut S,
    caller: Caller,
    cfg: &Config,
    path: &str,
    value: &[u8],
    changes: &mut Vec<Change>,
) -> Result<(), Errno> {
    match get_node(s, caller, path, Need::Write) {
        Ok(mut n) => {
            n.value = value.to_vec();
            check_size(caller, cfg, &n)?;
            apply(s, caller, cfg, alloc::vec![(String::from(path), n)])?;
            changes.push(Change::at(path, None));
            Ok(())
        }
        Err(Errno::NoEnt) => create(s, caller, cfg, path, value, changes),
        Err(e) => Err(e),
    }
}

/// MKDIR: makes sure `path` exists (an existing node is left alone).
pub fn mkdir<S: Store + ?Sized>(
    s: &mut S,
    caller: Caller,
    cfg: &Config,
    path: &str,
    changes: &mut Vec<Change>,
) -> Result<(), Errno> {
    match get_node(s, caller, path, Need::Write) {
        Ok(_) => Ok(()),
        Err(Errno::NoEnt) => create(s, caller, cfg, path, &[], changes),
        Err(e) => Err(e),
    }
}

/// RM: removes `path` and everything below it; a missing node is fine if its parent exists.
pub fn rm<S: Store + ?Sized>(
    s: &mut S,
    caller: Caller,
    cfg: &Config,
    path: &str,
    changes: &mut Vec<Change>,
) -> Result<(), Errno> {
    let parent_path = path::parent(path).ok_or(Errno::Inval)?;
    let node = match get_node(s, caller, path, Need::Write) {
        Ok(n) => n,
        Err(Errno::NoEnt) => {
            return match s.get(parent_path)? {
                Some(_) => Ok(()),
                None => Err(Errno::NoEnt),
            };
        }
        Err(e) => return Err(e),
    };
    let mut parent = s.get(parent_path)?.ok_or(Errno::NoEnt)?;
    // Collect the subtree first, so a failure (a transaction's node limit) changes nothing.
    let mut doomed: Vec<(String, Perms)> = Vec::new();
    let mut stack: Vec<(String, Node)> = alloc::vec![(String::from(path), node)];
    while let Some((p, n)) = stack.pop() {
        for c in &n.children {
            let cp = path::join(&p, c);
            if let Some(cn) = s.get(&cp)? {
                stack.push((cp, cn));
            }
        }
        doomed.push((p, n.perms));
    }
    let name = path::basename(path);
    parent.children.retain(|c| c != name);
    apply(
        s,
        caller,
        cfg,
        alloc::vec![(String::from(parent_path), parent)],
    )?;
    for (i, (p, perms)) in doomed.into_iter().enumerate() {
        s.remove(&p);
        let mut ch = Change::at(&p, Some(perms));
        ch.exact = i > 0;
        changes.push(ch);
    }
    Ok(())
}

/// DIRECTORY: the children's names.
pub fn directory<S: Store + ?Sized>(
    s: &mut S,
    caller: Caller,
    path: &str,
) -> Result<Vec<String>, Errno> {
    Ok(get_node(s, caller, path, Need::Read)?.children)
}

/// The node itself, for DIRECTORY_PART (generation and child list).
pub fn node_for_read<S: Store + ?Sized>(
    s: &mut S,
    caller: Caller,
    path: &str,
) -> Result<Node, Errno> {
    get_node(s, caller, path, Need::Read)
}

/// GET_PERMS.
pub fn get_perms<S: Store + ?Sized>(s: &mut S, caller: Caller, path: &str) -> Result<Perms, Errno> {
    Ok(get_node(s, caller, path, Need::Read)?.perms)
}

/// SET_PERMS: only the owner (who may not give the node away) or Dom0.
pub fn set_perms<S: Store + ?Sized>(
    s: &mut S,
    caller: Caller,
    cfg: &Config,
    path: &str,
    perms: Perms,
    changes: &mut Vec<Change>,
) -> Result<(), Errno> {
    if !caller.privileged() && perms.entries().len() - 1 > cfg.max_perms {
        return Err(Errno::NoSpc);
    }
    let mut n = get_node(s, caller, path, Need::Write)?;
    if !caller.privileged() {
        if !caller.rights(&n.perms).owner {
            return Err(Errno::Perm);
        }
        if perms.owner() != n.perms.owner() {
            return Err(Errno::Perm);
        }
    }
    let old = core::mem::replace(&mut n.perms, perms);
    check_size(caller, cfg, &n)?;
    apply(s, caller, cfg, alloc::vec![(String::from(path), n)])?;
    changes.push(Change::at(path, Some(old)));
    Ok(())
}
