;; SPDX-License-Identifier: MIT
;; bench/service/trivial.wat - the smallest useful WASI job: writes {"ok":1}
;; to stdout and returns. Used for the /execute throughput of WASM jobs.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"ok\":1}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))  ;; iovec.base
    (i32.store (i32.const 4) (i32.const 8))   ;; iovec.len
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
