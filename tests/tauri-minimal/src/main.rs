//! An empty Tauri window showing one static page: what any Tauri app costs before it
//! does anything. `cargo bench -p satchel-tests --bench desktop` compares Satchel to it.

fn main() {
    if let Err(e) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("tauri-minimal: {e}");
        std::process::exit(1);
    }
}
