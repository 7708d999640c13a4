//! The fake's "the state changed" signal: a condition variable that knows
//! whether anyone waits on it. Every request may change the state, but
//! only a change's `/wait` or a notices query with a timeout waits for
//! one; a condition variable's wake-up is a system call whether or not
//! anyone waits, and in process the requests come by the dozen a test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, MutexGuard};
use std::time::Duration;

/// Wakes the requests waiting for the fake's state to change.
#[derive(Debug, Default)]
pub(crate) struct Wakeup {
    condvar: Condvar,
    /// How many wait now. A waiter counts itself while it holds the
    /// state's lock, before it sleeps; whoever changes the state does so
    /// under that lock and reads the count after, so it never reads 0
    /// while a waiter that missed its change sleeps.
    waiting: AtomicUsize,
}

impl Wakeup {
    /// Wakes every waiter, if there is one. Call it after changing the
    /// state (the lock held or released).
    pub(crate) fn notify(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.condvar.notify_all();
        }
    }

    /// Sleeps until woken (or spuriously), releasing `guard` meanwhile.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let guard = self
            .condvar
            .wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        guard
    }

    /// [`Self::wait`], for at most `timeout`.
    pub(crate) fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> MutexGuard<'a, T> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let (guard, _) = self
            .condvar
            .wait_timeout(guard, timeout)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex, mpsc};
    use std::thread;
    use std::time::Instant;

    #[test]
    fn a_waiter_wakes_when_the_state_changes() {
        let shared = Arc::new((Mutex::new(false), Wakeup::default()));
        let (woke, woken) = mpsc::channel();
        {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (state, wakeup) = &*shared;
                let mut done = state.lock().unwrap();
                while !*done {
                    done = wakeup.wait(done);
                }
                woke.send(()).unwrap();
            });
        }
        // Until the waiter sleeps, a notify would find nobody to wake.
        while shared.1.waiting.load(Ordering::SeqCst) == 0 {
            thread::yield_now();
        }
        *shared.0.lock().unwrap() = true;
        shared.1.notify();
        woken
            .recv_timeout(Duration::from_secs(10))
            .expect("the waiter woke");
        assert_eq!(shared.1.waiting.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_timed_wait_ends_at_its_timeout_without_a_change() {
        let state = Mutex::new(());
        let wakeup = Wakeup::default();
        let deadline = Instant::now() + Duration::from_millis(20);
        let mut guard = state.lock().unwrap();
        // As the fake's own waits do: a condition variable may wake
        // without a notify, so wait again until the deadline.
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            guard = wakeup.wait_timeout(guard, left);
        }
        drop(guard);
        assert_eq!(wakeup.waiting.load(Ordering::SeqCst), 0);
    }
}
