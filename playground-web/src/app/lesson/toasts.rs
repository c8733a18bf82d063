//! Short notices over the workspace (a node restarted, a terminal's notice,
//! a Run for a machine the session does not have), newest last, at most four.

use protocol::terminal::NoticeLevel;
use yew::prelude::*;

const MAX_SHOWN: usize = 4;

#[derive(Default)]
pub struct Toasts {
    shown: Vec<(u32, NoticeLevel, String)>,
    last_id: u32,
}

impl Toasts {
    pub fn push(&mut self, level: NoticeLevel, message: String) {
        self.last_id += 1;
        self.shown.push((self.last_id, level, message));
        if self.shown.len() > MAX_SHOWN {
            self.shown.remove(0);
        }
    }

    pub fn dismiss(&mut self, id: u32) {
        self.shown.retain(|(i, _, _)| *i != id);
    }

    pub fn view(&self, on_dismiss: &Callback<u32>) -> Html {
        html! {
            <div class="toasts" aria-live="polite">
                { for self.shown.iter().map(|(id, level, msg)| {
                    let id = *id;
                    html! {
                        <div class={classes!("toast", matches!(level, NoticeLevel::Warning).then_some("warn"))} role="status">
                            <span>{ msg.clone() }</span>
                            <button class="btn small" aria-label="Dismiss" onclick={on_dismiss.reform(move |_| id)}>{ "×" }</button>
                        </div>
                    }
                }) }
            </div>
        }
    }
}
