//! The steps pane: the step dots with the progress summary, the current step's
//! text (with Run/Copy blocks), hint and solution, its Check, Previous/Next,
//! and the "Finished!" page. It owns the check results; the progress is the
//! page's, which it changes through `on_progress`.

use std::collections::HashMap;
use std::rc::Rc;

use protocol::api::{CheckResult, LessonDetail, Progress};
use web_sys::HtmlElement;
use yew::prelude::*;

use super::super::api::{self, ApiError};
use super::super::markdown_view::Markdown;
use crate::markdown::CodeBlock;
use crate::progress;

#[derive(Properties, PartialEq, Clone)]
pub struct Props {
    pub lesson: Rc<LessonDetail>,
    pub session: AttrValue,
    pub token: AttrValue,
    /// Opens the session's previews only: what `preview:` links carry.
    pub preview_token: AttrValue,
    /// Where previews are served (their own origin): what `preview:` links point to.
    pub preview_origin: AttrValue,
    pub progress: Progress,
    /// The learner moved or passed a step: the page keeps and saves this.
    pub on_progress: Callback<Progress>,
    /// A Run button was pressed.
    pub on_run: Callback<CodeBlock>,
    /// The lesson is read without a session (it has no machines).
    #[prop_or_default]
    pub reading: bool,
}

enum CheckState {
    Running,
    Done(CheckResult),
    Failed(String),
}

pub enum Msg {
    Go(usize),
    Next,
    Check(usize),
    Checked(usize, Result<CheckResult, ApiError>),
}

pub struct StepsPane {
    checks: HashMap<usize, CheckState>,
    step_heading: NodeRef,
    /// Focus the step's heading after the next render (the learner moved).
    focus_heading: bool,
}

impl StepsPane {
    /// Moves to step `n` (the end, "finished", at most) with `progress`.
    /// Renders at once only if the progress stays the same; otherwise the
    /// page's new progress renders this pane.
    fn go(&mut self, ctx: &Context<Self>, mut progress: Progress, n: usize) -> bool {
        progress.current_step = n.min(ctx.props().lesson.steps.len());
        self.focus_heading = true;
        let unchanged = progress == ctx.props().progress;
        ctx.props().on_progress.emit(progress);
        unchanged
    }

    fn check_view(&self, current: usize) -> Html {
        match self.checks.get(&current) {
            None => html! {},
            Some(CheckState::Running) => {
                html! { <p class="check-result" role="status">{ "Checking…" }</p> }
            }
            Some(CheckState::Failed(e)) => {
                // Marked like a result, so a test sees why instead of waiting.
                html! { <p class="check-result fail" role="status" data-testid="check-result" data-passed="false" data-error="true">{ e.clone() }</p> }
            }
            Some(CheckState::Done(r)) => html! {
                <div class={classes!("check-result", if r.passed { "pass" } else { "fail" })} role="status" data-testid="check-result" data-passed={r.passed.to_string()}>
                    <strong>{ if r.passed { "✓ Passed" } else { "✗ Not yet" } }</strong>
                    if !r.output.trim().is_empty() {
                        <pre>{ r.output.clone() }</pre>
                    }
                </div>
            },
        }
    }

    fn dots_view(&self, ctx: &Context<Self>, current: usize) -> Html {
        let p = ctx.props();
        let steps = &p.lesson.steps;
        html! {
            <nav class="step-nav" aria-label="Steps">
                <p class="muted">{ progress::summary(&p.progress, steps.len()) }</p>
                <ol class="dots">
                    { for steps.iter().enumerate().map(|(i, st)| {
                        let passed = progress::is_passed(&p.progress, i);
                        html! {
                            <li>
                                <button class={classes!("dot", passed.then_some("passed"), (i == current).then_some("current"))}
                                        aria-current={(i == current).then_some("step")}
                                        aria-label={format!("Step {}: {}{}", i + 1, st.title, if passed { " (done)" } else { "" })}
                                        title={st.title.clone()}
                                        onclick={ctx.link().callback(move |_| Msg::Go(i))}>
                                    { if passed { "✓".to_owned() } else { (i + 1).to_string() } }
                                </button>
                            </li>
                        }
                    }) }
                </ol>
            </nav>
        }
    }

    fn finished_view(&self, ctx: &Context<Self>, current: usize) -> Html {
        let p = ctx.props();
        let lesson = &p.lesson;
        let session = Some(p.session.clone());
        html! {
            <article class="step">
                <h2 class="step-title" tabindex="-1" ref={self.step_heading.clone()}>{ "Finished!" }</h2>
                <p>{ format!("You completed {}.", progress::summary(&p.progress, lesson.steps.len())) }</p>
                if !lesson.finish.is_empty() {
                    <Markdown md={lesson.finish.clone()} session={session.clone()} preview_token={p.preview_token.clone()} preview_origin={p.preview_origin.clone()} on_run={p.on_run.clone()} />
                }
                <div class="step-buttons">
                    <button class="btn" onclick={ctx.link().callback(move |_| Msg::Go(current.saturating_sub(1)))}>{ "← Previous" }</button>
                </div>
            </article>
        }
    }

    fn step_view(&self, ctx: &Context<Self>, current: usize) -> Html {
        let p = ctx.props();
        let link = ctx.link();
        let (lesson, on_run) = (&p.lesson, &p.on_run);
        let steps = &lesson.steps;
        let session = Some(p.session.clone());
        let step = &steps[current];
        let last = current + 1 == steps.len();
        html! {
            <article class="step" key={current}>
                <h2 class="step-title" tabindex="-1" ref={self.step_heading.clone()}>
                    <span class="muted">{ format!("Step {} of {} · ", current + 1, steps.len()) }</span>
                    { step.title.clone() }
                    if progress::is_passed(&p.progress, current) {
                        <span class="badge level-beginner done">{ "✓ done" }</span>
                    }
                </h2>
                if current == 0 && !lesson.intro.is_empty() {
                    <Markdown md={lesson.intro.clone()} session={session.clone()} preview_token={p.preview_token.clone()} preview_origin={p.preview_origin.clone()} on_run={on_run.clone()} class="intro" />
                }
                <Markdown md={step.markdown.clone()} session={session.clone()} preview_token={p.preview_token.clone()} preview_origin={p.preview_origin.clone()} on_run={on_run.clone()} />
                if let Some(hint) = &step.hint {
                    <details class="fold"><summary>{ "Hint" }</summary>
                        <Markdown md={hint.clone()} session={session.clone()} preview_token={p.preview_token.clone()} preview_origin={p.preview_origin.clone()} on_run={on_run.clone()} />
                    </details>
                }
                if let Some(solution) = &step.solution {
                    <details class="fold"><summary>{ "Solution" }</summary>
                        <Markdown md={solution.clone()} session={session.clone()} preview_token={p.preview_token.clone()} preview_origin={p.preview_origin.clone()} on_run={on_run.clone()} />
                    </details>
                }
                if step.has_check {
                    <div class="check">
                        <button class="btn primary" data-testid="check"
                                disabled={matches!(self.checks.get(&current), Some(CheckState::Running))}
                                onclick={link.callback(move |_| Msg::Check(current))}>{ "Check" }</button>
                        { self.check_view(current) }
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
    }
}

impl Component for StepsPane {
    type Message = Msg;
    type Properties = Props;

    fn create(_ctx: &Context<Self>) -> Self {
        StepsPane {
            checks: HashMap::new(),
            step_heading: NodeRef::default(),
            focus_heading: false,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        let p = ctx.props();
        match msg {
            Msg::Go(n) => self.go(ctx, p.progress.clone(), n),
            Msg::Next => {
                let mut progress = p.progress.clone();
                let n = progress.current_step;
                if let Some(step) = p.lesson.steps.get(n) {
                    if !step.has_check {
                        progress::mark_passed(&mut progress, n);
                    }
                }
                self.go(ctx, progress, n + 1)
            }
            Msg::Check(n) => {
                let (id, token) = (p.session.clone(), p.token.clone());
                self.checks.insert(n, CheckState::Running);
                ctx.link().send_future(async move {
                    Msg::Checked(n, api::check_step(&id, &token, n).await)
                });
                true
            }
            Msg::Checked(n, Ok(result)) => {
                if result.passed {
                    let mut progress = p.progress.clone();
                    progress::mark_passed(&mut progress, n);
                    p.on_progress.emit(progress);
                }
                self.checks.insert(n, CheckState::Done(result));
                true
            }
            Msg::Checked(n, Err(e)) => {
                self.checks.insert(n, CheckState::Failed(e.message()));
                true
            }
        }
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first: bool) {
        if std::mem::take(&mut self.focus_heading) {
            if let Some(h) = self.step_heading.cast::<HtmlElement>() {
                let _ = h.focus();
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let p = ctx.props();
        let lesson = &p.lesson;
        let steps = &lesson.steps;
        if steps.is_empty() {
            return html! {
                <div class="step">
                    <h1 class="step-title">{ lesson.summary.title.clone() }</h1>
                    <p class="lead">{ lesson.summary.summary.clone() }</p>
                    if !lesson.intro.is_empty() {
                        <Markdown md={lesson.intro.clone()} session={Some(p.session.clone())} preview_token={p.preview_token.clone()} preview_origin={p.preview_origin.clone()} on_run={p.on_run.clone()} />
                    }
                    <p class="muted">{ if p.reading { "This lesson is text only." } else { "This lesson has no steps: the terminal is yours to explore." } }</p>
                </div>
            };
        }
        let current = p.progress.current_step.min(steps.len());
        let body = if current >= steps.len() {
            self.finished_view(ctx, current)
        } else {
            self.step_view(ctx, current)
        };
        html! { <>{ self.dots_view(ctx, current) }{ body }</> }
    }
}
