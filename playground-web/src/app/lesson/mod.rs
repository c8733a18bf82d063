//! The lesson page. It keeps the page's state: the lesson, the session (and
//! which screen shows: loading, start, starting, full, ended, error), the
//! progress, the active tab and the split. The active session's view is made
//! of components with one job each: `session_bar`, `steps` (the steps pane),
//! `divider` and `workspace` (node tabs and terminals); `screens` draws the
//! full-page messages and `toasts` the short notices. A lesson with no
//! machines (an imported post to read only) needs no session: its steps show
//! on their own, without a terminal pane, and its progress is not saved.

mod divider;
mod screens;
mod session_bar;
mod steps;
mod toasts;
pub(super) mod workspace;

use std::collections::HashMap;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use protocol::api::{
    CapturedValue, CreatedSession, ErrorCode, LessonDetail, Progress, SessionInfo,
};
use protocol::terminal::NoticeLevel;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::api::{self, ApiError};
use super::terminal::{TermEvent, TermHandle};
use super::{dom, set_title, store, Nav};
use crate::captures;
use crate::markdown::{Action, CodeBlock};
use crate::progress;
use crate::timefmt;
use divider::Divider;
use session_bar::SessionBar;
use steps::StepsPane;
use toasts::Toasts;
use workspace::Workspace;

#[derive(Properties, PartialEq, Clone)]
pub struct Props {
    pub id: AttrValue,
    /// Start a session at once (the catalog's Start button).
    #[prop_or_default]
    pub autostart: bool,
}

enum LessonLoad {
    Loading,
    Loaded(Rc<LessonDetail>),
    NotFound,
    Failed(String),
}

#[derive(Clone, PartialEq)]
enum Phase {
    /// Waiting for the lesson (and the saved session) to load.
    Loading,
    /// No session: show the intro and a Start button.
    Idle,
    /// A lesson with no machines: its steps, read without a session.
    Reading,
    Starting,
    Rejoining(CreatedSession),
    Active(CreatedSession),
    Ended(String),
    /// The playground is full: retry at this time (ms since the epoch).
    Full {
        message: String,
        retry_at: f64,
    },
    Error(String),
}

pub enum Msg {
    Lesson(Result<LessonDetail, ApiError>),
    Start,
    Created(Result<CreatedSession, ApiError>),
    Rejoined(CreatedSession, Result<SessionInfo, ApiError>),
    ProgressLoaded(String, Result<Progress, ApiError>),
    /// The steps pane moved or passed a step.
    Progress(Progress),
    Tick,
    Run(CodeBlock),
    /// The captured values a Run block waited for.
    Filled(CodeBlock, Result<Vec<CapturedValue>, ApiError>),
    TermReady(String, Option<TermHandle>),
    Term(TermEvent),
    /// A tab was chosen; true: focus its terminal.
    Tab(AttrValue, bool),
    Notice(NoticeLevel, String),
    Dismiss(u32),
    /// The session is over, for this reason.
    Lost(String),
    Split(f64),
}

pub struct LessonPage {
    lesson: LessonLoad,
    phase: Phase,
    progress: Progress,
    progress_loaded: bool,
    terms: HashMap<String, TermHandle>,
    /// The active tab's node.
    tab: AttrValue,
    /// Width of the steps pane, percent of the workspace.
    split: f64,
    now: f64,
    _clock: Interval,
    toasts: Toasts,
    /// Operators watching the session, as each node's socket last heard.
    watchers: HashMap<String, u32>,
    /// The code of the workshop the session was joined in, if it was.
    workshop: Option<String>,
}

impl LessonPage {
    fn steps(&self) -> usize {
        match &self.lesson {
            LessonLoad::Loaded(l) => l.steps.len(),
            _ => 0,
        }
    }

    fn session(&self) -> Option<&CreatedSession> {
        match &self.phase {
            Phase::Active(s) => Some(s),
            _ => None,
        }
    }

    /// Whether an operator watches the session's terminals now.
    fn watched(&self) -> bool {
        self.watchers.values().any(|&n| n > 0)
    }

    fn secs_left(&self) -> Option<i64> {
        let s = self.session()?;
        let expires = timefmt::parse_rfc3339_ms(&s.expires_at)? as f64;
        Some(((expires - self.now) / 1000.0).ceil() as i64)
    }

    fn save_progress(&self) {
        let Some(s) = self.session() else { return };
        let (id, token, p) = (s.id.clone(), s.token.clone(), self.progress.clone());
        spawn_local(async move {
            // A failed save is retried by the next one.
            let _ = api::put_progress(&id, &token, &p).await;
        });
    }

    fn after_session_loss(&mut self, reason: &str) {
        store::forget_session(&ctx_lesson_id(&self.phase).unwrap_or_default());
        self.terms.clear();
        self.watchers.clear();
        self.phase = Phase::Ended(reason.to_owned());
    }

    fn start(&mut self, ctx: &Context<Self>) {
        self.phase = Phase::Starting;
        let id = ctx.props().id.to_string();
        ctx.link()
            .send_future(async move { Msg::Created(api::create_session(&id).await) });
    }

    fn activate(&mut self, ctx: &Context<Self>, s: CreatedSession) {
        self.tab = s
            .nodes
            .first()
            .map(|n| AttrValue::from(n.name.clone()))
            .unwrap_or_default();
        self.progress_loaded = false;
        let (id, token) = (s.id.clone(), s.token.clone());
        self.phase = Phase::Active(s);
        ctx.link().send_future(async move {
            let r = api::progress(&id, &token).await;
            Msg::ProgressLoaded(id, r)
        });
    }

    /// Types a Run block into its node's terminal and shows that tab; a
    /// block that uses captured values (`{{NAME}}`) gets them from the
    /// server first.
    fn run(&mut self, ctx: &Context<Self>, block: CodeBlock) -> bool {
        let declared = match &self.lesson {
            LessonLoad::Loaded(l) => l.captures.as_slice(),
            _ => &[],
        };
        if !captures::needs_values(&block.code, declared) {
            let code = block.code.clone();
            return self.type_block(&block, &code);
        }
        let Some(s) = self.session() else {
            return false;
        };
        let (id, token) = (s.id.clone(), s.token.clone());
        ctx.link().send_future(async move {
            let values = api::captures(&id, &token).await;
            Msg::Filled(block, values)
        });
        false
    }

    /// Types `code` (the block's, filled in) into the block's node.
    fn type_block(&mut self, block: &CodeBlock, code: &str) -> bool {
        let Action::Run { node, interrupt } = &block.action else {
            return true;
        };
        match self.terms.get(node) {
            Some(term) => {
                term.type_text(protocol::dialect::keystrokes(code), *interrupt);
                if self.tab != *node {
                    self.tab = node.clone().into();
                }
            }
            None => self.toasts.push(
                NoticeLevel::Warning,
                format!("This session has no machine named {node}."),
            ),
        }
        true
    }
}

fn ctx_lesson_id(phase: &Phase) -> Option<String> {
    match phase {
        Phase::Active(s) | Phase::Rejoining(s) => Some(s.lesson.clone()),
        _ => None,
    }
}

impl Component for LessonPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let id = ctx.props().id.to_string();
        {
            let id = id.clone();
            ctx.link()
                .send_future(async move { Msg::Lesson(api::lesson(&id).await) });
        }
        let phase = match store::saved_session(&id) {
            Some(saved) => {
                let s = saved.clone();
                ctx.link().send_future(async move {
                    let r = api::session(&s.id, &s.token).await;
                    Msg::Rejoined(s, r)
                });
                Phase::Rejoining(saved)
            }
            None => Phase::Loading,
        };
        let link = ctx.link().clone();
        LessonPage {
            lesson: LessonLoad::Loading,
            phase,
            progress: Progress::default(),
            progress_loaded: false,
            terms: HashMap::new(),
            tab: AttrValue::default(),
            split: 40.0,
            now: dom::now_ms(),
            _clock: Interval::new(1000, move || link.send_message(Msg::Tick)),
            toasts: Toasts::default(),
            watchers: HashMap::new(),
            workshop: store::session_workshop(&id),
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Lesson(Ok(detail)) => {
                set_title(&format!("{} · Container Playground", detail.summary.title));
                let reading = detail.summary.nodes.is_empty();
                self.lesson = LessonLoad::Loaded(Rc::new(detail));
                if reading && matches!(self.phase, Phase::Loading | Phase::Idle) {
                    self.phase = Phase::Reading;
                    self.progress_loaded = true;
                } else if self.phase == Phase::Loading {
                    if ctx.props().autostart {
                        self.start(ctx);
                    } else {
                        self.phase = Phase::Idle;
                    }
                }
                if self.progress_loaded {
                    self.progress = progress::clamp(self.progress.clone(), self.steps());
                }
            }
            Msg::Lesson(Err(e)) if e.code() == Some(ErrorCode::NotFound) => {
                self.lesson = LessonLoad::NotFound;
                set_title("Lesson not found · Container Playground");
            }
            Msg::Lesson(Err(e)) => self.lesson = LessonLoad::Failed(e.message()),
            Msg::Start => self.start(ctx),
            Msg::Created(Ok(s)) => {
                store::save_session(&s);
                store::set_session_workshop(&s.lesson, None);
                self.workshop = None;
                self.progress = Progress::default();
                self.activate(ctx, s);
            }
            Msg::Created(Err(e)) => {
                self.phase = match &e {
                    ApiError::Status {
                        code: ErrorCode::ServerFull,
                        retry_after,
                        message,
                        ..
                    } => Phase::Full {
                        message: message.clone(),
                        retry_at: dom::now_ms()
                            + f64::from(retry_after.unwrap_or(30).clamp(1, 3600)) * 1000.0,
                    },
                    _ => Phase::Error(e.message()),
                }
            }
            Msg::Rejoined(s, Ok(info)) => {
                let s = CreatedSession {
                    expires_at: info.expires_at,
                    nodes: info.nodes,
                    preview_token: info.preview_token,
                    preview_origin: info.preview_origin,
                    ..s
                };
                store::save_session(&s);
                self.activate(ctx, s);
            }
            Msg::Rejoined(s, Err(e)) if e.session_gone() => {
                store::forget_session(&s.lesson);
                self.phase = Phase::Ended(if self.workshop.is_some() {
                    "Your workshop session has ended. Rejoin the workshop to continue.".into()
                } else {
                    "Your previous session of this lesson has ended. Start a new one to continue."
                        .into()
                });
            }
            Msg::Rejoined(_, Err(e)) => self.phase = Phase::Error(e.message()),
            Msg::ProgressLoaded(id, result) => {
                if self.session().map(|s| s.id != id).unwrap_or(true) {
                    return false;
                }
                let p = result.unwrap_or_default();
                self.progress = if matches!(self.lesson, LessonLoad::Loaded(_)) {
                    progress::clamp(p, self.steps())
                } else {
                    p
                };
                self.progress_loaded = true;
            }
            Msg::Progress(p) => {
                self.progress = p;
                self.save_progress();
            }
            Msg::Tick => {
                self.now = dom::now_ms();
                match self.phase.clone() {
                    Phase::Full { retry_at, .. } if self.now >= retry_at => self.start(ctx),
                    Phase::Full { .. } => {}
                    Phase::Active(_) => {
                        if self.secs_left().unwrap_or(i64::MAX) <= 0 {
                            self.after_session_loss("Time is up: the session reached its time limit and its machines were removed.");
                        }
                    }
                    _ => return false,
                }
            }
            Msg::Run(block) => return self.run(ctx, block),
            Msg::Filled(block, Ok(values)) => match captures::fill_in(&block.code, &values) {
                Ok(code) => return self.type_block(&block, &code),
                Err(message) => self.toasts.push(NoticeLevel::Warning, message),
            },
            Msg::Filled(_, Err(e)) => self.toasts.push(
                NoticeLevel::Warning,
                format!("Could not fill in the block: {}", e.message()),
            ),
            Msg::TermReady(node, Some(handle)) => {
                self.terms.insert(node, handle);
                return false;
            }
            Msg::TermReady(node, None) => {
                self.terms.remove(&node);
                return false;
            }
            Msg::Term(TermEvent::Notice { level, message }) => self.toasts.push(level, message),
            Msg::Term(TermEvent::Watchers { node, count }) => {
                let before = self.watched();
                self.watchers.insert(node, count);
                return self.watched() != before;
            }
            Msg::Term(TermEvent::SessionGone) => {
                if self.session().is_some() {
                    self.after_session_loss("The session has ended: its machines were removed.");
                }
            }
            Msg::Tab(node, focus_terminal) => {
                if focus_terminal {
                    if let Some(t) = self.terms.get(node.as_str()) {
                        t.focus();
                    }
                }
                self.tab = node;
            }
            Msg::Notice(level, message) => self.toasts.push(level, message),
            Msg::Dismiss(id) => self.toasts.dismiss(id),
            Msg::Lost(reason) => self.after_session_loss(&reason),
            Msg::Split(split) => self.split = split,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let nav = ctx.link().context::<Nav>(Callback::noop()).map(|(n, _)| n);
        let nav = nav.expect("Nav context");
        let title = match &self.lesson {
            LessonLoad::Loaded(l) => l.summary.title.clone(),
            LessonLoad::NotFound => return screens::not_found(&nav, &ctx.props().id),
            LessonLoad::Failed(e) if !matches!(self.phase, Phase::Active(_)) => {
                return screens::load_failed(&nav, e)
            }
            _ => String::new(),
        };
        let on_start = ctx.link().callback(|_| Msg::Start);
        match &self.phase {
            Phase::Loading => screens::loading(&nav, &title, false),
            Phase::Rejoining(_) => screens::loading(&nav, &title, true),
            Phase::Idle => {
                let (summary, intro) = match &self.lesson {
                    LessonLoad::Loaded(l) => (l.summary.summary.clone(), l.intro.clone()),
                    _ => Default::default(),
                };
                screens::intro(&nav, &title, summary, intro, &on_start)
            }
            Phase::Reading => self.reading_view(ctx, &nav),
            Phase::Starting => screens::starting(&nav, &title),
            Phase::Full { message, retry_at } => {
                let secs = ((retry_at - self.now) / 1000.0).ceil().max(0.0) as i64;
                screens::full(&nav, message, secs, &on_start)
            }
            Phase::Ended(reason) => {
                screens::ended(&nav, reason, self.workshop.as_deref(), &on_start)
            }
            Phase::Error(e) => screens::error(&nav, e, &on_start),
            Phase::Active(s) => self.session_view(ctx, s, &title),
        }
    }
}

impl LessonPage {
    /// A lesson with no machines: its steps in a page of their own, no
    /// terminal pane, no session (so nothing to start, time out or save).
    fn reading_view(&self, ctx: &Context<Self>, nav: &Nav) -> Html {
        let LessonLoad::Loaded(lesson) = &self.lesson else {
            return html! {};
        };
        let link = ctx.link();
        html! {
            <>
            <header class="topbar">
                { screens::back_link(nav) }
                <span class="muted">{ "Text only: this lesson has no machines" }</span>
            </header>
            <main id="main" class="page narrow reading" data-testid="reading">
                <section class="steps-pane" aria-label="Lesson steps">
                    <StepsPane lesson={lesson.clone()} session={AttrValue::default()} token={AttrValue::default()}
                               preview_token={AttrValue::default()} preview_origin={AttrValue::default()}
                               progress={self.progress.clone()} reading=true
                               on_progress={link.callback(Msg::Progress)} on_run={link.callback(Msg::Run)} />
                </section>
            </main>
            </>
        }
    }

    /// The session bar over the steps pane, the divider and the terminals.
    fn session_view(&self, ctx: &Context<Self>, s: &CreatedSession, title: &str) -> Html {
        let link = ctx.link();
        let (session, token) = (
            AttrValue::from(s.id.clone()),
            AttrValue::from(s.token.clone()),
        );
        let steps = match &self.lesson {
            LessonLoad::Loaded(lesson) => html! {
                <StepsPane lesson={lesson.clone()} session={session.clone()} token={token.clone()}
                           preview_token={AttrValue::from(s.preview_token.clone())}
                           preview_origin={AttrValue::from(s.preview_origin.clone())}
                           progress={self.progress.clone()}
                           on_progress={link.callback(Msg::Progress)} on_run={link.callback(Msg::Run)} />
            },
            _ => html! { <p class="muted">{ "Loading the lesson…" }</p> },
        };
        let nodes: Vec<AttrValue> = s.nodes.iter().map(|n| n.name.clone().into()).collect();
        html! {
            <div class="lesson-layout">
                <SessionBar session={session.clone()} token={token.clone()} title={AttrValue::from(title.to_owned())}
                            node={self.tab.clone()} secs_left={self.secs_left().unwrap_or(0)}
                            watched={self.watched()}
                            on_notice={link.callback(|(level, message)| Msg::Notice(level, message))}
                            on_lost={link.callback(Msg::Lost)} />
                <main id="main" class="workspace" style={format!("--split: {:.1}%", self.split)}>
                    <section class="steps-pane" aria-label="Lesson steps">{ steps }</section>
                    <Divider split={self.split} on_split={link.callback(Msg::Split)} />
                    <Workspace {session} {token} {nodes} tab={self.tab.clone()}
                               on_tab={link.callback(|(node, focus)| Msg::Tab(node, focus))}
                               on_ready={link.callback(|(n, h)| Msg::TermReady(n, h))}
                               on_event={link.callback(Msg::Term)} />
                </main>
                { self.toasts.view(&link.callback(Msg::Dismiss)) }
            </div>
        }
    }
}
