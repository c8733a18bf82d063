//! Session records in an embedded SQLite database, so sessions survive a
//! server restart. Docker labels are the second source of truth: on start-up
//! [`crate::sessions`] reconciles this table with the containers that exist.
//!
//! Writes are rare (create, delete, progress), so one connection behind a
//! mutex, used from blocking threads, is enough.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

/// One session as stored. The token itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub token_hash: String,
    pub lesson: String,
    pub nodes: Vec<String>,
    pub client_ip: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// The learner's progress as JSON; its rules live in [`crate::sessions::progress`].
    pub progress: String,
    /// The workshop seat the session was joined on; None for an anonymous session.
    pub seat: Option<Seat>,
}

/// A workshop learner's place: which workshop, and the name they gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub workshop: String,
    pub learner: String,
}

/// One workshop as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkshopRecord {
    pub id: String,
    /// The join code, normalized (`ABCD2345`, no dash).
    pub code: String,
    pub lesson: String,
    pub seats: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("session database: cannot create {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("session database: corrupt node list for session {0}")]
    Corrupt(String),
    #[error("session database: worker thread failed")]
    Join,
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL,
    lesson      TEXT NOT NULL,
    nodes       TEXT NOT NULL,
    client_ip   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    progress    TEXT NOT NULL DEFAULT '{}'
);
-- The screens of a session's terminals, saved when the server stops
-- gracefully, so a learner who reconnects after a restart sees what was there
-- (the shell itself cannot survive: Docker cannot re-attach to an exec).
CREATE TABLE IF NOT EXISTS screens (
    session_id  TEXT NOT NULL,
    node        TEXT NOT NULL,
    cols        INTEGER NOT NULL,
    rows        INTEGER NOT NULL,
    screen      BLOB NOT NULL,
    PRIMARY KEY (session_id, node)
);
CREATE TABLE IF NOT EXISTS workshops (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    lesson      TEXT NOT NULL,
    seats       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
";

/// Columns added to `sessions` after its first version, with their types:
/// added on open when missing, so an older database keeps its sessions.
const SESSION_COLUMNS_ADDED: &[(&str, &str)] = &[("workshop", "TEXT"), ("learner", "TEXT")];

/// The columns every session query reads, in [`raw_row`]'s order.
const SESSION_COLUMNS: &str =
    "id, token_hash, lesson, nodes, client_ip, created_at, expires_at, progress, workshop, learner";

/// A terminal's screen as saved at shutdown: its size and the bytes that
/// repaint it (`vt100::Screen::state_formatted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedScreen {
    pub node: String,
    pub cols: u16,
    pub rows: u16,
    pub screen: Vec<u8>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        add_missing_columns(&conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::Join)?
    }

    pub async fn insert(&self, record: SessionRecord) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                &format!(
                    "INSERT INTO sessions ({SESSION_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ),
                params![
                    record.id,
                    record.token_hash,
                    record.lesson,
                    serde_json::to_string(&record.nodes).expect("strings serialize"),
                    record.client_ip,
                    record.created_at,
                    record.expires_at,
                    record.progress,
                    record.seat.as_ref().map(|s| &s.workshop),
                    record.seat.as_ref().map(|s| &s.learner),
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute("DELETE FROM sessions WHERE id = ?1", params![id])?;
            c.execute("DELETE FROM screens WHERE session_id = ?1", params![id])?;
            Ok(())
        })
        .await
    }

    pub async fn get(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            let row = c
                .query_row(
                    &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                    params![id],
                    raw_row,
                )
                .optional()?;
            row.map(decode).transpose()
        })
        .await
    }

    pub async fn all(&self) -> Result<Vec<SessionRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created_at"
            ))?;
            let rows = stmt.query_map([], raw_row)?;
            rows.map(|r| decode(r?)).collect()
        })
        .await
    }

    /// Saves the screens of a session's terminals (replacing older ones).
    pub async fn save_screens(
        &self,
        session: &str,
        screens: Vec<SavedScreen>,
    ) -> Result<(), StoreError> {
        let session = session.to_owned();
        self.with(move |c| {
            for s in screens {
                c.execute(
                    "INSERT OR REPLACE INTO screens (session_id, node, cols, rows, screen)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![session, s.node, s.cols, s.rows, s.screen],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Returns and forgets the saved screens of a session: they describe the
    /// moment of the last shutdown and are stale once used.
    pub async fn take_screens(&self, session: &str) -> Result<Vec<SavedScreen>, StoreError> {
        let session = session.to_owned();
        self.with(move |c| {
            let screens = {
                let mut stmt = c.prepare(
                    "SELECT node, cols, rows, screen FROM screens WHERE session_id = ?1",
                )?;
                let rows = stmt.query_map(params![session], |r| {
                    Ok(SavedScreen {
                        node: r.get(0)?,
                        cols: r.get(1)?,
                        rows: r.get(2)?,
                        screen: r.get(3)?,
                    })
                })?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            c.execute(
                "DELETE FROM screens WHERE session_id = ?1",
                params![session],
            )?;
            Ok(screens)
        })
        .await
    }

    pub async fn insert_workshop(&self, workshop: WorkshopRecord) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO workshops (id, code, lesson, seats, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    workshop.id,
                    workshop.code,
                    workshop.lesson,
                    workshop.seats,
                    workshop.created_at,
                    workshop.expires_at,
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn delete_workshop(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute("DELETE FROM workshops WHERE id = ?1", params![id])?;
            Ok(())
        })
        .await
    }

    pub async fn all_workshops(&self) -> Result<Vec<WorkshopRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, code, lesson, seats, created_at, expires_at
                 FROM workshops ORDER BY created_at",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(WorkshopRecord {
                    id: r.get(0)?,
                    code: r.get(1)?,
                    lesson: r.get(2)?,
                    seats: r.get(3)?,
                    created_at: r.get(4)?,
                    expires_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn set_progress(&self, id: &str, progress: String) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            let n = c.execute(
                "UPDATE sessions SET progress = ?2 WHERE id = ?1",
                params![id, progress],
            )?;
            Ok(n == 1)
        })
        .await
    }
}

/// Adds the columns of [`SESSION_COLUMNS_ADDED`] a database made by an older
/// version lacks.
fn add_missing_columns(conn: &Connection) -> Result<(), StoreError> {
    let existing: Vec<String> = {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('sessions')")?;
        let names = stmt.query_map([], |r| r.get(0))?;
        names.collect::<Result<_, _>>()?
    };
    for (column, kind) in SESSION_COLUMNS_ADDED {
        if !existing.iter().any(|c| c == column) {
            conn.execute_batch(&format!("ALTER TABLE sessions ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

type RawRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
);

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn decode(row: RawRow) -> Result<SessionRecord, StoreError> {
    let (id, token_hash, lesson, nodes, client_ip, created_at, expires_at, progress, w, l) = row;
    let nodes = serde_json::from_str(&nodes).map_err(|_| StoreError::Corrupt(id.clone()))?;
    let seat = w.map(|workshop| Seat {
        workshop,
        learner: l.unwrap_or_default(),
    });
    Ok(SessionRecord {
        id,
        token_hash,
        lesson,
        nodes,
        client_ip,
        created_at,
        expires_at,
        progress,
        seat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            token_hash: "ab".into(),
            lesson: "shell".into(),
            nodes: vec!["node1".into(), "node2".into()],
            client_ip: "127.0.0.1".into(),
            created_at: 1,
            expires_at: 2,
            progress: "{}".into(),
            seat: None,
        }
    }

    #[tokio::test]
    async fn records_survive_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("pg-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("s.sqlite3");
        {
            let store = Store::open(&path).unwrap();
            store.insert(record("a")).await.unwrap();
            store.insert(record("b")).await.unwrap();
            store.delete("a").await.unwrap();
            assert!(store.set_progress("b", r#"{"x":1}"#.into()).await.unwrap());
            assert!(!store.set_progress("zz", "{}".into()).await.unwrap());
        }
        let store = Store::open(&path).unwrap();
        let all = store.all().await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].nodes, vec!["node1", "node2"]);
        assert_eq!(all[0].progress, r#"{"x":1}"#);
        assert!(store.get("a").await.unwrap().is_none());
        assert!(store.insert(record("b")).await.is_err(), "duplicate id");
    }

    #[tokio::test]
    async fn workshops_and_seats_survive_reopening_and_old_databases_gain_the_columns() {
        let dir = std::env::temp_dir().join(format!("pg-store-ws-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sqlite3");
        // A database of the version before workshops, with one session in it.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE sessions (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL,
                 lesson TEXT NOT NULL, nodes TEXT NOT NULL, client_ip TEXT NOT NULL,
                 created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                 progress TEXT NOT NULL DEFAULT '{}');
                 INSERT INTO sessions VALUES ('old', 'h', 'shell', '[\"node1\"]', 'ip', 1, 2, '{}');",
            )
            .unwrap();
        }
        let workshop = WorkshopRecord {
            id: "w1".into(),
            code: "ABCD2345".into(),
            lesson: "shell".into(),
            seats: 20,
            created_at: 5,
            expires_at: 9,
        };
        {
            let store = Store::open(&path).unwrap();
            store.insert_workshop(workshop.clone()).await.unwrap();
            let mut joined = record("ada");
            joined.seat = Some(Seat {
                workshop: "w1".into(),
                learner: "Ada".into(),
            });
            store.insert(joined).await.unwrap();
            let mut clash = workshop.clone();
            clash.id = "w2".into();
            assert!(
                store.insert_workshop(clash).await.is_err(),
                "codes are unique"
            );
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.all_workshops().await.unwrap(), vec![workshop]);
        let all = store.all().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].id, "old");
        assert_eq!(all[0].seat, None);
        assert_eq!(all[1].seat.as_ref().unwrap().learner, "Ada");
        store.delete_workshop("w1").await.unwrap();
        assert!(store.all_workshops().await.unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn saved_screens_are_read_once_and_go_with_their_session() {
        let dir = std::env::temp_dir().join(format!("pg-store-screens-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("s.sqlite3");
        let screen = |node: &str, text: &str| SavedScreen {
            node: node.into(),
            cols: 100,
            rows: 30,
            screen: text.as_bytes().to_vec(),
        };
        {
            let store = Store::open(&path).unwrap();
            store.insert(record("a")).await.unwrap();
            store.insert(record("b")).await.unwrap();
            store
                .save_screens("a", vec![screen("node1", "old"), screen("node2", "two")])
                .await
                .unwrap();
            store
                .save_screens("a", vec![screen("node1", "new")])
                .await
                .unwrap();
            store
                .save_screens("b", vec![screen("node1", "bee")])
                .await
                .unwrap();
            store.delete("b").await.unwrap();
        }
        let store = Store::open(&path).unwrap();
        let mut got = store.take_screens("a").await.unwrap();
        got.sort_by(|x, y| x.node.cmp(&y.node));
        assert_eq!(got, vec![screen("node1", "new"), screen("node2", "two")]);
        assert!(
            store.take_screens("a").await.unwrap().is_empty(),
            "read once"
        );
        assert!(
            store.take_screens("b").await.unwrap().is_empty(),
            "deleted with b"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
