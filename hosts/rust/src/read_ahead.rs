//! Response bodies read ahead of the guest, so that one `read` takes all that has arrived.
//!
//! wasmtime-wasi-http hands the guest one body frame per `read`, and hyper makes one frame per
//! chunk of a chunked body and decodes the next only once the last was taken: a body in
//! 500,000 one-byte chunks costs 500,000 hand-offs between the guest's thread and the
//! connection's (~10 µs each). [`ReadAhead`] is this host's `wasi:http` hooks: the default
//! client, with each response body moved into a task that reads it as it arrives, up to
//! [`READ_AHEAD_BYTES`] ahead of the guest, and gives the guest everything it holds in one
//! frame. Errors (a between-bytes timeout, a reset) reach the guest after the bytes that came
//! before them, as without it.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tokio::sync::Notify;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// How far the reading task may get ahead of the guest: the memory a response holds in the host
/// beyond what the guest has taken (one read of the guest takes up to this much).
pub const READ_AHEAD_BYTES: usize = 64 * 1024;

/// The `wasi:http` hooks of this host: the default client (`default_send_request`), its
/// response bodies read ahead.
#[derive(Default)]
pub struct ReadAhead;

type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;

impl WasiHttpHooks for ReadAhead {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Io,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), Error>> + Send> {
        _ = fut; // as the default hooks: no caller waits on it here
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(read_ahead), Box::new(io) as Io))
        })
    }
}

/// `body`, read by a task of its own into a buffer the returned body drains.
fn read_ahead<B>(body: B) -> WasiBody
where
    B: Body<Data = Bytes, Error = Error> + Send + 'static,
    B::Data: Send,
{
    let shared = Arc::new(Shared::default());
    let task = tokio::spawn(pump(body, shared.clone()));
    Drained { shared, task }.boxed_unsync()
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the reading task when the guest has taken bytes (it waits when the buffer is full).
    taken: Notify,
}

#[derive(Default)]
struct State {
    data: BytesMut,
    /// What comes after the data: trailers, an error, or the end (`finished`).
    after: VecDeque<Result<Frame<Bytes>, Error>>,
    finished: bool,
    reader: Option<Waker>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock is held cannot leave the buffer half-written: keep going.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, frame: Option<Result<Frame<Bytes>, Error>>) {
        let mut state = self.lock();
        match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => state.data.extend_from_slice(&data),
                Err(other) => state.after.push_back(Ok(other)),
            },
            Some(Err(error)) => state.after.push_back(Err(error)),
            None => state.finished = true,
        }
        if let Some(reader) = state.reader.take() {
            reader.wake();
        }
    }

    fn buffered(&self) -> usize {
        self.lock().data.len()
    }
}

/// Reads `body` to its end (or first error) into `shared`, waiting while it holds
/// `READ_AHEAD_BYTES` the guest has not taken.
async fn pump<B>(body: B, shared: Arc<Shared>)
where
    B: Body<Data = Bytes, Error = Error> + Send,
{
    let mut body = std::pin::pin!(body);
    loop {
        while shared.buffered() >= READ_AHEAD_BYTES {
            let taken = shared.taken.notified();
            if shared.buffered() < READ_AHEAD_BYTES {
                break;
            }
            taken.await;
        }
        let frame = body.frame().await;
        let last = !matches!(frame, Some(Ok(ref f)) if f.is_data());
        shared.push(frame);
        if last {
            // Trailers, an error or the end: nothing the guest reads comes after them.
            if !shared.lock().finished {
                shared.push(None);
            }
            return;
        }
    }
}

/// The body the guest reads: all buffered bytes as one frame, then what came after them.
struct Drained {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Body for Drained {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let mut state = self.shared.lock();
        if !state.data.is_empty() {
            let data = state.data.split().freeze();
            drop(state);
            self.shared.taken.notify_one();
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(next) = state.after.pop_front() {
            return Poll::Ready(Some(next));
        }
        if state.finished {
            return Poll::Ready(None);
        }
        state.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Drained {
    fn drop(&mut self) {
        // The guest dropped the body: stop reading it.
        self.task.abort();
    }
}
