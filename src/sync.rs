//! Mutex locking that survives a panicked holder: the data behind every lock of
//! this crate stays consistent between statements, so it is safe to go on.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, taking the data back if a thread panicked while holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
