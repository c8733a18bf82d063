//! What can go wrong with a session, in the domain's words. The HTTP layer
//! maps these onto statuses and error codes; nothing here knows about HTTP.

use super::progress::ProgressError;
use super::scripts::ProvisionError;
use crate::runtime::RuntimeError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No live session has this id (checked before any token).
    #[error("no session {0:?}")]
    NoSession(String),
    #[error("session {session} has no node {node:?}")]
    NoNode { session: String, node: String },
    /// A session was asked for a lesson the catalog does not serve.
    #[error("unknown lesson {0:?}")]
    UnknownLesson(String),
    /// The lesson has no machines (an imported post to read only): it is
    /// read without a session.
    #[error("lesson {0:?} has no machines: it is read without a session")]
    ReadingOnly(String),
    /// The session's lesson left the catalog (a reload dropped it).
    #[error("lesson {0:?} of this session is no longer served")]
    NoLesson(String),
    #[error("lesson {lesson:?} has {steps} steps (numbered from 0); no step {step}")]
    NoStep {
        lesson: String,
        steps: usize,
        step: usize,
    },
    #[error("step {0} has no check")]
    NoCheck(usize),
    /// The step's check runs in a node this session does not have.
    #[error("the check runs in {0:?}, which this session does not have")]
    NoCheckNode(String),
    /// No token came with the request.
    #[error("missing token")]
    Unauthorized,
    /// A token came, but not this session's.
    #[error("this token does not open that session")]
    Forbidden,
    /// The server has `max_sessions` (or no room for another network).
    #[error("the playground is full ({live} live sessions); try again in {retry_after} s")]
    Full { live: usize, retry_after: u64 },
    /// The client's address has `max_sessions_per_ip` sessions (live or being created).
    #[error("this address already has {0} live sessions; end one first")]
    TooManySessions(usize),
    /// No open workshop has this code or id (or it has ended).
    #[error("no such workshop, or it has ended; check the code with your instructor")]
    NoWorkshop,
    /// Every seat of the workshop is taken.
    #[error("this workshop is full: all {0} seats are taken; ask your instructor for room")]
    WorkshopFull(u32),
    /// Someone in the workshop goes by this name already.
    #[error("someone in this workshop is called {0:?} already; pick another name")]
    NameTaken(String),
    /// A learner's name that cannot be shown.
    #[error("invalid name: {0}")]
    BadName(String),
    /// A workshop that cannot be opened as asked.
    #[error("{0}")]
    BadWorkshop(String),
    /// `max_workshops` are open.
    #[error("{0} workshops are open, the most allowed (max_workshops); end one first")]
    TooManyWorkshops(usize),
    /// The node is restarting already.
    #[error("{0} is already restarting")]
    Busy(String),
    /// The task creating the session stopped before it answered (it
    /// panicked, or the server is stopping); whatever it made is swept.
    #[error("creating the session was interrupted; try again")]
    CreationAborted,
    /// Too many checks run at once (in this session, or on the server).
    #[error("{0}; try again when one has finished")]
    ChecksBusy(String),
    /// Progress that breaks its rules.
    #[error(transparent)]
    Invalid(#[from] ProgressError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The lesson's assets or setup scripts failed on a new session.
    #[error(transparent)]
    Setup(#[from] ProvisionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
