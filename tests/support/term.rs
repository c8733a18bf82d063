//! A terminal WebSocket client: reads frames as the web app does, acknowledges
//! output, and waits for text in the transcript.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use protocol::terminal::{ClientFrame, Event, ServerFrame};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a terminal socket delivered, as a test sees it.
#[derive(Debug)]
pub enum TermEvent {
    Output(Vec<u8>),
    Event(Event),
    Closed(Option<(u16, String)>),
}

/// A terminal WebSocket client. Acknowledges output as it reads it, like a
/// browser that renders promptly, unless `auto_ack` is off.
pub struct Term {
    ws: Ws,
    /// Everything output so far, lossily decoded.
    pub transcript: String,
    pub auto_ack: bool,
    pub received_bytes: u64,
    pub closed: Option<Option<(u16, String)>>,
}

impl Term {
    pub async fn connect(url: &str) -> Result<Term> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("connecting {url}"))?;
        if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() {
            tcp.set_nodelay(true)?;
        }
        Ok(Term {
            ws,
            transcript: String::new(),
            auto_ack: true,
            received_bytes: 0,
            closed: None,
        })
    }

    pub async fn send_frame(&mut self, frame: ClientFrame<'_>) -> Result<()> {
        self.ws.send(Message::Binary(frame.encode().into())).await?;
        Ok(())
    }

    pub async fn send_raw(&mut self, msg: Message) -> Result<()> {
        self.ws.send(msg).await?;
        Ok(())
    }

    pub async fn type_text(&mut self, text: &str) -> Result<()> {
        self.send_frame(ClientFrame::Input(text.as_bytes())).await
    }

    pub async fn resize(&mut self, cols: u16, rows: u16) -> Result<()> {
        self.send_frame(ClientFrame::Resize { cols, rows }).await
    }

    /// The next thing the socket delivers, or None after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Result<Option<TermEvent>> {
        if let Some(closed) = &self.closed {
            return Ok(Some(TermEvent::Closed(closed.clone())));
        }
        let msg = match tokio::time::timeout(timeout, self.ws.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => {
                self.closed = Some(None);
                return Ok(Some(TermEvent::Closed(None)));
            }
            Ok(Some(Err(e))) => {
                self.closed = Some(None);
                let _ = e;
                return Ok(Some(TermEvent::Closed(None)));
            }
            Ok(Some(Ok(msg))) => msg,
        };
        match msg {
            Message::Binary(data) => match ServerFrame::decode(&data)? {
                ServerFrame::Output(bytes) => {
                    self.received_bytes += bytes.len() as u64;
                    self.transcript.push_str(&String::from_utf8_lossy(bytes));
                    // The server may close right after its last output (a session
                    // ending): an ack that finds the socket gone is no error; the
                    // next read reports the close.
                    if self.auto_ack {
                        let _ = self.send_frame(ClientFrame::Ack(bytes.len() as u32)).await;
                    }
                    Ok(Some(TermEvent::Output(bytes.to_vec())))
                }
                ServerFrame::Event(e) => Ok(Some(TermEvent::Event(e))),
            },
            Message::Close(frame) => {
                let c = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                self.closed = Some(c.clone());
                Ok(Some(TermEvent::Closed(c)))
            }
            _ => Ok(Some(TermEvent::Output(Vec::new()))),
        }
    }

    /// Reads until the transcript (from `from` on) contains `needle`.
    pub async fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let start = self.transcript.len();
        self.wait_for_from(start, needle, timeout).await
    }

    /// Like [`Term::wait_for`], searching the transcript from byte `from`.
    pub async fn wait_for_from(
        &mut self,
        from: usize,
        needle: &str,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.transcript[from.min(self.transcript.len())..].find(needle) {
                let end = from + pos + needle.len();
                return Ok(self.transcript[from..end].to_owned());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "timed out waiting for {needle:?}; transcript tail: {:?}",
                    tail(&self.transcript, 600)
                );
            }
            if let Some(TermEvent::Closed(c)) = self.next(left).await? {
                bail!(
                    "socket closed ({c:?}) while waiting for {needle:?}; transcript tail: {:?}",
                    tail(&self.transcript, 600)
                );
            }
        }
    }

    /// Runs `cmd` in the shell and returns what it printed between two markers.
    pub async fn run(&mut self, cmd: &str, timeout: Duration) -> Result<String> {
        let n = MARK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (begin, end) = (format!("BEGIN{n}Z"), format!("END{n}Z"));
        // Markers are printed with a quote split inside, so the echoed command
        // line never matches them.
        let line = format!("echo BEGIN{n}''Z; {cmd}; echo END{n}''Z\r");
        let from = self.transcript.len();
        self.type_text(&line).await?;
        let out = self.wait_for_from(from, &end, timeout).await?;
        let body = out
            .rfind(&begin)
            .map(|p| &out[p + begin.len()..out.len() - end.len()])
            .unwrap_or("");
        Ok(body.trim().replace('\r', ""))
    }

    /// Reads until the socket closes; returns its close code and reason.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Result<Option<(u16, String)>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("socket still open after {timeout:?}");
            }
            if let Some(TermEvent::Closed(c)) = self.next(left).await? {
                return Ok(c);
            }
        }
    }

    /// Reads until the socket closes, each read within `timeout`; returns the
    /// events seen on the way and the close code and reason.
    pub async fn events_until_closed(
        &mut self,
        timeout: Duration,
    ) -> Result<(Vec<Event>, Option<(u16, String)>)> {
        let mut events = Vec::new();
        loop {
            match self.next(timeout).await? {
                None => bail!("no event within {timeout:?}; events so far: {events:?}"),
                Some(TermEvent::Event(e)) => events.push(e),
                Some(TermEvent::Closed(c)) => return Ok((events, c)),
                Some(TermEvent::Output(_)) => {}
            }
        }
    }

    /// Reads whatever arrives until the socket is quiet for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Result<()> {
        while let Some(ev) = self.next(quiet).await? {
            if matches!(ev, TermEvent::Closed(_)) {
                break;
            }
        }
        Ok(())
    }

    pub async fn close(mut self) {
        let _ = self
            .ws
            .send(Message::Close(Some(
                tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: CloseCode::Normal,
                    reason: "bye".into(),
                },
            )))
            .await;
    }
}

static MARK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
