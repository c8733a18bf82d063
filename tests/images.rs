//! The session images, as a lab sees them: the tools published Docker labs
//! call on their hosts are in `playground/dind`, and `apk` (a stand-in on
//! these Debian nodes, `images/base/rootfs/usr/local/bin/apk`) succeeds for
//! packages already there and says clearly what it cannot install.
//! Plain `docker run`s of the images (no session, no dockerd inside).

use playground_e2e::{docker_available, docker_cli};

/// Runs `script` with `sh -c` in a throwaway container of `image`; returns
/// the exit code, stdout and stderr.
fn run_in(image: &str, script: &str) -> (i32, String, String) {
    let out = docker_cli()
        .args(["run", "--rm", "--entrypoint", "sh", image, "-c", script])
        .output()
        .expect("running docker");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dind_has_the_tools_published_docker_labs_call() {
    if !docker_available() {
        return;
    }
    let tools = "brctl git curl wget jq vim nano tree ip ping nc dig docker apk";
    let (code, out, err) = run_in(
        "playground/dind:latest",
        &format!("for t in {tools}; do command -v $t >/dev/null || echo missing: $t; done"),
    );
    assert_eq!((code, out.as_str()), (0, ""), "{out}{err}");
}

#[test]
fn apk_adds_what_is_here_and_refuses_the_rest_clearly() {
    if !docker_available() {
        return;
    }
    // What Alpine-based labs run: the names are Alpine's, mapped to Debian's.
    let (code, out, err) = run_in(
        "playground/dind:latest",
        "apk update && apk add --no-cache bridge iproute2 curl git bind-tools jq",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("already installed: bridge iproute2 curl git bind-tools jq"),
        "{out}"
    );

    let (code, out, err) = run_in("playground/dind:latest", "apk add curl strace");
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(
            "cannot install strace: it is not in this node's image (Debian package strace)"
        ),
        "{err}"
    );
    assert!(!err.contains("cannot install curl"), "{err}");

    // The base image is Debian too: the same stand-in, with fewer packages.
    let (code, _, err) = run_in("playground/base:latest", "apk add bridge");
    assert_eq!(code, 1);
    assert!(err.contains("cannot install bridge"), "{err}");
}
