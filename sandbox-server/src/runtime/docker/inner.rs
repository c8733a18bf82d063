//! The Docker daemon inside a Docker-in-Docker node, reached by the server
//! without running any program of the node: its Unix socket is opened
//! through the node's root directory as the kernel sees it
//! (`/proc/<pid of the node's init>/root`), with `openat2(RESOLVE_IN_ROOT)`
//! so that every symbolic link on the way (`/var/run` is one) resolves
//! inside the node's root and never out of it, then connected through
//! `/proc/self/fd/N`. A learner who replaces `/var/run/docker.sock` with a
//! link to a host path gets a path inside their own node.
//!
//! Graders also read files this way ([`read_in_root`]): as fast as the
//! kernel, where the engine's archive API takes 100-200 ms a file.
//!
//! This needs the server to run as root on the host (to open another
//! process's root); without it, files are read through the archive API.
//! What a learner still controls: they are root in the node, so they can
//! stop that daemon and serve a fake API on the socket.
//! See docs/graders.md.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// How long a call waits for a daemon that is still starting (no socket
/// yet); the grader's own call timeout usually ends the wait sooner.
pub const STARTING_DAEMON_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where Docker's daemon listens by default, inside the node.
pub const INNER_SOCKET: &str = "/var/run/docker.sock";

/// Opens `path` (absolute, inside the root of the process `pid`) with
/// `flags`, resolving it inside that root: every link on the way, absolute
/// or `..`, stays inside it, and `/proc` magic links are refused.
fn open_in_root(pid: i64, path: &str, flags: i32) -> std::io::Result<OwnedFd> {
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
    how.flags = (flags | libc::O_CLOEXEC) as u64;
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
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The file type bits of an open file.
fn file_type(fd: &OwnedFd) -> std::io::Result<(libc::mode_t, u64)> {
    // SAFETY: fstat(2) into a zeroed stat buffer; the result is checked.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((stat.st_mode & libc::S_IFMT, stat.st_size as u64))
}

/// Whether an open file lives on a kernel file system (procfs, sysfs,
/// cgroups, debugfs, ...), whose files the host's root sees differently
/// from the node.
fn on_kernel_fs(fd: &OwnedFd) -> std::io::Result<bool> {
    const KERNEL_MAGICS: &[i64] = &[
        0x9fa0,      // proc
        0x6265_6572, // sysfs
        0x6462_6720, // debugfs
        0x7363_6673, // securityfs
        0x6367_7270, // cgroup2
        0x0027_e0eb, // cgroup
        0x7472_6163, // tracefs
        0xcafe_4a11, // bpf
    ];
    // SAFETY: fstatfs(2) into a zeroed buffer; the result is checked.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let magic = fs.f_type as i64;
    Ok(KERNEL_MAGICS.contains(&magic))
}

/// Connects to the Unix socket at `path` (absolute, inside the root of the
/// process `pid`), resolving it inside that root.
pub fn connect_in_root(pid: i64, path: &str) -> std::io::Result<UnixStream> {
    let socket = open_in_root(pid, path, libc::O_PATH)?;
    if file_type(&socket)?.0 != libc::S_IFSOCK {
        return Err(std::io::Error::other(format!(
            "{path} in the node is not a socket"
        )));
    }
    // Connecting through the O_PATH descriptor reaches exactly the socket
    // inode resolved above.
    UnixStream::connect(format!("/proc/self/fd/{}", socket.as_raw_fd()))
}

/// Why a file could not be read in a node's root.
#[derive(Debug)]
pub enum ReadInRoot {
    /// No such file (or a directory on the way is missing).
    NotFound,
    /// Not a regular file (a directory, a device, a FIFO, a socket).
    NotRegular,
    /// Larger than the limit.
    TooLarge,
    /// Anything else, such as a server that may not open another
    /// process's root (not root on the host).
    Other(std::io::Error),
}

/// Paths of kernel file systems in the node: read through the engine, never
/// through the node's root from the host's side.
const KERNEL_PATHS: &[&str] = &["/proc", "/sys", "/dev"];

/// Reads the regular file `path` inside the root of the process `pid`, at
/// most `max_bytes`: a read as fast as the kernel's, with no program of the
/// node involved. Kernel file systems (`/proc`, `/sys`, `/dev`) are refused
/// (`Other`), so the caller reads them through the engine instead.
pub fn read_in_root(pid: i64, path: &str, max_bytes: u64) -> Result<Vec<u8>, ReadInRoot> {
    use std::io::Read;
    let normal = std::path::Path::new(path);
    if !normal.is_absolute() || KERNEL_PATHS.iter().any(|k| normal.starts_with(k)) {
        return Err(ReadInRoot::Other(std::io::Error::other(
            "not an absolute path outside the kernel's file systems",
        )));
    }
    // Non-blocking, so opening a FIFO never waits; no controlling terminal.
    let fd = open_in_root(
        pid,
        path,
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
    )
    .map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => ReadInRoot::NotFound,
        _ => ReadInRoot::Other(e),
    })?;
    if on_kernel_fs(&fd).map_err(ReadInRoot::Other)? {
        // Reached through a link: the engine reads it, as the node would.
        return Err(ReadInRoot::Other(std::io::Error::other(
            "a kernel file system",
        )));
    }
    let (kind, size) = file_type(&fd).map_err(ReadInRoot::Other)?;
    if kind != libc::S_IFREG {
        return Err(ReadInRoot::NotRegular);
    }
    if size > max_bytes {
        return Err(ReadInRoot::TooLarge);
    }
    let mut out = Vec::with_capacity(size as usize);
    std::fs::File::from(fd)
        .take(max_bytes + 1)
        .read_to_end(&mut out)
        .map_err(ReadInRoot::Other)?;
    if out.len() as u64 > max_bytes {
        return Err(ReadInRoot::TooLarge);
    }
    Ok(out)
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

        // Reading: the file, a limit, a missing file, a directory, a link
        // that points out of a root (here it stays in ours, the test's limit).
        assert_eq!(read_in_root(pid, file.to_str().unwrap(), 10).unwrap(), b"x");
        assert!(matches!(
            read_in_root(pid, file.to_str().unwrap(), 0),
            Err(ReadInRoot::TooLarge)
        ));
        assert!(matches!(
            read_in_root(pid, dir.join("nope").to_str().unwrap(), 10),
            Err(ReadInRoot::NotFound)
        ));
        assert!(matches!(
            read_in_root(pid, dir.to_str().unwrap(), 10),
            Err(ReadInRoot::NotRegular)
        ));
        assert!(matches!(
            read_in_root(pid, "/proc/self/environ", 1 << 20),
            Err(ReadInRoot::Other(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
