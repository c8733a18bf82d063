//! Entry point of the wasm bundle (Trunk builds this binary).

fn main() {
    #[cfg(target_arch = "wasm32")]
    playground_web::start();
}
