//! The Docker daemon inside a Docker-in-Docker node, reached by the server
//! without running any program of the node: its Unix socket is opened
//! through the node's root directory as the kernel sees it
//! (`/proc/<pid of the node's init>/root`), with `openat2(RESOLVE_IN_ROOT)`
//! so that every symbolic link on the way (`/var/run` is one) resolves
//! inside the node's root and never out of it, then connected through
//! `/proc/self/fd/N`. A learner who replaces `/var/run/docker.sock` with a
//! link to a host path gets a path inside their own node.
//!
//! This needs the server to run as root on the host (to open another
//! process's root). What a learner still controls: they are root in the
//! node, so they can stop that daemon and serve a fake API on the socket.
//! See docs/graders.md.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// How long a call waits for a daemon that is still starting (no socket
/// yet); the grader's own call timeout usually ends the wait sooner.
pub const STARTING_DAEMON_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where Docker's daemon listens by default, inside the node.
pub const INNER_SOCKET: &str = "/var/run/docker.sock";

/// Connects to the Unix socket at `path` (absolute, inside the root of the
/// process `pid`), resolving it inside that root.
pub fn connect_in_root(pid: i64, path: &str) -> std::io::Result<UnixStream> {
    if pid <= 0 {
        return Err(std::io::Error::other("the node is not running"));
    }
    let root_path = CString::new(format!("/proc/{pid}/root")).map_err(std::io::Error::other)?;
    // SAFETY: a plain open(2) of a NUL-terminated path; the result is checked.
    let root = unsafe {
        libc::open(
            root_path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if root < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `root` is a file descriptor we just opened and own.
    let root = unsafe { OwnedFd::from_raw_fd(root) };
    let relative = CString::new(path.trim_start_matches('/')).map_err(std::io::Error::other)?;
    // SAFETY: `open_how` is plain data; zeroed is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2(2) with a directory fd we own, a NUL-terminated path
    // and a pointer to `how` with its size; the result is checked.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            relative.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: openat2 returned a new file descriptor that we now own.
    let socket = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: fstat(2) into a zeroed stat buffer; the result is checked.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(socket.as_raw_fd(), &mut stat) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(std::io::Error::other(format!(
            "{path} in the node is not a socket"
        )));
    }
    // Connecting through the O_PATH descriptor reaches exactly the socket
    // inode resolved above.
    UnixStream::connect(format!("/proc/self/fd/{}", socket.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our own root stands in for a node's: a socket made in a temporary
    /// directory is reached through `/proc/self/root`, and a link pointing
    /// out of the root cannot be followed out of it.
    #[test]
    fn connects_to_a_socket_resolved_in_the_root() {
        let dir = std::env::temp_dir().join(format!("inner-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("docker.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let pid = std::process::id() as i64;
        let stream = connect_in_root(pid, path.to_str().unwrap());
        assert!(stream.is_ok(), "{stream:?}");
        drop(listener);

        let file = dir.join("plain");
        std::fs::write(&file, "x").unwrap();
        let err = connect_in_root(pid, file.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("not a socket"), "{err}");
        assert!(connect_in_root(0, "/x").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
