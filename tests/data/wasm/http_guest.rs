// SPDX-License-Identifier: MIT
// http_guest.rs - the Rust counterpart of http_guest.c: sealrun's HTTP
// imports (include/sealrun/guest/sealrun_http.h) from Rust, built with
// Debian's rustc for wasm32-wasi. argv: METHOD URL; prints
// {"rc":N,"len":L,"body":"..."} or {"rc":N,"error":"..."}.
use std::env;

#[link(wasm_import_module = "sealrun")]
extern "C" {
    fn http_request(method: *const u8, method_len: u32, url: *const u8, url_len: u32,
                    headers: *const u8, headers_len: u32, body: *const u8, body_len: u32,
                    timeout_ms: u32) -> i32;
    fn http_response_body(buf: *mut u8, cap: u32) -> i32;
    fn http_error(buf: *mut u8, cap: u32) -> i32;
}

fn main() {
    let args: Vec<String> = env::args().collect();
    let (method, url) = (args[1].as_bytes(), args[2].as_bytes());
    let headers = b"Accept: text/plain\n";
    let rc = unsafe {
        http_request(method.as_ptr(), method.len() as u32, url.as_ptr(), url.len() as u32,
                     headers.as_ptr(), headers.len() as u32, std::ptr::null(), 0, 0)
    };
    if rc < 0 {
        let mut msg = vec![0u8; 1024];
        let n = unsafe { http_error(msg.as_mut_ptr(), msg.len() as u32) };
        msg.truncate(if n > 0 && (n as usize) <= 1024 { n as usize } else { 0 });
        let text = String::from_utf8_lossy(&msg).replace('"', "'").replace('\\', "'");
        print!("{{\"rc\":{},\"error\":\"{}\"}}", rc, text);
        return;
    }
    let len = unsafe { http_response_body(std::ptr::null_mut(), 0) };
    let mut body = vec![0u8; len.max(0) as usize];
    let got = unsafe { http_response_body(body.as_mut_ptr(), body.len() as u32) };
    let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).replace('"', "'");
    print!("{{\"rc\":{},\"len\":{},\"body\":\"{}\"}}", rc, got, shown);
}
