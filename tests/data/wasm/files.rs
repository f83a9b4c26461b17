// SPDX-License-Identifier: MIT
//
// files.rs - a WASI program in Rust that reaches for the file system as
// ordinary programs do (std::fs). Built at build time with Debian's rustc
// --target wasm32-wasi (tests/data/wasm/CMakeLists.txt). A job has no
// preopened directory: every call must fail with an error the program can
// print, and it goes on. Prints one JSON object: call -> "ok" or the error.
use std::io::Write;

fn outcome<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string().replace('\\', "\\\\").replace('"', "\\\""),
    }
}

fn main() {
    let calls: Vec<(&str, String)> = vec![
        ("open", outcome(std::fs::File::open("data.txt"))),
        ("create", outcome(std::fs::File::create("/tmp/out.txt"))),
        ("read_dir", outcome(std::fs::read_dir("."))),
        ("create_dir", outcome(std::fs::create_dir("made"))),
        ("remove_file", outcome(std::fs::remove_file("gone"))),
        ("metadata", outcome(std::fs::metadata("/"))),
    ];
    let body: Vec<String> = calls
        .iter()
        .map(|(k, v)| format!("\"{}\":\"{}\"", k, v))
        .collect();
    let mut out = std::io::stdout();
    write!(out, "{{{}}}", body.join(",")).unwrap();
    out.flush().unwrap();
}
