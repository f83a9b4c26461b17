// guest.rs - a WASI test program in Rust, built at build time with Debian's
// rustc --target wasm32-wasi (tests/data/wasm/CMakeLists.txt). argv[1] picks
// the behaviour; tests/integration/test_wasm.py checks each one.
use std::io::{Read, Write};

// A volatile read hides a value from the optimiser (rustc 1.63 has no black_box).
fn opaque(v: u64) -> u64 {
    unsafe { std::ptr::read_volatile(&v) }
}

fn depth(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // a volatile read after the call keeps the recursion real (no loop)
    let r = depth(opaque(n - 1));
    r + opaque(1)
}

// Recursion with 4 KiB frames: the 1 MiB stack in linear memory (at its
// bottom, rustc's layout) runs out long before the engine's call depth.
static mut FRAME_SINK: usize = 0;

fn stack(n: u64) -> u64 {
    let mut frame = [0u8; 4096];
    // the frame's address escapes, so the whole array stays on the stack
    unsafe { std::ptr::write_volatile(&mut FRAME_SINK, frame.as_mut_ptr() as usize) };
    unsafe { std::ptr::write_volatile(&mut frame[4095], n as u8) };
    if n == 0 {
        return 0;
    }
    let r = stack(opaque(n - 1));
    r + unsafe { std::ptr::read_volatile(&frame[4095]) } as u64 - (n as u8) as u64 + 1
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(|s| s.as_str()).unwrap_or("echo");
    let mut out = std::io::stdout();
    match mode {
        "echo" => {
            let mut input = Vec::new();
            std::io::stdin().read_to_end(&mut input).unwrap();
            out.write_all(&input).unwrap();
            eprintln!("rust echo: {} bytes", input.len());
        }
        "env" => {
            let g = std::env::var("GREETING").unwrap_or_else(|_| "(unset)".into());
            print!("{{\"argc\":{},\"greeting\":\"{}\"}}", args.len(), g);
        }
        "exit" => std::process::exit(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0)),
        "panic" => panic!("rust guest panicked on purpose"),
        "grow" => {
            // allocate 1 MiB blocks until the allocator fails: Rust aborts (a trap)
            let mut v: Vec<Vec<u8>> = Vec::new();
            loop {
                v.push(vec![1u8; 1 << 20]);
            }
        }
        "depth" => {
            let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
            print!("{}", depth(n));
        }
        "stack" => {
            let n = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100000);
            print!("{}", stack(n));
        }
        "spin" => loop {
            opaque(0);
        },
        "time" => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            print!("{}", if t.as_secs() > 1_600_000_000 { "true" } else { "false" });
        }
        _ => {
            eprintln!("unknown mode '{}'", mode);
            std::process::exit(64);
        }
    }
    out.flush().unwrap();
}
