//! Wakes that stay inside one poll.
//!
//! An upstream exchange polls hyper's connection and the request's response in the same
//! task. Each hand-over between them (the request queued, the response delivered, the
//! connection ready again) wakes the task, which would then poll the whole sender-facing
//! connection once more for nothing. [`Local`] gives the inner futures a waker of its own:
//! a wake that arrives while they are being polled only asks for one more local pass; only a
//! wake from outside (the socket became readable) reaches the task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// Local passes one poll may take before it leaves the rest to the scheduler.
const MAX_PASSES: usize = 8;

/// The waker handed to the inner futures.
#[derive(Default)]
struct Flag {
    task: AtomicWaker,
    polling: AtomicBool,
    woken: AtomicBool,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            self.task.wake();
        }
    }
}

/// A reusable local waker; one per upstream connection.
pub(crate) struct Local {
    flag: Arc<Flag>,
    waker: Waker,
}

impl Default for Local {
    fn default() -> Local {
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(Arc::clone(&flag));
        Local { flag, waker }
    }
}

impl Local {
    /// Runs `pass` with the local waker until it is ready, or until a pass ends with no
    /// wake having arrived during it (then the task waits for a wake from outside).
    pub(crate) fn poll<T>(
        &self,
        cx: &mut Context<'_>,
        mut pass: impl FnMut(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        self.flag.task.register(cx.waker());
        let mut inner = Context::from_waker(&self.waker);
        for _ in 0..MAX_PASSES {
            self.flag.woken.store(false, Ordering::SeqCst);
            self.flag.polling.store(true, Ordering::SeqCst);
            let result = pass(&mut inner);
            self.flag.polling.store(false, Ordering::SeqCst);
            if result.is_ready() {
                return result;
            }
            if !self.flag.woken.load(Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
        // Still being woken: yield to the scheduler rather than spin here.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn wakes_during_a_pass_stay_local_and_later_ones_reach_the_task() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let task = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&task);
        let local = Local::default();
        let mut passes = 0;
        let mut kept = None;
        let result = local.poll(&mut cx, |inner| {
            passes += 1;
            kept = Some(inner.waker().clone());
            if passes < 3 {
                inner.waker().wake_by_ref();
            }
            Poll::<()>::Pending
        });
        assert!(result.is_pending());
        assert_eq!(passes, 3, "two wakes during passes, two more passes");
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "the task was not woken");
        kept.expect("a waker was kept").wake();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "a wake from outside reaches the task"
        );
    }

    #[test]
    fn a_pass_woken_every_time_yields_to_the_scheduler() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let task = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&task);
        let local = Local::default();
        let result = local.poll(&mut cx, |inner| {
            inner.waker().wake_by_ref();
            Poll::<()>::Pending
        });
        assert!(result.is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
