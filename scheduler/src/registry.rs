//! The local name registry (`register` / `whereis` / `unregister`).
//!
//! Names are `u64` keys the language interns (keywords). One name per actor
//! and one actor per name, as in Erlang. A name is freed when its actor dies:
//! the dying actor removes its own entry (see `process::Cell::has_name` for
//! why no registration can slip in after that).

use std::collections::HashMap;

use crate::api::RegisterError;
use crate::pid::Pid;
use crate::sync::Mutex;

#[derive(Default)]
struct Names {
    by_name: HashMap<u64, Pid>,
    by_pid: HashMap<Pid, u64>,
}

#[derive(Default)]
pub(crate) struct Registry {
    names: Mutex<Names>,
}

impl Registry {
    /// Registers `name` for `pid`. `mark_alive` runs under the registry lock:
    /// it flags the actor as named and reports whether it is still alive.
    pub(crate) fn register(
        &self,
        name: u64,
        pid: Pid,
        mark_alive: impl FnOnce() -> bool,
    ) -> Result<(), RegisterError> {
        let mut names = self.names.lock();
        if names.by_name.contains_key(&name) {
            return Err(RegisterError::NameTaken);
        }
        if names.by_pid.contains_key(&pid) {
            return Err(RegisterError::AlreadyNamed);
        }
        if !mark_alive() {
            return Err(RegisterError::NotAlive);
        }
        names.by_name.insert(name, pid);
        names.by_pid.insert(pid, name);
        Ok(())
    }

    pub(crate) fn whereis(&self, name: u64) -> Option<Pid> {
        self.names.lock().by_name.get(&name).copied()
    }

    /// Removes `name`; false if it was not registered.
    pub(crate) fn unregister(&self, name: u64) -> bool {
        let mut names = self.names.lock();
        match names.by_name.remove(&name) {
            Some(pid) => {
                names.by_pid.remove(&pid);
                true
            }
            None => false,
        }
    }

    /// Every registered name with its actor.
    pub(crate) fn names(&self) -> Vec<(u64, Pid)> {
        let names = self.names.lock();
        names.by_name.iter().map(|(&n, &p)| (n, p)).collect()
    }

    /// The name `pid` is registered under.
    pub(crate) fn name_of(&self, pid: Pid) -> Option<u64> {
        self.names.lock().by_pid.get(&pid).copied()
    }

    /// The actor died: free its name, if any (returned).
    pub(crate) fn remove_pid(&self, pid: Pid) -> Option<u64> {
        let mut names = self.names.lock();
        let name = names.by_pid.remove(&pid);
        if let Some(name) = name {
            names.by_name.remove(&name);
        }
        name
    }
}
