//! The module layering of `src/`, kept true: every `crate::` reference in code (comments
//! aside) points to a module in a lower layer, or within its own module. A lower module that
//! imports a higher one fails here, naming the file, line and both modules.

use std::path::Path;

/// Lowest first. A module may use any module of a lower layer, never one of its own layer or
/// above. Keep `src/lib.rs`'s layout in the same order.
const LAYERS: &[&[&str]] = &[
    // Leaves: no crate imports, or only of each other's lower kin.
    &[
        "civil",
        "clock",
        "secret",
        "form",
        "path",
        "budget",
        "send_timeout",
        "redis_link",
        "tls",
        "error",
    ],
    // What a scheme is, what hookgate answers itself, telemetry, bounded body reading.
    &["scheme", "response", "access_log", "metrics", "body"],
    // The engine and the replay stores.
    &["verify", "replay"],
    // Routes, and the handshakes a route answers.
    &["route", "handshake"],
    // The upstream client, and the client that fetches signing keys.
    &["proxy", "keyfetch"],
    // Durable delivery's store and schedule.
    &["queue"],
    // The file's shape, validated into everything above.
    &["config"],
    // The request path.
    &["gateway"],
    // Durable deliveries, from the queue to the app.
    &["deliver"],
    // Listeners.
    &["server", "admin", "control"],
    // The command line, and the wiring main and the tests share.
    &["cli", "app"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_depend_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.iter().next().unwrap().to_string_lossy();
        let module = top.trim_end_matches(".rs");
        if matches!(module, "lib" | "main") {
            continue;
        }
        let Some(own) = layer(module) else {
            problems.push(format!(
                "src/{}: module `{module}` is in no layer of LAYERS",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                let used: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if used.is_empty() || used == module {
                    continue;
                }
                match layer(&used) {
                    Some(theirs) if theirs < own => {}
                    Some(_) => problems.push(format!(
                        "src/{}:{}: `{module}` (layer {own}) uses `{used}`, which is not below it",
                        relative.display(),
                        n + 1
                    )),
                    None => problems.push(format!(
                        "src/{}:{}: `{used}` is in no layer of LAYERS",
                        relative.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
    // Every module in lib.rs is placed.
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "))
        {
            let name = name.trim_end_matches(';');
            assert!(
                layer(name).is_some(),
                "lib.rs declares `{name}`, which is in no layer"
            );
        }
    }
}
