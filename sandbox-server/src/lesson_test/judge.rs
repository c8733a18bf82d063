//! Reading a block's output for what its exit status alone does not say:
//! that it was typed into a program that cannot run it, or that it failed
//! because the node has no internet. Pure functions over the text a block
//! printed (escape sequences removed), so they are tested without a node.

/// The text of terminal output: escape sequences (CSI, OSC, two-byte ones)
/// and carriage returns removed, invalid UTF-8 replaced.
pub fn plain_text(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                i += 1;
                match bytes.get(i) {
                    // CSI: parameters, then a final byte in 0x40..=0x7e.
                    Some(b'[') => {
                        i += 1;
                        while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                            i += 1;
                        }
                        i += 1;
                    }
                    // OSC: up to BEL or ESC \.
                    Some(b']') => {
                        while i < bytes.len() && bytes[i] != 0x07 {
                            if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'\\') {
                                i += 1;
                                break;
                            }
                            i += 1;
                        }
                        i += 1;
                    }
                    // Character sets: ESC ( B and the like.
                    Some(b'(' | b')' | b'*' | b'+' | b'#') => i += 2,
                    Some(_) => i += 1,
                    None => {}
                }
            }
            b'\r' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The command words of a block: the first word of each of its lines, past
/// `sudo` and `VAR=value` assignments (`docker` for `docker container ls`).
fn command_words(code: &str) -> Vec<&str> {
    code.lines()
        .filter_map(|line| {
            line.split_whitespace()
                .find(|w| *w != "sudo" && !is_assignment(w))
        })
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        })
        .collect()
}

/// `NAME=value` before a command.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// When a block typed into an open program (`docker run -it alpine sh`)
/// could not be run by it, the line that says so: `sh: docker: not found`,
/// `bash: foo: command not found` for one of the block's command words.
pub fn unknown_command(code: &str, output: &str) -> Option<String> {
    let words = command_words(code);
    output
        .lines()
        .map(str::trim)
        .find(|line| {
            words.iter().any(|w| {
                line.ends_with(&format!("{w}: not found"))
                    || line.ends_with(&format!("{w}: command not found"))
            })
        })
        .map(str::to_owned)
}

/// What tools print when they cannot reach the internet (lower case): name
/// resolution, connections, the fetch errors of git, curl, wget, apt, apk,
/// pip, npm and Docker's registry client.
const NO_INTERNET: &[&str] = &[
    "could not resolve proxy",
    "temporary failure in name resolution",
    "temporary failure resolving",
    "name or service not known",
    "network is unreachable",
    "unable to access 'http",
    "unable to resolve host address",
    "wget: bad address",
    "ping: bad address",
    "dns lookup error",
    "temporary error (try again later)",
    "failed to establish a new connection",
    "getaddrinfo enotfound",
    "getaddrinfo eai_again",
    "client.timeout exceeded while awaiting headers",
    "could not be accessed on a registry",
];

/// Whether `host` (a name or an address, maybe with a port) is on the
/// internet: a dotted name, or an address outside loopback and the private
/// ranges. `localhost`, `web`, `10.0.0.5:2377` are not: failing to reach
/// them is the lesson's own failure.
fn public_host(host: &str) -> bool {
    let host = host.trim_matches(|c: char| "'\"()[],.:".contains(c));
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            !(ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified())
        }
        Ok(std::net::IpAddr::V6(ip)) => !(ip.is_loopback() || ip.is_unspecified()),
        Err(_) => host.contains('.') && !host.ends_with(".local") && host != "localhost",
    }
}

/// The word after `marker` in `line` (lower case), if any.
fn word_after<'l>(line: &'l str, marker: &str) -> Option<&'l str> {
    let at = line.find(marker)? + marker.len();
    line[at..].split_whitespace().next()
}

/// When a failed block's or check's output shows it tried to reach the
/// internet and could not, the line that shows it.
pub fn needs_internet(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .find(|line| {
            let l = line.to_ascii_lowercase();
            NO_INTERNET.iter().any(|p| l.contains(p))
                || word_after(&l, "failed to connect to ").is_some_and(public_host)
                || word_after(&l, "could not resolve host: ").is_some_and(public_host)
                || word_after(&l, "dial tcp: lookup ").is_some_and(public_host)
                || (l.contains("i/o timeout")
                    && word_after(&l, "dial tcp ").is_some_and(public_host))
                || (l.starts_with("e: failed to fetch") || l.starts_with("err:"))
                    && l.contains("http")
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_removed() {
        assert_eq!(
            plain_text(b"\x1b]6973;pg-x;P;0\x07\x1b[01;32mroot@node1\x1b[00m:~# ls\r\na\x1b]0;t\x1b\\b\x1b(B\r\n"),
            "root@node1:~# ls\nab\n"
        );
    }

    #[test]
    fn commands_a_program_does_not_know() {
        let out = "/ # docker container ls\nsh: docker: not found\n/ # ";
        assert_eq!(
            unknown_command("docker container ls", out).as_deref(),
            Some("sh: docker: not found")
        );
        assert_eq!(
            unknown_command(
                "sudo FOO=1 kubectl get pods\n",
                "bash: kubectl: command not found"
            )
            .as_deref(),
            Some("bash: kubectl: command not found")
        );
        // Another word's "not found", or a program's own message, is not it.
        assert_eq!(unknown_command("ls /nope", "sh: docker: not found"), None);
        assert_eq!(
            unknown_command("cat x", "cat: can't open 'x': No such file or directory"),
            None
        );
        assert_eq!(unknown_command("docker ps", "/ # docker ps\n"), None);
    }

    #[test]
    fn failures_to_reach_the_internet() {
        for line in [
            "fatal: unable to access 'https://github.com/x/y/': Could not resolve host: github.com",
            "docker: Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 127.0.0.11:53: read udp 127.0.0.1:35171->127.0.0.11:53: i/o timeout.",
            "Error response from daemon: Get \"https://quay.io/v2/\": dial tcp 1.2.3.4:443: i/o timeout",
            "curl: (6) Could not resolve host: example.com",
            "wget: bad address 'example.com'",
            "ping: google.com: Temporary failure in name resolution",
            "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'",
            "E: Failed to fetch http://deb.debian.org/debian/pool/main/x.deb",
            "WARNING: fetching https://dl-cdn.alpinelinux.org/alpine/v3.19/main: DNS lookup error",
            "connect: Network is unreachable",
            "curl: (28) Failed to connect to github.com port 443 after 1 ms: Couldn't connect to server",
            "image ubuntu:latest could not be accessed on a registry to record",
            "npm ERR! request to https://registry.npmjs.org/x failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org",
        ] {
            assert_eq!(
                needs_internet(&format!("$ cmd\n{line}\n$ ")).as_deref(),
                Some(line),
                "{line}"
            );
        }
        for line in [
            "Error response from daemon: No such container: web",
            "apk: cannot install bridge: it is not in this node's image",
            "Error: This node is not a swarm manager.",
            "sh: docker: not found",
            "curl: (7) Failed to connect to localhost port 80 after 0 ms: Couldn't connect to server",
            "curl: (7) Failed to connect to 10.0.0.2 port 8080: Connection refused",
            "Error response from daemon: dial tcp 10.210.3.196:2377: i/o timeout",
            "dial tcp: lookup web on 127.0.0.11:53: no such host",
            "curl: (6) Could not resolve host: web",
        ] {
            assert_eq!(needs_internet(line), None, "{line}");
        }
    }
}
