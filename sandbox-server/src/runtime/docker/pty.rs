//! Shells whose PTY the server holds (`shell_pty = "direct"`): `runc exec
//! --detach --tty --console-socket` starts the shell in the node's container
//! (its namespaces, cgroup, capabilities, seccomp and AppArmor profile, user:
//! what `docker exec` gives it, since both take them from the container's
//! OCI spec) and hands the PTY's master to the server over a Unix socket.
//! Keystrokes and output then go between the WebSocket and the PTY with no
//! process in between; through the Engine (`docker exec` attach) each byte
//! is copied by dockerd and by the container's shim as well, which is where
//! most of an echo's time went (docs/performance.md).
//!
//! The server makes itself a child subreaper, so a shell whose `runc exec`
//! has returned is its child: it reaps it and knows its exit code, as the
//! Engine would report it. Processes the shell starts stay in the node's PID
//! namespace and are never the server's.
//!
//! Needs root (the runtime's state directory and `runc` are root's) and the
//! runc state directory of the Engine's containers, found from the
//! container's shim (`-namespace`, `-address`); where either is missing the
//! runtime keeps the Engine's `docker exec` path.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::task::AtomicWaker;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::runtime::{RuntimeError, RuntimeResult, Shell, ShellControl};

/// Longest wait for `runc exec` to hand over the PTY.
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(20);

/// What opens direct shells: the `runc` binary, a private directory for the
/// console sockets, and the Engine's runc state directory once found.
pub struct DirectPty {
    runc: PathBuf,
    /// Mode 0700, root's: only root can hand the server a PTY.
    sockets: PathBuf,
    /// `--root` of the Engine's runc (one per Engine and containerd namespace).
    state_root: Mutex<Option<PathBuf>>,
}

/// Why direct shells cannot be used here; the Engine's path is used instead.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("the server is not root (runc and its state are root's)")]
    NotRoot,
    #[error("no `{0}` on PATH")]
    NoRunc(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl DirectPty {
    /// Checks that direct shells can work here and makes the server a child
    /// subreaper (see the module's doc). `dir` holds the console sockets
    /// while runc hands over PTYs: made root's and private (0700).
    pub fn new(runc: &Path, dir: &Path) -> Result<DirectPty, Unavailable> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(Unavailable::NotRoot);
        }
        let runc =
            find_on_path(runc).ok_or_else(|| Unavailable::NoRunc(runc.display().to_string()))?;
        private_dir(dir)?;
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer argument.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error().into());
        }
        Ok(DirectPty {
            runc,
            sockets: dir.to_owned(),
            state_root: Mutex::new(None),
        })
    }

    /// The runc `--root` holding container `id`'s state, whose init process
    /// is `init_pid`: from its shim's command line (`-namespace N -address
    /// EXEC_ROOT/containerd/containerd.sock`), cached.
    fn state_root(&self, id: &str, init_pid: i64) -> Option<PathBuf> {
        let mut cached = self.state_root.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(root) = cached
            .as_ref()
            .filter(|r| r.join(id).join("state.json").is_file())
        {
            return Some(root.clone());
        }
        let status = std::fs::read_to_string(format!("/proc/{init_pid}/status")).ok()?;
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))?
            .trim()
            .to_owned();
        let cmdline = std::fs::read(format!("/proc/{ppid}/cmdline")).ok()?;
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let namespace = value("-namespace")?;
        let mut candidates = Vec::new();
        if let Some(address) = value("-address") {
            // EXEC_ROOT/containerd/containerd.sock -> EXEC_ROOT
            if let Some(exec_root) = Path::new(&address).parent().and_then(Path::parent) {
                candidates.push(exec_root.join("runtime-runc").join(&namespace));
            }
        }
        candidates.push(Path::new("/run/containerd/runc").join(&namespace));
        let root = candidates
            .into_iter()
            .find(|r| r.join(id).join("state.json").is_file())?;
        *cached = Some(root.clone());
        Some(root)
    }

    /// Starts `cmd` with a PTY of `cols`×`rows` (the size) in container `id` (init
    /// process `init_pid`) as the Engine's `docker exec -it` would: in
    /// `cwd`, the container's environment plus `env`. `Ok(None)`: this
    /// container's runc state was not found (use the Engine's path).
    pub async fn open(
        &self,
        id: &str,
        init_pid: i64,
        cmd: &[String],
        env: &[&str],
        cwd: &str,
        (cols, rows): (u16, u16),
    ) -> RuntimeResult<Option<Shell>> {
        let Some(root) = self.state_root(id, init_pid) else {
            return Ok(None);
        };
        let name = format!("{:016x}", rand::random::<u64>());
        let file = |ext: &str| self.sockets.join(format!("{name}.{ext}"));
        let (socket, pid_file, err_file) = (file("sock"), file("pid"), file("err"));
        let listener =
            tokio::net::UnixListener::bind(&socket).map_err(backend("binding a console socket"))?;
        // runc's messages go to a file: a pipe's end could live on in the
        // shell it starts, and then never give end-of-file.
        let stderr = std::fs::File::create(&err_file).map_err(backend("creating runc's log"))?;
        let mut command = tokio::process::Command::new(&self.runc);
        command
            .arg("--root")
            .arg(&root)
            .args(["exec", "--detach", "--tty", "--console-socket"])
            .arg(&socket)
            .arg("--pid-file")
            .arg(&pid_file)
            .args(["--cwd", cwd]);
        for e in env {
            command.args(["--env", e]);
        }
        command
            .arg(id)
            .args(cmd)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true);
        let started = async {
            // `runc exec --detach` returns once the shell runs, the PTY sent:
            // runc's connection and message wait in the socket meanwhile.
            let status = command
                .spawn()
                .map_err(backend("starting runc"))?
                .wait()
                .await
                .map_err(backend("runc exec"))?;
            if !status.success() {
                let log = std::fs::read_to_string(&err_file).unwrap_or_default();
                return Err(RuntimeError::Backend(format!("runc exec: {}", log.trim())));
            }
            let (stream, _) = listener
                .accept()
                .await
                .map_err(backend("accepting runc's connection"))?;
            let master = receive_fd(&stream)
                .await
                .map_err(backend("receiving the PTY from runc"))?;
            let pid: i32 = std::fs::read_to_string(&pid_file)
                .map_err(backend("reading runc's pid file"))?
                .trim()
                .parse()
                .map_err(|e| RuntimeError::Backend(format!("runc's pid file: {e}")))?;
            Ok((master, pid))
        };
        let result = tokio::time::timeout(HANDOVER_TIMEOUT, started).await;
        for f in [&socket, &pid_file, &err_file] {
            let _ = std::fs::remove_file(f);
        }
        let (master, pid) = match result {
            Ok(r) => r?,
            Err(_) => {
                return Err(RuntimeError::Backend(
                    "runc exec did not hand over the PTY within 20 s".into(),
                ))
            }
        };
        set_nonblocking(master.as_raw_fd()).map_err(backend("setting the PTY non-blocking"))?;
        set_size(master.as_raw_fd(), cols, rows).map_err(backend("sizing the PTY"))?;
        // SAFETY: an OwnedFd keeps its descriptor open, the same one, for as
        // long as the AsyncFd owns it.
        let master = unsafe { AsyncFd::register(master) }
            .map_err(|e| RuntimeError::Backend(format!("registering the PTY: {e}")))?;
        let master = Arc::new(master);
        let exit = Arc::new(Exit::default());
        watch_exit(pid, exit.clone())?;
        Ok(Some(Shell {
            output: Box::pin(PtyOutput {
                master: master.clone(),
                exit: exit.clone(),
            }),
            input: Box::pin(PtyInput {
                master: master.clone(),
            }),
            initial_output: bytes::Bytes::new(),
            control: Box::new(PtyControl { master, exit }),
        }))
    }
}

/// Makes `dir` a directory only root can enter, emptied of what an earlier
/// run left; refuses one that is not a directory of root's (a link, another
/// user's), since whoever can write there could hand the server a PTY.
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        r => r?,
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != 0 {
        return Err(io::Error::other(format!(
            "{} is not a directory of root's",
            dir.display()
        )));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let _ = std::fs::remove_file(entry?.path());
    }
    Ok(())
}

fn backend(what: &'static str) -> impl Fn(io::Error) -> RuntimeError {
    move |e| RuntimeError::Backend(format!("{what}: {e}"))
}

fn find_on_path(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_owned());
    }
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// The file descriptor runc sends (SCM_RIGHTS) on `stream`.
async fn receive_fd(stream: &tokio::net::UnixStream) -> io::Result<OwnedFd> {
    loop {
        stream.readable().await?;
        match stream.try_io(tokio::io::Interest::READABLE, || {
            recv_fd(stream.as_raw_fd())
        }) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

fn recv_fd(socket: RawFd) -> io::Result<OwnedFd> {
    // runc sends the PTY's name as data along with the descriptor.
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for one descriptor, aligned for cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: socket is a valid descriptor and msg points at live buffers.
    let n = unsafe { libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: msg was filled by recvmsg; CMSG_* walk only its control buffer.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
                return Ok(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "runc sent no descriptor",
    ))
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor this process owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_size(fd: RawFd, cols: u16, rows: u16) -> io::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The shell's exit, once its watcher reaped it.
#[derive(Default)]
struct Exit {
    code: Mutex<Option<i64>>,
    done: AtomicBool,
    /// The output reader waiting for data or the exit.
    reader: AtomicWaker,
}

/// Reaps process `pid` (the server's child once `runc exec` returned) when
/// it exits, and records its exit code as a shell reports it (128 + the
/// signal for a killed one).
fn watch_exit(pid: i32, exit: Arc<Exit>) -> RuntimeResult<()> {
    // SAFETY: pidfd_open takes a pid and flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(RuntimeError::Backend(format!(
            "watching the shell (pid {pid}): {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: pidfd_open returned a new descriptor this process owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // SAFETY: as for the PTY: the OwnedFd keeps its descriptor.
    let pidfd = unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) }
        .map_err(|e| RuntimeError::Backend(format!("watching the shell: {e}")))?;
    tokio::spawn(async move {
        let code = loop {
            let Ok(mut ready) = pidfd.readable().await else {
                break -1;
            };
            // SAFETY: siginfo_t is plain data that waitid fills.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let raw = pidfd.get_ref().as_raw_fd();
            // SAFETY: waitid on our pidfd, writing into `info`.
            let r = unsafe {
                libc::waitid(
                    libc::P_PIDFD,
                    raw as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG,
                )
            };
            if r < 0 {
                // ECHILD: not our child (runc exec still ran when it ended
                // and someone else reaped it): the code is unknown.
                break -1;
            }
            // SAFETY: filled by waitid for an exited child.
            let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
            if pid == 0 {
                ready.clear_ready();
                continue;
            }
            break match info.si_code {
                libc::CLD_EXITED => status as i64,
                _ => 128 + status as i64,
            };
        };
        *exit.code.lock().unwrap_or_else(|e| e.into_inner()) = Some(code);
        exit.done.store(true, Ordering::Release);
        exit.reader.wake();
    });
    Ok(())
}

/// The PTY's output: ends when the slave side closes (EIO) or, once the
/// shell exited, when nothing more is buffered (a background job of the
/// shell may hold the PTY open; the Engine ends the stream at exit too).
struct PtyOutput {
    master: Arc<AsyncFd<OwnedFd>>,
    exit: Arc<Exit>,
}

impl AsyncRead for PtyOutput {
    /// Reads what the PTY has now, several reads' worth while they fill
    /// `buf` without waiting: a PTY gives at most 4 KiB per read (the line
    /// discipline's buffer), and each chunk handed on costs the terminal a
    /// wake-up and a queue entry per client.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut got = 0;
        loop {
            let mut guard = match self.master.poll_read_ready(cx) {
                Poll::Ready(r) => r?,
                Poll::Pending if got > 0 => return Poll::Ready(Ok(())),
                Poll::Pending => {
                    self.exit.reader.register(cx.waker());
                    if self.exit.done.load(Ordering::Acquire) {
                        return Poll::Ready(Ok(())); // end of output
                    }
                    return Poll::Pending;
                }
            };
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let unfilled = buf.initialize_unfilled();
            let fd = guard.get_inner().as_raw_fd();
            // SAFETY: reads into the unfilled part of `buf`.
            let n = unsafe { libc::read(fd, unfilled.as_mut_ptr().cast(), unfilled.len()) };
            if n > 0 {
                buf.advance(n as usize);
                got += n as usize;
                continue;
            }
            if n == 0 {
                return Poll::Ready(Ok(()));
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // The slave side is closed: the end (after what was read).
                Some(libc::EIO) => return Poll::Ready(Ok(())),
                Some(libc::EAGAIN) => {
                    guard.clear_ready();
                    if got > 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                Some(libc::EINTR) => {}
                _ if got > 0 => return Poll::Ready(Ok(())),
                _ => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Keystrokes into the PTY; a full input queue is backpressure, as on a pipe.
struct PtyInput {
    master: Arc<AsyncFd<OwnedFd>>,
}

impl AsyncWrite for PtyInput {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = match self.master.poll_write_ready(cx) {
                Poll::Ready(r) => r?,
                Poll::Pending => return Poll::Pending,
            };
            let fd = guard.get_inner().as_raw_fd();
            // SAFETY: writes from `data`.
            let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
            if n >= 0 {
                return Poll::Ready(Ok(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => guard.clear_ready(),
                Some(libc::EINTR) => {}
                _ => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

struct PtyControl {
    master: Arc<AsyncFd<OwnedFd>>,
    exit: Arc<Exit>,
}

#[async_trait]
impl ShellControl for PtyControl {
    async fn resize(&self, cols: u16, rows: u16) -> RuntimeResult<()> {
        set_size(self.master.get_ref().as_raw_fd(), cols, rows).map_err(backend("resizing the PTY"))
    }

    async fn exit_code(&self) -> RuntimeResult<Option<i64>> {
        Ok(*self.exit.code.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_console_socket_directory_is_private_and_emptied_and_a_link_is_refused() {
        let base = std::env::temp_dir().join(format!("pg-pty-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("data").join("pty");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // Made with its parents, 0700; what an earlier run left is removed.
            private_dir(&dir).unwrap();
            std::fs::write(dir.join("old.sock"), b"").unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            private_dir(&dir).unwrap();
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
            assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
            // A link where the directory should be is never followed.
            let link = base.join("link");
            std::os::unix::fs::symlink(&dir, &link).unwrap();
            let err = private_dir(&link).unwrap_err();
            assert!(
                err.to_string().contains("not a directory of root's"),
                "{err}"
            );
        } else {
            // Not root: the directory is not root's, so it is refused.
            assert!(private_dir(&dir).is_err());
        }
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn runc_is_looked_up_on_the_path_unless_a_path_is_given() {
        assert_eq!(
            find_on_path(Path::new("sh")).is_some(),
            Path::new("/bin/sh").exists()
        );
        assert_eq!(find_on_path(Path::new("/no/such/runc")), None);
        assert_eq!(find_on_path(Path::new("no-such-program-here")), None);
    }
}
