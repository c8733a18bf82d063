//! The lesson page: session bar, steps on the left, one terminal tab per node
//! on the right, a draggable divider between them; and the clear screens for
//! "no session yet", "starting", "the playground is full" and "session ended".

use std::collections::HashMap;

use gloo_timers::callback::Interval;
use protocol::api::{
    CheckResult, CreatedSession, LessonDetail, LessonSummary, Progress, SessionInfo, Step,
};
use protocol::terminal::NoticeLevel;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};
use yew::prelude::*;

use super::api::{self, ApiError};
use super::markdown_view::Markdown;
use super::terminal::{TermEvent, TermHandle, Terminal};
use super::{dom, link_to, set_title, store, Nav};
use crate::markdown::{Action, CodeBlock};
use crate::progress;
use crate::route::Route;
use crate::timefmt;

#[derive(Properties, PartialEq, Clone)]
pub struct Props {
    pub id: AttrValue,
    /// Start a session at once (the catalog's Start button).
    #[prop_or_default]
    pub autostart: bool,
}

enum LessonLoad {
    Loading,
    Loaded(LessonDetail),
    NotFound,
    Failed(String),
}

#[derive(Clone, PartialEq)]
enum Phase {
    /// Waiting for the lesson (and the saved session) to load.
    Loading,
    /// No session: show the intro and a Start button.
    Idle,
    Starting,
    Rejoining(CreatedSession),
    Active(CreatedSession),
    Ended(String),
    /// HTTP 503: retry at this time (ms since the epoch).
    Full {
        message: String,
        retry_at: f64,
    },
    Error(String),
}

enum CheckState {
    Running,
    Done(CheckResult),
    Failed(String),
}

pub enum Msg {
    Lesson(Result<LessonDetail, ApiError>),
    LessonFallback(Result<Vec<LessonSummary>, ApiError>),
    Start,
    Created(Result<CreatedSession, ApiError>),
    Rejoined(CreatedSession, Result<SessionInfo, ApiError>),
    ProgressLoaded(String, Result<Progress, ApiError>),
    ProgressSaved(Result<(), ApiError>),
    Tick,
    Go(usize),
    Next,
    Check(usize),
    Checked(usize, Result<CheckResult, ApiError>),
    Run(CodeBlock),
    TermReady(String, Option<TermHandle>),
    Term(TermEvent),
    Tab(String),
    TabKey(KeyboardEvent),
    Restart,
    Restarted(String, Result<(), ApiError>),
    End,
    Ended(Result<(), ApiError>),
    Dismiss(u32),
    DragStart(PointerEvent),
    DragMove(PointerEvent),
    DragEnd,
    SplitKey(KeyboardEvent),
}

pub struct LessonPage {
    lesson: LessonLoad,
    phase: Phase,
    progress: Progress,
    /// The server has the progress route (else: local storage only).
    remote_progress: bool,
    progress_loaded: bool,
    checks: HashMap<usize, CheckState>,
    terms: HashMap<String, TermHandle>,
    tab: String,
    /// Width of the steps pane, percent of the workspace.
    split: f64,
    dragging: bool,
    workspace: NodeRef,
    step_heading: NodeRef,
    focus_heading: bool,
    now: f64,
    _clock: Interval,
    notices: Vec<(u32, NoticeLevel, String)>,
    next_notice: u32,
    warned: bool,
}

impl LessonPage {
    fn steps(&self) -> &[Step] {
        match &self.lesson {
            LessonLoad::Loaded(l) => &l.steps,
            _ => &[],
        }
    }

    fn session(&self) -> Option<&CreatedSession> {
        match &self.phase {
            Phase::Active(s) => Some(s),
            _ => None,
        }
    }

    fn secs_left(&self) -> Option<i64> {
        let s = self.session()?;
        let expires = timefmt::parse_rfc3339_ms(&s.expires_at)? as f64;
        Some(((expires - self.now) / 1000.0).ceil() as i64)
    }

    fn notice(&mut self, level: NoticeLevel, message: String) {
        self.next_notice += 1;
        self.notices.push((self.next_notice, level, message));
        if self.notices.len() > 4 {
            self.notices.remove(0);
        }
    }

    fn save_progress(&self, ctx: &Context<Self>) {
        let Some(s) = self.session() else { return };
        store::save_local_progress(&s.id, &self.progress);
        if self.remote_progress {
            let (id, token, p) = (s.id.clone(), s.token.clone(), self.progress.clone());
            ctx.link().send_future(async move {
                Msg::ProgressSaved(api::put_progress(&id, &token, &p).await)
            });
        }
    }

    fn after_session_loss(&mut self, reason: &str) {
        store::forget_session(&ctx_lesson_id(&self.phase).unwrap_or_default());
        self.terms.clear();
        self.phase = Phase::Ended(reason.to_owned());
    }

    fn start(&mut self, ctx: &Context<Self>) {
        self.phase = Phase::Starting;
        let id = ctx.props().id.to_string();
        ctx.link()
            .send_future(async move { Msg::Created(api::create_session(&id).await) });
    }

    fn activate(&mut self, ctx: &Context<Self>, s: CreatedSession) {
        self.tab = s.nodes.first().map(|n| n.name.clone()).unwrap_or_default();
        self.progress_loaded = false;
        let (id, token) = (s.id.clone(), s.token.clone());
        self.phase = Phase::Active(s);
        ctx.link().send_future(async move {
            let r = api::progress(&id, &token).await;
            Msg::ProgressLoaded(id, r)
        });
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
            remote_progress: true,
            progress_loaded: false,
            checks: HashMap::new(),
            terms: HashMap::new(),
            tab: String::new(),
            split: 40.0,
            dragging: false,
            workspace: NodeRef::default(),
            step_heading: NodeRef::default(),
            focus_heading: false,
            now: dom::now_ms(),
            _clock: Interval::new(1000, move || link.send_message(Msg::Tick)),
            notices: Vec::new(),
            next_notice: 0,
            warned: false,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Lesson(Ok(detail)) => {
                set_title(&format!("{} · Container Playground", detail.summary.title));
                self.lesson = LessonLoad::Loaded(detail);
                if self.phase == Phase::Loading {
                    if ctx.props().autostart {
                        self.start(ctx);
                    } else {
                        self.phase = Phase::Idle;
                    }
                }
                if self.progress_loaded {
                    let steps = self.steps().len();
                    self.progress = progress::clamp(self.progress.clone(), steps);
                }
            }
            Msg::Lesson(Err(e)) if e.status() == Some(404) => {
                // A server without the lesson-detail route: use the summary.
                ctx.link()
                    .send_future(async move { Msg::LessonFallback(api::lessons().await) });
            }
            Msg::Lesson(Err(e)) => self.lesson = LessonLoad::Failed(e.message()),
            Msg::LessonFallback(Ok(list)) => {
                let id = ctx.props().id.to_string();
                match list.into_iter().find(|l| l.id == id) {
                    Some(summary) => {
                        return Component::update(
                            self,
                            ctx,
                            Msg::Lesson(Ok(LessonDetail {
                                summary,
                                intro: String::new(),
                                steps: Vec::new(),
                                finish: String::new(),
                            })),
                        )
                    }
                    None => {
                        self.lesson = LessonLoad::NotFound;
                        set_title("Lesson not found · Container Playground");
                    }
                }
            }
            Msg::LessonFallback(Err(e)) => self.lesson = LessonLoad::Failed(e.message()),
            Msg::Start => self.start(ctx),
            Msg::Created(Ok(s)) => {
                store::save_session(&s);
                self.checks.clear();
                self.progress = Progress::default();
                self.warned = false;
                self.activate(ctx, s);
            }
            Msg::Created(Err(e)) => {
                self.phase = match &e {
                    ApiError::Status {
                        status: 503,
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
                    ..s
                };
                store::save_session(&s);
                self.activate(ctx, s);
            }
            Msg::Rejoined(s, Err(e)) if e.session_gone() => {
                store::forget_session(&s.lesson);
                self.phase = Phase::Ended(
                    "Your previous session of this lesson has ended. Start a new one to continue."
                        .into(),
                );
            }
            Msg::Rejoined(_, Err(e)) => self.phase = Phase::Error(e.message()),
            Msg::ProgressLoaded(id, result) => {
                if self.session().map(|s| s.id != id).unwrap_or(true) {
                    return false;
                }
                let local = store::local_progress(&id);
                let p = match result {
                    Ok(p) => p,
                    Err(e) => {
                        if e.status() == Some(404) {
                            self.remote_progress = false;
                        }
                        local.clone().unwrap_or_default()
                    }
                };
                let steps = self.steps().len();
                self.progress = if matches!(self.lesson, LessonLoad::Loaded(_)) {
                    progress::clamp(p, steps)
                } else {
                    p
                };
                self.progress_loaded = true;
            }
            Msg::ProgressSaved(Err(e)) if e.status() == Some(404) => {
                self.remote_progress = false;
                return false;
            }
            Msg::ProgressSaved(_) => return false,
            Msg::Tick => {
                self.now = dom::now_ms();
                match self.phase.clone() {
                    Phase::Full { retry_at, .. } if self.now >= retry_at => self.start(ctx),
                    Phase::Full { .. } => {}
                    Phase::Active(_) => {
                        let left = self.secs_left().unwrap_or(i64::MAX);
                        if left <= 0 {
                            self.after_session_loss("Time is up: the session reached its time limit and its machines were removed.");
                        } else if left <= timefmt::WARN_SECS && !self.warned {
                            self.warned = true;
                        }
                    }
                    _ => return false,
                }
            }
            Msg::Go(n) => {
                let steps = self.steps().len();
                self.progress.current_step = n.min(steps);
                self.focus_heading = true;
                self.save_progress(ctx);
            }
            Msg::Next => {
                let n = self.progress.current_step;
                if let Some(step) = self.steps().get(n) {
                    if !step.has_check {
                        progress::mark_passed(&mut self.progress, n);
                    }
                }
                return Component::update(self, ctx, Msg::Go(n + 1));
            }
            Msg::Check(n) => {
                let Some(s) = self.session() else {
                    return false;
                };
                let (id, token) = (s.id.clone(), s.token.clone());
                self.checks.insert(n, CheckState::Running);
                ctx.link().send_future(async move {
                    Msg::Checked(n, api::check_step(&id, &token, n).await)
                });
            }
            Msg::Checked(n, Ok(result)) => {
                if result.passed {
                    progress::mark_passed(&mut self.progress, n);
                    self.save_progress(ctx);
                }
                self.checks.insert(n, CheckState::Done(result));
            }
            Msg::Checked(n, Err(e)) => {
                let message = if e.status() == Some(404) {
                    "This server cannot run checks yet.".to_owned()
                } else {
                    e.message()
                };
                self.checks.insert(n, CheckState::Failed(message));
            }
            Msg::Run(block) => {
                if let Action::Run { node, interrupt } = &block.action {
                    match self.terms.get(node) {
                        Some(term) => {
                            term.type_text(block.keystrokes(), *interrupt);
                            if self.tab != *node {
                                self.tab = node.clone();
                                return true;
                            }
                        }
                        None => self.notice(
                            NoticeLevel::Warning,
                            format!("This session has no machine named {node}."),
                        ),
                    }
                }
            }
            Msg::TermReady(node, Some(handle)) => {
                self.terms.insert(node, handle);
                return false;
            }
            Msg::TermReady(node, None) => {
                self.terms.remove(&node);
                return false;
            }
            Msg::Term(TermEvent::Notice { level, message }) => self.notice(level, message),
            Msg::Term(TermEvent::SessionGone) => {
                if self.session().is_some() {
                    self.after_session_loss("The session has ended: its machines were removed.");
                }
            }
            Msg::Tab(node) => {
                self.tab = node.clone();
                if let Some(t) = self.terms.get(&node) {
                    t.focus();
                }
            }
            Msg::TabKey(e) => {
                let Some(s) = self.session() else {
                    return false;
                };
                let names: Vec<String> = s.nodes.iter().map(|n| n.name.clone()).collect();
                let i = names.iter().position(|n| *n == self.tab).unwrap_or(0);
                let j = match e.key().as_str() {
                    "ArrowRight" => (i + 1) % names.len(),
                    "ArrowLeft" => (i + names.len() - 1) % names.len(),
                    "Home" => 0,
                    "End" => names.len() - 1,
                    _ => return false,
                };
                e.prevent_default();
                self.tab = names[j].clone();
                if let Some(doc) = dom::window().document() {
                    if let Some(el) = doc.get_element_by_id(&format!("tab-{}", names[j])) {
                        if let Ok(el) = el.dyn_into::<HtmlElement>() {
                            let _ = el.focus();
                        }
                    }
                }
            }
            Msg::Restart => {
                let Some(s) = self.session() else {
                    return false;
                };
                let node = self.tab.clone();
                let confirmed = dom::window()
                    .confirm_with_message(&format!(
                        "Restart {node}? Its running programs stop; its files stay."
                    ))
                    .unwrap_or(true);
                if !confirmed {
                    return false;
                }
                let (id, token) = (s.id.clone(), s.token.clone());
                ctx.link().send_future(async move {
                    let r = api::restart_node(&id, &token, &node).await;
                    Msg::Restarted(node, r)
                });
            }
            Msg::Restarted(node, Ok(())) => {
                self.notice(NoticeLevel::Info, format!("{node} restarted."))
            }
            Msg::Restarted(_, Err(e)) if e.session_gone() => {
                self.after_session_loss("The session has ended.")
            }
            Msg::Restarted(node, Err(e)) => self.notice(
                NoticeLevel::Warning,
                format!("Could not restart {node}: {}", e.message()),
            ),
            Msg::End => {
                let Some(s) = self.session() else {
                    return false;
                };
                let confirmed = dom::window()
                    .confirm_with_message(
                        "End this session? Its machines and everything on them are removed.",
                    )
                    .unwrap_or(true);
                if !confirmed {
                    return false;
                }
                let (id, token) = (s.id.clone(), s.token.clone());
                ctx.link()
                    .send_future(async move { Msg::Ended(api::end_session(&id, &token).await) });
            }
            Msg::Ended(Ok(())) => {
                self.after_session_loss("You ended the session; its machines were removed.")
            }
            Msg::Ended(Err(e)) if e.session_gone() => {
                self.after_session_loss("The session has ended.")
            }
            Msg::Ended(Err(e)) => self.notice(
                NoticeLevel::Warning,
                format!("Could not end the session: {}", e.message()),
            ),
            Msg::Dismiss(id) => self.notices.retain(|(i, _, _)| *i != id),
            Msg::DragStart(e) => {
                if let Some(t) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) {
                    let _ = t.set_pointer_capture(e.pointer_id());
                }
                e.prevent_default();
                self.dragging = true;
            }
            Msg::DragMove(e) => {
                if !self.dragging {
                    return false;
                }
                let Some(ws) = self.workspace.cast::<Element>() else {
                    return false;
                };
                let rect = ws.get_bounding_client_rect();
                if rect.width() <= 0.0 {
                    return false;
                }
                let pct = (f64::from(e.client_x()) - rect.left()) / rect.width() * 100.0;
                self.split = pct.clamp(20.0, 80.0);
            }
            Msg::DragEnd => self.dragging = false,
            Msg::SplitKey(e) => {
                let delta = match e.key().as_str() {
                    "ArrowLeft" => -5.0,
                    "ArrowRight" => 5.0,
                    "Home" => -100.0,
                    "End" => 100.0,
                    _ => return false,
                };
                e.prevent_default();
                self.split = (self.split + delta).clamp(20.0, 80.0);
            }
        }
        true
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first: bool) {
        if std::mem::take(&mut self.focus_heading) {
            if let Some(h) = self.step_heading.cast::<HtmlElement>() {
                let _ = h.focus();
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let nav = ctx.link().context::<Nav>(Callback::noop()).map(|(n, _)| n);
        let nav = nav.expect("Nav context");
        let title = match &self.lesson {
            LessonLoad::Loaded(l) => l.summary.title.clone(),
            LessonLoad::NotFound => "Lesson not found".into(),
            _ => String::new(),
        };
        let back = html! {
            <a class="brand back" href="/" onclick={link_to(&nav, Route::Catalog)}>{ "← Lessons" }</a>
        };
        if let LessonLoad::NotFound = self.lesson {
            return self.screen(back, "Lesson not found", html! {
                <p>{ format!("There is no lesson called “{}”.", ctx.props().id) }</p>
            }, html! {
                <a class="btn primary" href="/" onclick={link_to(&nav, Route::Catalog)}>{ "See all lessons" }</a>
            });
        }
        if let LessonLoad::Failed(e) = &self.lesson {
            if !matches!(self.phase, Phase::Active(_)) {
                return self.screen(
                    back,
                    "The lesson could not be loaded",
                    html! { <p>{ e.clone() }</p> },
                    html! { <button class="btn primary" onclick={Callback::from(|_| {
                        let _ = dom::window().location().reload();
                    })}>{ "Reload" }</button> },
                );
            }
        }
        let start_button = |label: &str| {
            html! {
                <button class="btn primary" data-testid="start"
                        onclick={ctx.link().callback(|_| Msg::Start)}>{ label.to_owned() }</button>
            }
        };
        match &self.phase {
            Phase::Loading | Phase::Rejoining(_) => self.screen(
                back,
                if title.is_empty() { "Loading…" } else { &title },
                html! { <p class="muted" role="status">{
                    if matches!(self.phase, Phase::Rejoining(_)) { "Rejoining your session…" } else { "Loading the lesson…" }
                }</p> },
                html! {},
            ),
            Phase::Idle => {
                let (summary, intro) = match &self.lesson {
                    LessonLoad::Loaded(l) => (l.summary.summary.clone(), l.intro.clone()),
                    _ => Default::default(),
                };
                self.screen(back, &title, html! {
                    <>
                    <p class="lead">{ summary }</p>
                    if !intro.is_empty() {
                        <Markdown md={intro} on_run={Callback::noop()} />
                    }
                    </>
                }, start_button("Start"))
            }
            Phase::Starting => self.screen(
                back,
                &title,
                html! { <p class="muted" role="status"><span class="spinner" aria-hidden="true"></span>{ "Starting your machines…" }</p> },
                html! {},
            ),
            Phase::Full { message, retry_at } => {
                let secs = ((retry_at - self.now) / 1000.0).ceil().max(0.0) as i64;
                self.screen(back, "The playground is full", html! {
                    <>
                    <p>{ message.clone() }</p>
                    <p role="status">{ format!("Trying again in {secs} s…") }</p>
                    </>
                }, start_button("Try again now"))
            }
            Phase::Ended(reason) => self.screen(
                back,
                "This session has ended",
                html! { <p>{ reason.clone() }</p> },
                html! {
                    <>
                    { start_button("Start a new session") }
                    <a class="btn" href="/" onclick={link_to(&nav, Route::Catalog)}>{ "Back to lessons" }</a>
                    </>
                },
            ),
            Phase::Error(e) => self.screen(
                back,
                "Something went wrong",
                html! { <p role="alert">{ e.clone() }</p> },
                html! {
                    <>
                    { start_button("Try again") }
                    <a class="btn" href="/" onclick={link_to(&nav, Route::Catalog)}>{ "Back to lessons" }</a>
                    </>
                },
            ),
            Phase::Active(s) => self.workspace_view(ctx, s, back, &title),
        }
    }
}

impl LessonPage {
    /// A full-page message with actions.
    fn screen(&self, back: Html, heading: &str, body: Html, actions: Html) -> Html {
        html! {
            <>
            <header class="topbar">{ back }</header>
            <main id="main" class="page narrow screen">
                <h1>{ heading.to_owned() }</h1>
                { body }
                <div class="actions">{ actions }</div>
            </main>
            </>
        }
    }

    fn workspace_view(
        &self,
        ctx: &Context<Self>,
        s: &CreatedSession,
        back: Html,
        title: &str,
    ) -> Html {
        let link = ctx.link();
        let left = self.secs_left().unwrap_or(0);
        let warn = left <= timefmt::WARN_SECS;
        let clock = html! {
            <div class={classes!("clock", warn.then_some("warn"))} role="timer"
                 aria-label={format!("Time left: {}", timefmt::describe_left(left))}>
                { timefmt::format_left(left) }<span class="clock-unit">{ " left" }</span>
            </div>
        };
        let nodes: Vec<String> = s.nodes.iter().map(|n| n.name.clone()).collect();
        let tabs = html! {
            <div class="tabs" role="tablist" aria-label="Machines" onkeydown={link.callback(Msg::TabKey)}>
                { for nodes.iter().map(|n| {
                    let active = *n == self.tab;
                    let name = n.clone();
                    html! {
                        <button role="tab" class={classes!("tab", active.then_some("active"))}
                                id={format!("tab-{n}")} aria-selected={active.to_string()}
                                aria-controls={format!("panel-{n}")} tabindex={if active { "0" } else { "-1" }}
                                data-testid="node-tab" data-node={n.clone()}
                                onclick={link.callback(move |_| Msg::Tab(name.clone()))}>{ n.clone() }</button>
                    }
                }) }
            </div>
        };
        let terminals = html! {
            { for nodes.iter().map(|n| html! {
                <Terminal key={format!("{}-{n}", s.id)} session={AttrValue::from(s.id.clone())}
                          token={AttrValue::from(s.token.clone())} node={AttrValue::from(n.clone())}
                          active={*n == self.tab}
                          on_ready={link.callback(|(n, h)| Msg::TermReady(n, h))}
                          on_event={link.callback(Msg::Term)} />
            }) }
        };
        let notices = html! {
            <div class="toasts" aria-live="polite">
                { for self.notices.iter().map(|(id, level, msg)| {
                    let id = *id;
                    html! {
                        <div class={classes!("toast", matches!(level, NoticeLevel::Warning).then_some("warn"))} role="status">
                            <span>{ msg.clone() }</span>
                            <button class="btn small" aria-label="Dismiss" onclick={link.callback(move |_| Msg::Dismiss(id))}>{ "×" }</button>
                        </div>
                    }
                }) }
            </div>
        };
        html! {
            <div class="lesson-layout">
                <header class="topbar session-bar">
                    { back }
                    <span class="lesson-title" title={title.to_owned()}>{ title.to_owned() }</span>
                    <span class="spacer"></span>
                    { clock }
                    <button class="btn" data-testid="restart-node" title="Restart this machine: its programs stop, its files stay"
                            onclick={link.callback(|_| Msg::Restart)}>{ format!("Restart {}", self.tab) }</button>
                    <button class="btn danger" onclick={link.callback(|_| Msg::End)}>{ "End session" }</button>
                </header>
                if warn && left > 0 {
                    <div class="banner warn" role="alert">
                        { format!("Your session ends in {}. Anything on its machines is removed then.", timefmt::format_left(left)) }
                    </div>
                }
                <main id="main" class="workspace" ref={self.workspace.clone()}
                      style={format!("--split: {:.1}%", self.split)}>
                    <section class="steps-pane" aria-label="Lesson steps">
                        { self.steps_view(ctx, s) }
                    </section>
                    <div class={classes!("divider", self.dragging.then_some("dragging"))}
                         role="separator" aria-orientation="vertical" aria-label="Resize the steps and terminal panels"
                         aria-valuenow={format!("{:.0}", self.split)} aria-valuemin="20" aria-valuemax="80"
                         tabindex="0"
                         onpointerdown={link.callback(Msg::DragStart)}
                         onpointermove={link.callback(Msg::DragMove)}
                         onpointerup={link.callback(|_| Msg::DragEnd)}
                         onpointercancel={link.callback(|_| Msg::DragEnd)}
                         onkeydown={link.callback(Msg::SplitKey)}></div>
                    <section class="terminals-pane" aria-label="Terminals">
                        { tabs }
                        <div class="term-stack">{ terminals }</div>
                    </section>
                </main>
                { notices }
            </div>
        }
    }

    fn steps_view(&self, ctx: &Context<Self>, s: &CreatedSession) -> Html {
        let link = ctx.link();
        let LessonLoad::Loaded(lesson) = &self.lesson else {
            return html! { <p class="muted">{ "Loading the lesson…" }</p> };
        };
        let session = Some(AttrValue::from(s.id.clone()));
        let on_run = link.callback(Msg::Run);
        let steps = &lesson.steps;
        if steps.is_empty() {
            return html! {
                <div class="step">
                    <h1 class="step-title">{ lesson.summary.title.clone() }</h1>
                    <p class="lead">{ lesson.summary.summary.clone() }</p>
                    if !lesson.intro.is_empty() {
                        <Markdown md={lesson.intro.clone()} session={session.clone()} on_run={on_run.clone()} />
                    }
                    <p class="muted">{ "This lesson has no steps: the terminal is yours to explore." }</p>
                </div>
            };
        }
        let current = self.progress.current_step.min(steps.len());
        let dots = html! {
            <nav class="step-nav" aria-label="Steps">
                <p class="muted">{ progress::summary(&self.progress, steps.len()) }</p>
                <ol class="dots">
                    { for steps.iter().enumerate().map(|(i, st)| {
                        let passed = progress::is_passed(&self.progress, i);
                        html! {
                            <li>
                                <button class={classes!("dot", passed.then_some("passed"), (i == current).then_some("current"))}
                                        aria-current={(i == current).then_some("step")}
                                        aria-label={format!("Step {}: {}{}", i + 1, st.title, if passed { " (done)" } else { "" })}
                                        title={st.title.clone()}
                                        onclick={link.callback(move |_| Msg::Go(i))}>
                                    { if passed { "✓".to_owned() } else { (i + 1).to_string() } }
                                </button>
                            </li>
                        }
                    }) }
                </ol>
            </nav>
        };
        let body = if current >= steps.len() {
            html! {
                <article class="step">
                    <h2 class="step-title" tabindex="-1" ref={self.step_heading.clone()}>{ "Finished!" }</h2>
                    <p>{ format!("You completed {}.", progress::summary(&self.progress, steps.len())) }</p>
                    if !lesson.finish.is_empty() {
                        <Markdown md={lesson.finish.clone()} session={session.clone()} on_run={on_run.clone()} />
                    }
                    <div class="step-buttons">
                        <button class="btn" onclick={link.callback(move |_| Msg::Go(current.saturating_sub(1)))}>{ "← Previous" }</button>
                    </div>
                </article>
            }
        } else {
            let step = &steps[current];
            let check = match self.checks.get(&current) {
                None => html! {},
                Some(CheckState::Running) => {
                    html! { <p class="check-result" role="status">{ "Checking…" }</p> }
                }
                Some(CheckState::Failed(e)) => {
                    html! { <p class="check-result fail" role="status">{ e.clone() }</p> }
                }
                Some(CheckState::Done(r)) => html! {
                    <div class={classes!("check-result", if r.passed { "pass" } else { "fail" })} role="status" data-testid="check-result" data-passed={r.passed.to_string()}>
                        <strong>{ if r.passed { "✓ Passed" } else { "✗ Not yet" } }</strong>
                        if !r.output.trim().is_empty() {
                            <pre>{ r.output.clone() }</pre>
                        }
                    </div>
                },
            };
            let last = current + 1 == steps.len();
            html! {
                <article class="step" key={current}>
                    <h2 class="step-title" tabindex="-1" ref={self.step_heading.clone()}>
                        <span class="muted">{ format!("Step {} of {} · ", current + 1, steps.len()) }</span>
                        { step.title.clone() }
                        if progress::is_passed(&self.progress, current) {
                            <span class="badge level-beginner done">{ "✓ done" }</span>
                        }
                    </h2>
                    if current == 0 && !lesson.intro.is_empty() {
                        <Markdown md={lesson.intro.clone()} session={session.clone()} on_run={on_run.clone()} class="intro" />
                    }
                    <Markdown md={step.markdown.clone()} session={session.clone()} on_run={on_run.clone()} />
                    if let Some(hint) = &step.hint {
                        <details class="fold"><summary>{ "Hint" }</summary>
                            <Markdown md={hint.clone()} session={session.clone()} on_run={on_run.clone()} />
                        </details>
                    }
                    if let Some(solution) = &step.solution {
                        <details class="fold"><summary>{ "Solution" }</summary>
                            <Markdown md={solution.clone()} session={session.clone()} on_run={on_run.clone()} />
                        </details>
                    }
                    if step.has_check {
                        <div class="check">
                            <button class="btn primary" data-testid="check"
                                    disabled={matches!(self.checks.get(&current), Some(CheckState::Running))}
                                    onclick={link.callback(move |_| Msg::Check(current))}>{ "Check" }</button>
                            { check }
                        </div>
                    }
                    <div class="step-buttons">
                        <button class="btn" disabled={current == 0}
                                onclick={link.callback(move |_| Msg::Go(current.saturating_sub(1)))}>{ "← Previous" }</button>
                        <button class="btn primary-outline" onclick={link.callback(|_| Msg::Next)}>
                            { if last { "Finish →" } else { "Next →" } }
                        </button>
                    </div>
                </article>
            }
        };
        html! { <>{ dots }{ body }</> }
    }
}
