//! A stdio MCP server's process, owned by its client: stdin/stdout carry the session, and the
//! client can kill the process at any moment — a hung (e.g. stopped) server reacts to nothing
//! else, so the handle that kills it must never wait on the session.

use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::{oneshot, watch};

/// How long a stdio server may take to exit after its stdin closed (the MCP shutdown sequence)
/// before it is killed.
pub(crate) const EXIT_GRACE: Duration = Duration::from_secs(2);
/// Bound on reaping a killed process (SIGKILL is immediate, even for a stopped process).
pub(crate) const KILL_WAIT: Duration = Duration::from_secs(1);

/// A running child process and the task that reaps it.
pub(crate) struct ChildProcess {
    pid: Option<u32>,
    /// Tells the reaper to kill the process; dropping it (the last handle gone) does too.
    kill: Mutex<Option<oneshot::Sender<()>>>,
    exited: watch::Receiver<bool>,
}

impl ChildProcess {
    /// Spawns `command` with piped stdin/stdout (stderr inherited); the process is killed when
    /// [`ChildProcess::kill`] is called or the last handle is dropped.
    pub(crate) fn spawn(mut command: Command) -> std::io::Result<(Arc<Self>, ChildStdout, ChildStdin)> {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child = command.spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("the child's stdio was not piped"));
        };
        let pid = child.id();
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let (exited_tx, exited) = watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = child.wait() => {}
                // Asked to, or every handle is gone.
                _ = kill_rx => {
                    if let Err(e) = child.kill().await {
                        tracing::debug!(?pid, error = %e, "killing an MCP server process failed");
                    }
                }
            }
            exited_tx.send_replace(true);
        });
        Ok((Arc::new(ChildProcess { pid, kill: Mutex::new(Some(kill_tx)), exited }), stdout, stdin))
    }

    /// The process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Resolves when the process has exited (and was reaped).
    pub(crate) async fn exited(&self) {
        let mut rx = self.exited.clone();
        let _ = rx.wait_for(|e| *e).await;
    }

    /// Kills the process (SIGKILL) unless it already exited, and waits up to [`KILL_WAIT`] for
    /// it to be reaped; returns whether it is gone.
    pub(crate) async fn kill(&self) -> bool {
        if let Some(tx) = self.kill.lock().ok().and_then(|mut k| k.take()) {
            let _ = tx.send(());
        }
        tokio::time::timeout(KILL_WAIT, self.exited()).await.is_ok()
    }
}

/// The client transport over a child's stdin/stdout. Closing it follows the MCP stdio shutdown:
/// close the server's stdin, give it [`EXIT_GRACE`] to exit, then kill it.
pub(crate) struct ChildTransport {
    io: AsyncRwTransport<RoleClient, ChildStdout, ChildStdin>,
    child: Arc<ChildProcess>,
}

impl ChildTransport {
    pub(crate) fn new(child: Arc<ChildProcess>, stdout: ChildStdout, stdin: ChildStdin) -> Self {
        ChildTransport { io: AsyncRwTransport::new_client(stdout, stdin), child }
    }
}

impl Transport<RoleClient> for ChildTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.io.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        self.io.receive().await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let deadline = tokio::time::Instant::now() + EXIT_GRACE;
        // Closing stdin waits for a write in progress, which a stopped server never drains.
        let closed = tokio::time::timeout_at(deadline, self.io.close()).await.unwrap_or(Ok(()));
        if tokio::time::timeout_at(deadline, self.child.exited()).await.is_err() {
            self.child.kill().await;
        }
        closed
    }
}
