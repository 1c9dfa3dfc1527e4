//! A deterministic single-threaded executor.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// A process identifier, as `ss -p` shows it.
pub type Pid = u32;

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

/// The queue of task ids to poll. Wakers must be `Send + Sync`, hence the
/// mutex; it is never contended (one thread).
#[derive(Debug, Default)]
pub(crate) struct ReadyQueue {
    queue: Mutex<VecDeque<u64>>,
    /// The queue's length, read without the lock: the host asks whether
    /// anything is ready far more often than anything is.
    len: AtomicUsize,
}

impl ReadyQueue {
    fn push(&self, id: u64) {
        let mut q = self.queue.lock().expect("ready queue poisoned");
        q.push_back(id);
        self.len.store(q.len(), Ordering::Release);
    }

    fn pop(&self) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let mut q = self.queue.lock().expect("ready queue poisoned");
        let id = q.pop_front();
        self.len.store(q.len(), Ordering::Release);
        id
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }
}

struct TaskWaker {
    id: u64,
    ready: Arc<ReadyQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.ready.push(self.id);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.push(self.id);
    }
}

struct Task {
    future: Option<BoxFuture>,
    waker: Waker,
    pid: Pid,
    /// Set to true when the future completes.
    done: Rc<Cell<bool>>,
}

/// Tasks of one host.
pub(crate) struct Executor {
    tasks: RefCell<std::collections::BTreeMap<u64, Task>>,
    ready: Arc<ReadyQueue>,
    next_id: Cell<u64>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("tasks", &self.tasks.borrow().len())
            .finish()
    }
}

/// Tells whether a spawned task has finished.
#[derive(Debug, Clone)]
pub struct JoinHandle {
    done: Rc<Cell<bool>>,
    pub pid: Pid,
}

impl JoinHandle {
    pub fn is_finished(&self) -> bool {
        self.done.get()
    }
}

impl Executor {
    pub(crate) fn new() -> Executor {
        Executor {
            tasks: RefCell::new(Default::default()),
            ready: Arc::new(ReadyQueue::default()),
            next_id: Cell::new(1),
        }
    }

    pub(crate) fn spawn(&self, pid: Pid, future: BoxFuture) -> JoinHandle {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            ready: self.ready.clone(),
        }));
        let done = Rc::new(Cell::new(false));
        self.tasks.borrow_mut().insert(
            id,
            Task {
                future: Some(future),
                waker,
                pid,
                done: done.clone(),
            },
        );
        self.ready.push(id);
        JoinHandle { done, pid }
    }

    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.borrow().is_empty()
    }

    /// Poll one ready task; false when none is ready. `set_pid` is told which
    /// process runs, so that sockets it opens are attributed to it.
    pub(crate) fn run_one(&self, set_pid: &dyn Fn(Option<Pid>)) -> bool {
        let Some(id) = self.ready.pop() else {
            return false;
        };
        // Take the future out so that the task may spawn others while it runs.
        let (mut future, waker, pid) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(task) = tasks.get_mut(&id) else {
                return true; // finished earlier; stale wake-up
            };
            let Some(future) = task.future.take() else {
                return true; // already being polled (woken during its own poll)
            };
            (future, task.waker.clone(), task.pid)
        };
        set_pid(Some(pid));
        let mut cx = Context::from_waker(&waker);
        let result = future.as_mut().poll(&mut cx);
        set_pid(None);
        let mut tasks = self.tasks.borrow_mut();
        match result {
            Poll::Ready(()) => {
                if let Some(task) = tasks.remove(&id) {
                    task.done.set(true);
                }
            }
            Poll::Pending => {
                if let Some(task) = tasks.get_mut(&id) {
                    task.future = Some(future);
                }
            }
        }
        true
    }

    /// Drop every task of a process (a killed command).
    pub(crate) fn kill(&self, pid: Pid) {
        let removed: Vec<Task> = {
            let mut tasks = self.tasks.borrow_mut();
            let ids: Vec<u64> = tasks
                .iter()
                .filter(|(_, t)| t.pid == pid)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter().filter_map(|id| tasks.remove(&id)).collect()
        };
        // Futures are dropped outside the borrow: their destructors close
        // sockets, which may touch the host again.
        for t in removed {
            t.done.set(true);
            drop(t.future);
        }
    }

    /// Drop every task.
    pub(crate) fn clear(&self) {
        let all: Vec<Task> = std::mem::take(&mut *self.tasks.borrow_mut())
            .into_values()
            .collect();
        for t in all {
            t.done.set(true);
            drop(t.future);
        }
    }
}
