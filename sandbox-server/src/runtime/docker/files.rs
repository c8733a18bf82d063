//! Files in a Docker node through the Engine's archive API (bollard's
//! `upload_to_container` and `download_from_container`, what `docker cp`
//! uses), not exec: it needs no tool in the image, works on any node, and
//! streams. The archive API speaks tar, which stays in this module: an upload
//! gets a one-file tar written around it as it streams through (the header by
//! the `tar` crate), a download has its single entry read out (headers, pax
//! records and GNU long links parsed by the `tar` crate), following symbolic
//! links up to [`MAX_LINKS`] times.

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use bollard::Docker;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use super::super::{
    container_name, ByteStream, FileDownload, NewFile, RuntimeError, RuntimeResult,
};

/// Tar block size.
const BLOCK: usize = 512;
/// Symbolic links followed on download before giving up.
const MAX_LINKS: usize = 8;
/// Largest pax or GNU extension entry accepted in a download.
const MAX_EXTENSION: usize = 1 << 20;

/// A tar archive coming out of a node; errors (no such path) arrive as the first item.
type Archive = std::pin::Pin<Box<dyn Stream<Item = RuntimeResult<Bytes>> + Send>>;

/// Uploads `body` (`size` bytes) as the file `path` of the node, unpacked at
/// `/` so the entry's missing parent directories are created.
pub(super) async fn write_file(
    docker: &Docker,
    session: &str,
    node: &str,
    file: NewFile,
) -> RuntimeResult<()> {
    let NewFile {
        path,
        mode,
        size,
        body,
    } = file;
    let head = tar_head(path.trim_start_matches('/'), mode, size)
        .map_err(|e| RuntimeError::BadPath(format!("{node}: {path}: {e}")))?;
    docker
        .upload_to_container(
            &container_name(session, node),
            Some(UploadToContainerOptions {
                path: "/".to_owned(),
                ..Default::default()
            }),
            bollard::body_try_stream(tar_stream(head, size, body)),
        )
        .await
        .map_err(|e| archive_error(e, session, node, "/"))
}

/// Downloads the regular file `path`, following symbolic links as `cat` would.
pub(super) async fn read_file(
    docker: &Docker,
    session: &str,
    node: &str,
    path: &str,
) -> RuntimeResult<FileDownload> {
    let mut current = path.to_owned();
    for _ in 0..=MAX_LINKS {
        let archive: Archive = {
            let (session, node, current) = (session.to_owned(), node.to_owned(), current.clone());
            Box::pin(
                docker
                    .download_from_container(
                        &container_name(&session, &node),
                        Some(DownloadFromContainerOptions {
                            path: current.clone(),
                        }),
                    )
                    .map(move |chunk| {
                        chunk.map_err(|e| archive_error(e, &session, &node, &current))
                    }),
            )
        };
        match open_entry(archive, &current).await? {
            Opened::File(download) => return Ok(download),
            Opened::Link(target) => current = follow(&current, &target),
        }
    }
    Err(RuntimeError::BadPath(format!(
        "{path} leads through more than {MAX_LINKS} symbolic links"
    )))
}

/// The first entry of a downloaded archive: a file to stream, or a link to follow.
enum Opened {
    File(FileDownload),
    Link(String),
}

/// Reads the archive of `path` up to its first real entry.
async fn open_entry(archive: Archive, path: &str) -> RuntimeResult<Opened> {
    let (entry, rest) = read_entry(archive).await?;
    use tar::EntryType;
    match entry.kind {
        EntryType::Regular | EntryType::Continuous => Ok(Opened::File(FileDownload {
            size: entry.size,
            body: Box::pin(take(rest, entry.size)),
        })),
        EntryType::Symlink => Ok(Opened::Link(entry.link)),
        EntryType::Directory => Err(RuntimeError::BadPath(format!(
            "{path} is a directory; download a file"
        ))),
        _ => Err(RuntimeError::BadPath(format!(
            "{path} is not a regular file"
        ))),
    }
}

/// Where the link at `path` pointing to `target` leads.
fn follow(path: &str, target: &str) -> String {
    if target.starts_with('/') {
        normalise(target)
    } else {
        let dir = &path[..path.rfind('/').unwrap_or(0)];
        normalise(&format!("{dir}/{target}"))
    }
}

/// The ustar header of a tar archive holding one regular file `name`
/// (relative) of `size` bytes; a name too long for ustar's name and prefix
/// fields gets a GNU long-name entry first, which Docker reads.
fn tar_head(name: &str, mode: u32, size: u64) -> std::io::Result<Vec<u8>> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_username("root")?;
    header.set_groupname("root")?;
    header.set_mtime(time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64);
    // `append_data` writes the long-name entry when needed, then the header;
    // the content is not there yet (it streams), so it is given no data.
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_data(&mut header, name, std::io::empty())?;
    Ok(std::mem::take(builder.get_mut()))
}

/// The archive: `head`, then the content, its padding and the end marker.
/// An item is an error when the content is longer or shorter than `size`,
/// which aborts the upload rather than storing a wrong file.
fn tar_stream(
    head: Vec<u8>,
    size: u64,
    content: ByteStream,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    let padding = (size.next_multiple_of(BLOCK as u64) - size) as usize;
    let body = content.scan(0u64, move |counted, chunk| {
        let item = chunk.and_then(|chunk| {
            *counted += chunk.len() as u64;
            if *counted > size {
                Err(std::io::Error::other("body longer than Content-Length"))
            } else if *counted == size && !chunk.is_empty() {
                // The file is complete: its padding and two zero blocks end the archive.
                let mut last = BytesMut::with_capacity(chunk.len() + padding + 2 * BLOCK);
                last.extend_from_slice(&chunk);
                last.resize(chunk.len() + padding + 2 * BLOCK, 0);
                Ok(last.freeze())
            } else {
                Ok(chunk)
            }
        });
        futures_util::future::ready(Some(item))
    });
    let body = body.take_while({
        let mut failed = false;
        move |item| {
            let go = !failed;
            failed |= item.is_err();
            futures_util::future::ready(go)
        }
    });
    // An empty file has no chunk to end the archive with.
    let end_of_empty = (size == 0).then(|| Ok(Bytes::from(vec![0u8; 2 * BLOCK])));
    futures_util::stream::iter([Ok(Bytes::from(head))])
        .chain(futures_util::stream::iter(end_of_empty))
        .chain(body)
}

/// `a/./b/../c` -> `a/c` (for link targets).
fn normalise(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// The first file entry of a tar archive.
struct Entry {
    kind: tar::EntryType,
    size: u64,
    link: String,
}

/// Reads headers (skipping pax and GNU extension entries, whose values it
/// applies) up to the first real entry. Returns it and the stream positioned
/// at its data.
async fn read_entry(mut archive: Archive) -> RuntimeResult<(Entry, TarRest)> {
    let mut buf = BytesMut::new();
    let mut long_link: Option<String> = None;
    let mut pax_size: Option<u64> = None;
    let mut pax_link: Option<String> = None;
    loop {
        fill(&mut archive, &mut buf, BLOCK).await?;
        let block = buf.split_to(BLOCK);
        if block.iter().all(|&b| b == 0) {
            return Err(RuntimeError::NoSuchPath(
                "empty archive from the node".into(),
            ));
        }
        let header = tar::Header::from_byte_slice(&block);
        let size = header
            .entry_size()
            .map_err(|e| RuntimeError::Backend(format!("bad tar header from the node: {e}")))?;
        let kind = header.entry_type();
        if !(kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink())
        {
            let link = pax_link.or(long_link).unwrap_or_else(|| {
                header
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default()
            });
            let entry = Entry {
                kind,
                size: pax_size.unwrap_or(size),
                link,
            };
            let rest = TarRest {
                buffered: buf.freeze(),
                archive,
            };
            return Ok((entry, rest));
        }
        let padded = (size as usize).next_multiple_of(BLOCK);
        if padded > MAX_EXTENSION {
            return Err(RuntimeError::Backend(
                "oversized tar extension header".into(),
            ));
        }
        fill(&mut archive, &mut buf, padded).await?;
        let data = buf.split_to(padded);
        let data = &data[..size as usize];
        if kind.is_pax_local_extensions() {
            for record in tar::PaxExtensions::new(data).flatten() {
                match (record.key(), record.value()) {
                    (Ok("size"), Ok(v)) => pax_size = v.parse().ok(),
                    (Ok("linkpath"), Ok(v)) => pax_link = Some(v.to_owned()),
                    _ => {}
                }
            }
        } else if kind.is_gnu_longlink() {
            long_link = Some(
                String::from_utf8_lossy(data)
                    .trim_end_matches('\0')
                    .to_owned(),
            );
        }
    }
}

async fn fill(archive: &mut Archive, buf: &mut BytesMut, n: usize) -> RuntimeResult<()> {
    while buf.len() < n {
        match archive.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(e),
            None => {
                return Err(RuntimeError::Backend(
                    "truncated archive from the node".into(),
                ))
            }
        }
    }
    Ok(())
}

/// The archive after an entry's header.
struct TarRest {
    buffered: Bytes,
    archive: Archive,
}

/// The next `size` bytes of the archive, as a body stream.
fn take(rest: TarRest, size: u64) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold(
        (Some(rest.buffered), rest.archive, size),
        |(mut pending, mut archive, left)| async move {
            if left == 0 {
                return None;
            }
            let chunk = match pending.take().filter(|b| !b.is_empty()) {
                Some(b) => b,
                None => match archive.next().await {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => {
                        return Some((
                            Err(std::io::Error::other(e.to_string())),
                            (None, archive, 0),
                        ))
                    }
                    None => {
                        return Some((
                            Err(std::io::Error::other("archive ended early")),
                            (None, archive, 0),
                        ))
                    }
                },
            };
            let n = (chunk.len() as u64).min(left) as usize;
            Some((Ok(chunk.slice(..n)), (None, archive, left - n as u64)))
        },
    )
}

/// Docker answers 404 both for a missing container and a missing path, and
/// 400/500 for paths it cannot use; tell them apart by the message.
fn archive_error(e: bollard::errors::Error, session: &str, node: &str, path: &str) -> RuntimeError {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        } => {
            if message.contains("No such container") {
                RuntimeError::NoSuchNode {
                    session: session.to_owned(),
                    node: node.to_owned(),
                }
            } else {
                RuntimeError::NoSuchPath(format!("{node}: no such file or directory: {path}"))
            }
        }
        bollard::errors::Error::DockerResponseServerError {
            status_code: 400 | 403 | 409 | 500,
            message,
        } => RuntimeError::BadPath(format!("{node}: {path}: {message}")),
        e => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(futures_util::stream::iter(
            parts.into_iter().map(|p| Ok(Bytes::from_static(p))),
        ))
    }

    async fn collect(
        stream: impl Stream<Item = std::io::Result<Bytes>>,
    ) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    fn archive_of(bytes: Vec<u8>, split: usize) -> Archive {
        let parts: Vec<RuntimeResult<Bytes>> = bytes
            .chunks(split)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Box::pin(futures_util::stream::iter(parts))
    }

    #[tokio::test]
    async fn an_upload_is_a_tar_that_tar_reads_back() {
        for dirs in [1, 120, 300] {
            upload_reads_back(&format!("root/{}/x.txt", "d".repeat(dirs))).await;
        }
    }

    async fn upload_reads_back(name: &str) {
        let head = tar_head(name, 0o755, 11).unwrap();
        let bytes = collect(tar_stream(head, 11, chunks(vec![b"hello ", b"world"])))
            .await
            .unwrap();
        assert_eq!(bytes.len() % BLOCK, 0);
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut entries = archive.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        assert_eq!(
            entry.path().unwrap().to_str().unwrap(),
            name,
            "long name kept"
        );
        assert_eq!(entry.header().mode().unwrap(), 0o755);
        assert_eq!(entry.header().username().unwrap(), Some("root"));
        let mut content = String::new();
        std::io::Read::read_to_string(&mut entry, &mut content).unwrap();
        assert_eq!(content, "hello world");
        assert!(entries.next().is_none());
    }

    #[tokio::test]
    async fn an_empty_upload_ends_the_archive_and_a_wrong_length_fails() {
        let bytes = collect(tar_stream(
            tar_head("a", 0o644, 0).unwrap(),
            0,
            chunks(vec![]),
        ))
        .await
        .unwrap();
        assert_eq!(bytes.len(), 3 * BLOCK);
        let long = collect(tar_stream(
            tar_head("a", 0o644, 3).unwrap(),
            3,
            chunks(vec![b"abcd"]),
        ));
        assert!(long.await.is_err(), "longer than announced");
        let short = collect(tar_stream(
            tar_head("a", 0o644, 3).unwrap(),
            3,
            chunks(vec![b"ab"]),
        ))
        .await
        .unwrap();
        // No padding and no end marker: Docker refuses the truncated archive.
        assert_eq!(
            short.len(),
            BLOCK + 2,
            "a short body never ends the archive"
        );
    }

    #[tokio::test]
    async fn a_download_streams_exactly_the_file_in_any_chunking() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(5);
        builder
            .append_data(&mut header, "x.txt", &b"12345"[..])
            .unwrap();
        let bytes = builder.into_inner().unwrap();
        for split in [1, 7, 512, 100_000] {
            match open_entry(archive_of(bytes.clone(), split), "/x.txt")
                .await
                .unwrap()
            {
                Opened::File(f) => {
                    assert_eq!(f.size, 5);
                    assert_eq!(collect(f.body).await.unwrap(), b"12345");
                }
                Opened::Link(_) => panic!("a file"),
            }
        }
    }

    #[tokio::test]
    async fn pax_and_gnu_long_links_are_applied() {
        let target = format!("/opt/{}", "t".repeat(150));
        for pax in [true, false] {
            let mut builder = tar::Builder::new(Vec::new());
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            if pax {
                builder
                    .append_pax_extensions([("linkpath", target.as_bytes())])
                    .unwrap();
                builder
                    .append_data(&mut header, "l", std::io::empty())
                    .unwrap();
            } else {
                builder.append_link(&mut header, "l", &target).unwrap();
            }
            let bytes = builder.into_inner().unwrap();
            match open_entry(archive_of(bytes, 512), "/l").await.unwrap() {
                Opened::Link(l) => assert_eq!(l, target, "pax: {pax}"),
                Opened::File(_) => panic!("a link"),
            }
        }
    }

    #[tokio::test]
    async fn directories_empty_and_truncated_archives_are_errors() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        builder
            .append_data(&mut header, "d", std::io::empty())
            .unwrap();
        let dir = builder.into_inner().unwrap();
        let err = |r: RuntimeResult<Opened>| r.err().expect("an error");
        assert!(matches!(
            err(open_entry(archive_of(dir, 512), "/d").await),
            RuntimeError::BadPath(m) if m == "/d is a directory; download a file"
        ));
        assert!(matches!(
            err(open_entry(archive_of(vec![0; 1024], 512), "/x").await),
            RuntimeError::NoSuchPath(_)
        ));
        assert!(matches!(
            err(open_entry(archive_of(vec![1; 100], 512), "/x").await),
            RuntimeError::Backend(_)
        ));
    }

    #[test]
    fn links_normalise() {
        assert_eq!(normalise("/etc/../usr/./bin/x"), "/usr/bin/x");
        assert_eq!(normalise("/a/b/../../.."), "/");
        assert_eq!(follow("/root/l", "../etc/x"), "/etc/x");
        assert_eq!(follow("/root/l", "/abs/./y"), "/abs/y");
    }
}
