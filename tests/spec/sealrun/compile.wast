;; SPDX-License-Identifier: MIT
;; compile.wast - sealrun's own spec-style tests of the one-pass compiler
;; (src/lib/wasm/wasm_compile.c): every peephole (compare-and-branch fusion,
;; i32.eqz inversion, constant operands, deferred local.get, direct writes to
;; locals) where it must fire and where it must not, and the slot rules of
;; branches with values, blocks with parameters, br_table and return.
;; Run by tests/spec (label spec) and checked against wabt's spectest-interp.

(module
  (func $inc (param i32) (result i32) local.get 0 i32.const 1 i32.add)

  ;; issue 9 item 7: a dropped compare must not be fused into the consumer
  ;; of the value below it
  (func (export "drop_br_if") (result i32)
    block
      i32.const 0 i32.const 1 i32.const 2 i32.lt_s drop
      br_if 0
      i32.const 7
      return
    end
    i32.const 9)
  (func (export "drop_if") (result i32)
    i32.const 0 i32.const 1 i32.const 2 i32.lt_s drop
    if (result i32) i32.const 7 else i32.const 9 end)
  (func (export "drop_eqz_br_if") (result i32)
    block
      i32.const 0 i32.const 1 i32.const 2 i32.lt_s drop
      i32.eqz
      br_if 0
      i32.const 7
      return
    end
    i32.const 9)
  (func (export "drop_i64_br_if") (result i32)
    block
      i32.const 0 i64.const 1 i64.const 2 i64.lt_s drop
      br_if 0
      i32.const 7
      return
    end
    i32.const 9)
  (func (export "drop_k_br_if") (param i32) (result i32)
    block
      i32.const 0 local.get 0 i32.const 5 i32.lt_s drop
      br_if 0
      i32.const 7
      return
    end
    i32.const 9)
  (func (export "drop_select") (param i32) (result i32)
    i32.const 10 i32.const 20
    local.get 0 i32.const 0 i32.const 1 i32.lt_s drop
    select)
  (func (export "drop_local_set") (result i32) (local i32)
    i32.const 7 i32.const 8 drop local.set 0 local.get 0)
  (func (export "drop_k_fold") (param i32) (result i32)
    local.get 0 i32.const 3 i32.const 100 drop i32.sub)

  ;; the same class: a compare consumed by something else, or cut off by a
  ;; label, must not be fused into a later br_if on the value below it
  (global $g (mut i32) (i32.const 0))
  (func $take (param i32))
  (func (export "cmp_global_set_br_if") (result i32)
    block
      i32.const 0 i32.const 1 i32.const 2 i32.lt_s global.set $g
      br_if 0
      global.get $g
      return
    end
    i32.const 9)
  (func (export "cmp_call_br_if") (result i32)
    block
      i32.const 0 i32.const 1 i32.const 2 i32.lt_s call $take
      br_if 0
      i32.const 7
      return
    end
    i32.const 9)
  (func (export "cmp_get_drop_br_if") (param i32) (result i32)
    block
      local.get 0 i32.const 2 i32.lt_s local.get 0 drop
      br_if 0
      i32.const 7
      return
    end
    i32.const 9)
  (func (export "dead_cmp_end_br_if") (result i32)
    block
      block (result i32)
        i32.const 0
        br 0
        i32.const 1 i32.const 2 i32.lt_s
      end
      br_if 0
      i32.const 7
      return
    end
    i32.const 9)
  (func (export "cmp_else_br_if") (param i32) (result i32)
    block
      local.get 0
      if (result i32)
        i32.const 1 i32.const 2 i32.lt_s
      else
        i32.const 0
      end
      br_if 0
      i32.const 7
      return
    end
    i32.const 9)
  (func (export "cmp_tee_drop_br_if") (result i32) (local i32)
    block
      i32.const 0 i32.const 1 i32.const 2 i32.lt_s local.tee 0 drop
      br_if 0
      local.get 0
      return
    end
    i32.const 9)

  ;; compare + br_if / if, i32.eqz inversion, constants at the edges
  (func (export "lt_s_eqz") (param i32 i32) (result i32)
    block
      local.get 0 local.get 1 i32.lt_s i32.eqz br_if 0
      i32.const 1
      return
    end
    i32.const 0)
  (func (export "lt_u_eqz_eqz") (param i32 i32) (result i32)
    block
      local.get 0 local.get 1 i32.lt_u i32.eqz i32.eqz br_if 0
      i32.const 0
      return
    end
    i32.const 1)
  (func (export "gt_u_tee") (param i32 i32) (result i32) (local i32)
    block
      local.get 0 local.get 1 i32.gt_u local.tee 2 br_if 0
      local.get 2 i32.const 10 i32.add
      return
    end
    local.get 2 i32.const 20 i32.add)
  (func (export "lt_u_minus1") (param i32) (result i32)
    block
      local.get 0 i32.const -1 i32.lt_u br_if 0
      i32.const 0
      return
    end
    i32.const 1)
  (func (export "ge_s_min") (param i32) (result i32)
    local.get 0 i32.const 0x80000000 i32.ge_s
    if (result i32) i32.const 1 else i32.const 0 end)
  (func (export "le_u_i64") (param i64 i64) (result i32)
    block
      local.get 0 local.get 1 i64.le_u br_if 0
      i32.const 0
      return
    end
    i32.const 1)
  (func (export "i64_gt_s_eqz_if") (param i64) (result i32)
    local.get 0 i64.const -1 i64.gt_s i32.eqz
    if (result i32) i32.const 1 else i32.const 0 end)
  (func (export "cmp_block_param") (param i32) (result i32)
    local.get 0 i32.const 3 i32.lt_s
    block (param i32)
      br_if 0
      i32.const 1
      return
    end
    i32.const 2)
  (func (export "cmp_if_sets_operand") (param i32) (result i32)
    local.get 0 i32.const 5 i32.lt_s
    if
      i32.const 100 local.set 0
    end
    local.get 0)
  (func (export "min_select") (param i32 i32) (result i32)
    local.get 0 local.get 1 local.get 0 local.get 1 i32.lt_s select)

  ;; constant operands: shift and rotate counts are taken modulo the width
  (func (export "shl33") (param i32) (result i32) local.get 0 i32.const 33 i32.shl)
  (func (export "shr_s32") (param i32) (result i32) local.get 0 i32.const 32 i32.shr_s)
  (func (export "shr_u_minus1") (param i32) (result i32) local.get 0 i32.const -1 i32.shr_u)
  (func (export "rotl65") (param i32) (result i32) local.get 0 i32.const 65 i32.rotl)
  (func (export "rotr_minus1") (param i32) (result i32) local.get 0 i32.const -1 i32.rotr)
  (func (export "i64_shl64") (param i64) (result i64) local.get 0 i64.const 64 i64.shl)
  (func (export "i64_shl65") (param i64) (result i64) local.get 0 i64.const 65 i64.shl)
  (func (export "i64_shr_s_minus1") (param i64) (result i64)
    local.get 0 i64.const -1 i64.shr_s)
  (func (export "i64_rotr127") (param i64) (result i64) local.get 0 i64.const 127 i64.rotr)
  (func (export "sub_min") (param i32) (result i32)
    local.get 0 i32.const 0x80000000 i32.sub)
  (func (export "mul_k_wrap") (param i64) (result i64)
    local.get 0 i64.const 0x7fffffffffffffff i64.mul)

  ;; deferred local.get and direct writes to locals
  (func (export "get_set_sub") (param i32) (result i32)
    local.get 0 i32.const 5 local.set 0 local.get 0 i32.sub)
  (func (export "get_tee_mul") (param i32) (result i32)
    local.get 0 local.get 0 i32.const 1 i32.add local.tee 0 i32.mul)
  (func (export "inc_in_place") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add local.set 0 local.get 0)
  (func (export "get_block_sets") (param i32) (result i32)
    local.get 0
    block
      i32.const 9 local.set 0
    end
    local.get 0 i32.add)
  (func (export "get_loop_sets") (param i32) (result i32)
    local.get 0
    loop
      local.get 0 i32.const 3 i32.add local.set 0
    end
    local.get 0 i32.sub)
  (func (export "get_if_sets") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    if
      i32.const 100 local.set 0
    end
    local.get 0 i32.sub)
  (func (export "get_call_set") (param i32) (result i32)
    local.get 0 local.get 0 call $inc local.set 0 local.get 0 i32.add)
  (func (export "get_set_return") (param i32) (result i32)
    local.get 0 i32.const 7 local.set 0 return)
  (func (export "block_results_set") (param i32) (result i32)
    block (result i32 i32)
      local.get 0
      local.get 0 i32.const 1 i32.add local.set 0
      local.get 0
    end
    i32.sub)

  ;; branches with values, blocks with parameters, br_table, return
  (func (export "br_if_value_copy") (param i32) (result i32)
    block (result i32)
      local.get 0
      local.get 0 i32.const 10 i32.lt_s br_if 0
      drop
      i32.const 99
    end)
  (func (export "br_two_swapped") (param i32 i32) (result i32)
    block (result i32 i32)
      local.get 1 local.get 0 br 0
    end
    i32.sub)
  (func (export "return_swapped") (param i32 i32) (result i32 i32)
    block
      local.get 1 local.get 0 return
    end
    unreachable)
  (func (export "br_if_return_swapped") (param i32 i32 i32) (result i32 i32)
    local.get 1 local.get 0 local.get 2 br_if 0
    drop drop
    i32.const 5 i32.const 6)
  (func (export "br_table_values") (param i32) (result i32)
    block (result i32)
      block (result i32)
        block (result i32)
          i32.const 10 local.get 0 br_table 0 1 2
        end
        i32.const 1 i32.add
      end
      i32.const 2 i32.add
    end)
  (func (export "br_table_local") (param i32 i32) (result i32)
    block (result i32)
      block (result i32)
        local.get 1 local.get 0 br_table 1 0
      end
      i32.const 100 i32.add
    end)
  (func (export "if_params_else") (param i32) (result i32)
    i32.const 5
    local.get 0
    if (param i32) (result i32)
      i32.const 1 i32.add
    else
      i32.const 2 i32.mul
    end)
  (func (export "if_params_nested") (param i32 i32) (result i32)
    i32.const 3 i32.const 4
    local.get 0
    if (param i32 i32) (result i32)
      local.get 1
      if (param i32 i32) (result i32)
        i32.sub
      else
        i32.mul
      end
    else
      i32.add
    end)
  (func (export "loop_count") (param i32) (result i32) (local i32)
    loop
      local.get 1 i32.const 1 i32.add local.tee 1
      local.get 0 i32.lt_s br_if 0
    end
    local.get 1)
  (func (export "loop_params") (param i32) (result i32 i32)
    i32.const 0 i32.const 1
    loop (param i32 i32) (result i32 i32)
      ;; (a, b) -> (b, a + b) while b < n
      local.tee 0 drop drop
      local.get 0
      local.get 0 local.get 0 i32.add
      local.get 0 i32.const 40 i32.lt_u br_if 0
    end)
  (func (export "dead_after_br") (result i32)
    block (result i32)
      i32.const 1 br 0
      i32.add drop i32.const 5
    end)
  (func (export "select_tee") (param i32 i32) (result i32) (local i32)
    local.get 0 local.get 1 local.get 0 local.tee 2 select local.get 2 i32.add)

  ;; numeric edges (wasm_exec.c)
  (func (export "nearest") (param f32) (result f32) local.get 0 f32.nearest)
  (func (export "min0") (result f32) f32.const 0 f32.const -0 f32.min)
  (func (export "max0") (result f64) f64.const -0 f64.const 0 f64.max)
  (func (export "rem_min") (result i32) i32.const 0x80000000 i32.const -1 i32.rem_s)
  (func (export "div_min") (result i32) i32.const 0x80000000 i32.const -1 i32.div_s)
  (func (export "trunc_big") (result i32) f32.const 0x1p31 i32.trunc_f32_s)
  (func (export "trunc_nan") (result i32) f32.const nan i32.trunc_f32_s)
  (func (export "trunc_sat_nan") (result i64) f64.const -nan i64.trunc_sat_f64_u)
  (func (export "trunc_u_m1") (result i32) f64.const -0x1.fffffp-1 i32.trunc_f64_u)
  (func (export "convert_u64") (result f32) i64.const -1 f32.convert_i64_u)
  (func (export "convert_u64_round") (result f32) i64.const 0x8000008000000001 f32.convert_i64_u)
)

(assert_return (invoke "drop_br_if") (i32.const 7))
(assert_return (invoke "drop_if") (i32.const 9))
(assert_return (invoke "drop_eqz_br_if") (i32.const 9))
(assert_return (invoke "drop_i64_br_if") (i32.const 7))
(assert_return (invoke "drop_k_br_if" (i32.const 1)) (i32.const 7))
(assert_return (invoke "drop_select" (i32.const 0)) (i32.const 20))
(assert_return (invoke "drop_select" (i32.const 1)) (i32.const 10))
(assert_return (invoke "drop_local_set") (i32.const 7))
(assert_return (invoke "drop_k_fold" (i32.const 10)) (i32.const 7))

(assert_return (invoke "cmp_global_set_br_if") (i32.const 1))
(assert_return (invoke "cmp_call_br_if") (i32.const 7))
(assert_return (invoke "cmp_get_drop_br_if" (i32.const 1)) (i32.const 9))
(assert_return (invoke "cmp_get_drop_br_if" (i32.const 2)) (i32.const 7))
(assert_return (invoke "dead_cmp_end_br_if") (i32.const 7))
(assert_return (invoke "cmp_else_br_if" (i32.const 1)) (i32.const 9))
(assert_return (invoke "cmp_else_br_if" (i32.const 0)) (i32.const 7))
(assert_return (invoke "cmp_tee_drop_br_if") (i32.const 1))

(assert_return (invoke "lt_s_eqz" (i32.const 1) (i32.const 2)) (i32.const 1))
(assert_return (invoke "lt_s_eqz" (i32.const 2) (i32.const 1)) (i32.const 0))
(assert_return (invoke "lt_s_eqz" (i32.const 0x80000000) (i32.const 0)) (i32.const 1))
(assert_return (invoke "lt_u_eqz_eqz" (i32.const 0x80000000) (i32.const 0)) (i32.const 0))
(assert_return (invoke "lt_u_eqz_eqz" (i32.const 0) (i32.const -1)) (i32.const 1))
(assert_return (invoke "gt_u_tee" (i32.const -1) (i32.const 1)) (i32.const 21))
(assert_return (invoke "gt_u_tee" (i32.const 1) (i32.const -1)) (i32.const 10))
(assert_return (invoke "lt_u_minus1" (i32.const -1)) (i32.const 0))
(assert_return (invoke "lt_u_minus1" (i32.const -2)) (i32.const 1))
(assert_return (invoke "ge_s_min" (i32.const 0x80000000)) (i32.const 1))
(assert_return (invoke "ge_s_min" (i32.const 0x7fffffff)) (i32.const 1))
(assert_return (invoke "le_u_i64" (i64.const -1) (i64.const 0)) (i32.const 0))
(assert_return (invoke "le_u_i64" (i64.const 0) (i64.const -1)) (i32.const 1))
(assert_return (invoke "i64_gt_s_eqz_if" (i64.const -1)) (i32.const 1))
(assert_return (invoke "i64_gt_s_eqz_if" (i64.const 0)) (i32.const 0))
(assert_return (invoke "i64_gt_s_eqz_if" (i64.const 0x8000000000000000)) (i32.const 1))
(assert_return (invoke "cmp_block_param" (i32.const 2)) (i32.const 2))
(assert_return (invoke "cmp_block_param" (i32.const 3)) (i32.const 1))
(assert_return (invoke "cmp_if_sets_operand" (i32.const 4)) (i32.const 100))
(assert_return (invoke "cmp_if_sets_operand" (i32.const 5)) (i32.const 5))
(assert_return (invoke "min_select" (i32.const -5) (i32.const 3)) (i32.const -5))
(assert_return (invoke "min_select" (i32.const 0x7fffffff) (i32.const 0x80000000)) (i32.const 0x80000000))

(assert_return (invoke "shl33" (i32.const 1)) (i32.const 2))
(assert_return (invoke "shr_s32" (i32.const -8)) (i32.const -8))
(assert_return (invoke "shr_u_minus1" (i32.const 0x80000000)) (i32.const 1))
(assert_return (invoke "rotl65" (i32.const 0x80000001)) (i32.const 3))
(assert_return (invoke "rotr_minus1" (i32.const 0x80000001)) (i32.const 3))
(assert_return (invoke "i64_shl64" (i64.const 5)) (i64.const 5))
(assert_return (invoke "i64_shl65" (i64.const 5)) (i64.const 10))
(assert_return (invoke "i64_shr_s_minus1" (i64.const 0x8000000000000000)) (i64.const -1))
(assert_return (invoke "i64_rotr127" (i64.const 1)) (i64.const 2))
(assert_return (invoke "sub_min" (i32.const 0)) (i32.const 0x80000000))
(assert_return (invoke "sub_min" (i32.const -1)) (i32.const 0x7fffffff))
(assert_return (invoke "mul_k_wrap" (i64.const 2)) (i64.const -2))

(assert_return (invoke "get_set_sub" (i32.const 10)) (i32.const 5))
(assert_return (invoke "get_tee_mul" (i32.const 3)) (i32.const 12))
(assert_return (invoke "inc_in_place" (i32.const 41)) (i32.const 42))
(assert_return (invoke "inc_in_place" (i32.const -1)) (i32.const 0))
(assert_return (invoke "get_block_sets" (i32.const 1)) (i32.const 10))
(assert_return (invoke "get_loop_sets" (i32.const 1)) (i32.const -3))
(assert_return (invoke "get_if_sets" (i32.const 1) (i32.const 1)) (i32.const -99))
(assert_return (invoke "get_if_sets" (i32.const 1) (i32.const 0)) (i32.const 0))
(assert_return (invoke "get_call_set" (i32.const 20)) (i32.const 41))
(assert_return (invoke "get_set_return" (i32.const 3)) (i32.const 3))
(assert_return (invoke "block_results_set" (i32.const 5)) (i32.const -1))

(assert_return (invoke "br_if_value_copy" (i32.const 3)) (i32.const 3))
(assert_return (invoke "br_if_value_copy" (i32.const 10)) (i32.const 99))
(assert_return (invoke "br_if_value_copy" (i32.const 0x80000000)) (i32.const 0x80000000))
(assert_return (invoke "br_two_swapped" (i32.const 1) (i32.const 10)) (i32.const 9))
(assert_return (invoke "return_swapped" (i32.const 1) (i32.const 2)) (i32.const 2) (i32.const 1))
(assert_return (invoke "br_if_return_swapped" (i32.const 1) (i32.const 2) (i32.const 1)) (i32.const 2) (i32.const 1))
(assert_return (invoke "br_if_return_swapped" (i32.const 1) (i32.const 2) (i32.const 0)) (i32.const 5) (i32.const 6))
(assert_return (invoke "br_table_values" (i32.const 0)) (i32.const 13))
(assert_return (invoke "br_table_values" (i32.const 1)) (i32.const 12))
(assert_return (invoke "br_table_values" (i32.const 2)) (i32.const 10))
(assert_return (invoke "br_table_values" (i32.const -1)) (i32.const 10))
(assert_return (invoke "br_table_local" (i32.const 0) (i32.const 7)) (i32.const 7))
(assert_return (invoke "br_table_local" (i32.const 1) (i32.const 7)) (i32.const 107))
(assert_return (invoke "br_table_local" (i32.const 5) (i32.const 7)) (i32.const 107))
(assert_return (invoke "if_params_else" (i32.const 1)) (i32.const 6))
(assert_return (invoke "if_params_else" (i32.const 0)) (i32.const 10))
(assert_return (invoke "if_params_nested" (i32.const 1) (i32.const 1)) (i32.const -1))
(assert_return (invoke "if_params_nested" (i32.const 1) (i32.const 0)) (i32.const 12))
(assert_return (invoke "if_params_nested" (i32.const 0) (i32.const 1)) (i32.const 7))
(assert_return (invoke "loop_count" (i32.const 5)) (i32.const 5))
(assert_return (invoke "loop_count" (i32.const -5)) (i32.const 1))
(assert_return (invoke "loop_params" (i32.const 0)) (i32.const 64) (i32.const 128))
(assert_return (invoke "dead_after_br") (i32.const 1))
(assert_return (invoke "select_tee" (i32.const 4) (i32.const 9)) (i32.const 8))
(assert_return (invoke "select_tee" (i32.const 0) (i32.const 9)) (i32.const 9))

(assert_return (invoke "nearest" (f32.const -2.5)) (f32.const -2))
(assert_return (invoke "nearest" (f32.const 3.5)) (f32.const 4))
(assert_return (invoke "nearest" (f32.const -0.5)) (f32.const -0))
(assert_return (invoke "min0") (f32.const -0))
(assert_return (invoke "max0") (f64.const 0))
(assert_return (invoke "rem_min") (i32.const 0))
(assert_trap (invoke "div_min") "integer overflow")
(assert_trap (invoke "trunc_big") "integer overflow")
(assert_trap (invoke "trunc_nan") "invalid conversion to integer")
(assert_return (invoke "trunc_sat_nan") (i64.const 0))
(assert_return (invoke "trunc_u_m1") (i32.const 0))
(assert_return (invoke "convert_u64") (f32.const 0x1p64))
(assert_return (invoke "convert_u64_round") (f32.const 0x1.000002p63))
