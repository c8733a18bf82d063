//! One learner of a workshop as the instructor's grid shows them: name,
//! steps passed ("2/5") and a strip with one mark per step, last activity,
//! whether their terminals are open, and Watch and End.

use protocol::admin::Learner;
use yew::prelude::*;

use crate::timefmt;
use crate::workshop::{passed_label, step_strip, StepMark};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub learner: Learner,
    /// The lesson's step titles (empty until the lesson has loaded).
    pub steps: Vec<AttrValue>,
    /// Now, in ms since the epoch (for "active 12 s ago").
    pub now: f64,
    /// This learner's terminals are the ones being watched.
    pub watched: bool,
    pub ending: bool,
    pub on_watch: Callback<Learner>,
    pub on_end: Callback<Learner>,
}

#[function_component(LearnerCard)]
pub fn learner_card(p: &Props) -> Html {
    let l = &p.learner;
    let steps = p.steps.len();
    let strip = step_strip(&l.passed_steps, l.current_step, steps);
    let idle = timefmt::parse_rfc3339_ms(&l.last_active_at)
        .map(|t| ((p.now - t as f64) / 1000.0).floor() as i64)
        .unwrap_or(0);
    let passed = l.passed_steps.iter().filter(|&&n| n < steps).count();
    let done = steps > 0 && passed == steps;
    let at = if l.current_step >= steps && steps > 0 {
        "finished".to_owned()
    } else {
        format!("on step {}", l.current_step + 1)
    };
    let (watch, end) = {
        let (l1, l2) = (l.clone(), l.clone());
        (
            p.on_watch.reform(move |_| l1.clone()),
            p.on_end.reform(move |_| l2.clone()),
        )
    };
    html! {
        <li class={classes!("learner", done.then_some("done"), p.watched.then_some("watched"))}
            data-testid="learner-row" data-session={l.session.clone()} data-name={l.name.clone()}
            data-passed={passed.to_string()}>
            <div class="learner-head">
                <span class={classes!("presence", (l.connected > 0).then_some("online"))}
                      title={if l.connected > 0 { "Terminal open" } else { "No terminal open" }}
                      aria-hidden="true"></span>
                <strong class="learner-name">{ l.name.clone() }</strong>
                if steps > 0 {
                    <span class="passed" data-testid="learner-passed"
                          aria-label={format!("{passed} of {steps} steps passed")}>{ passed_label(&l.passed_steps, steps) }</span>
                }
            </div>
            if steps > 0 {
                <ol class="strip" aria-label={format!("Steps: {passed} of {steps} passed, {at}")}>
                    { for strip.iter().enumerate().map(|(n, mark)| {
                        let (class, state) = match mark {
                            StepMark::Passed => ("passed", "passed"),
                            StepMark::Current => ("current", "current step"),
                            StepMark::Todo => ("todo", "not passed"),
                        };
                        let title = format!("Step {}: {} ({state})", n + 1, p.steps[n]);
                        html! { <li class={classes!("mark", class)} title={title.clone()}><span class="sr-only">{ title }</span></li> }
                    }) }
                </ol>
            }
            <p class="learner-meta muted">
                { format!("{at} · active {}", timefmt::ago(idle)) }<br />
                { if l.connected > 0 { "online" } else { "offline (no terminal open)" } }
            </p>
            <div class="learner-actions">
                <button class="btn" data-testid="watch" onclick={watch} aria-pressed={p.watched.to_string()}
                        aria-label={format!("Watch {}'s terminals", l.name)}>{ "Watch" }</button>
                <button class="btn danger" data-testid="end-learner" onclick={end} disabled={p.ending}
                        aria-label={format!("End {}'s session", l.name)}
                        title="End this learner's session: their machines are removed">
                    { if p.ending { "Ending…" } else { "End" } }
                </button>
            </div>
        </li>
    }
}
