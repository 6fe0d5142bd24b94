//! Terminations waiting for their session to leave ACTIVATING (AWS refuses
//! them until then): the [`PendingTerminations`] seam between the gateway,
//! which defers them, and where they are kept. A pending termination is
//! worked on by one process at a time, under a [`Claim`]; a claim dropped
//! without [`Claim::done`] lets another process take the work over (from a
//! shared store, through [`PendingTerminations::orphans`]). [`InProcess`],
//! the default, keeps them in this process.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::{at_once, Soon};
use crate::sync::lock;

/// What a store does when the work on a claimed termination ends.
pub trait Release: Send {
    /// The termination is settled (sent, or not needed): forget it.
    fn done(self: Box<Self>);
}

/// The right and duty to carry out one pending termination; dropped
/// without [`Claim::done`], it lets another process take the work over.
pub struct Claim(Box<dyn Release>);

impl Claim {
    /// A claim whose end goes to `release`.
    pub fn new(release: impl Release + 'static) -> Self {
        Self(Box::new(release))
    }

    /// The termination is settled: forgotten by the store.
    pub fn done(self) {
        self.0.done();
    }
}

/// A pending termination: the session's stream group and ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pending {
    /// The stream group (an ID or ARN).
    pub group: String,
    /// The session's ARN.
    pub arn: String,
}

/// Where pending terminations are kept.
pub trait PendingTerminations: Send + Sync {
    /// Records that `pending` is to be terminated: a claim for this process,
    /// or `None` when it is pending already and another worker has it.
    fn add(&self, pending: Pending) -> Soon<'_, Option<Claim>>;

    /// Pending terminations no live process works on, claimed for this one.
    fn orphans(&self) -> Soon<'_, Vec<(Pending, Claim)>>;
}

/// Pending terminations in this process: none is ever orphaned.
#[derive(Debug, Clone, Default)]
pub struct InProcess {
    pending: Arc<Mutex<HashSet<Pending>>>,
}

/// An in-process claim: its end forgets the termination, done or not.
struct Forget {
    pending: Arc<Mutex<HashSet<Pending>>>,
    key: Option<Pending>,
}

impl Release for Forget {
    fn done(mut self: Box<Self>) {
        self.forget();
    }
}

impl Forget {
    fn forget(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.pending).remove(&key);
        }
    }
}

impl Drop for Forget {
    fn drop(&mut self) {
        self.forget();
    }
}

impl InProcess {
    /// Records `pending` at once; see [`PendingTerminations::add`].
    pub fn add_now(&self, pending: Pending) -> Option<Claim> {
        if !lock(&self.pending).insert(pending.clone()) {
            return None;
        }
        Some(Claim::new(Forget { pending: self.pending.clone(), key: Some(pending) }))
    }

    /// How many are pending now.
    pub fn len(&self) -> usize {
        lock(&self.pending).len()
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PendingTerminations for InProcess {
    fn add(&self, pending: Pending) -> Soon<'_, Option<Claim>> {
        at_once(self.add_now(pending))
    }

    fn orphans(&self) -> Soon<'_, Vec<(Pending, Claim)>> {
        at_once(Vec::new())
    }
}
