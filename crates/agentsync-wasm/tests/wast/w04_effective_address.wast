;; W4 effective address = address + offset without wrap-around; unaligned → "unaligned atomic"
;; (checked first), past the current length → "out of bounds memory access". Applies to the
;; rewritten wait/notify and to the native atomic accesses alike.
(module
  (memory 1 1 shared)
  (func (export "wait32") (param i32 i32 i64) (result i32) (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait32+2") (param i32 i32 i64) (result i32) (memory.atomic.wait32 offset=2 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait64") (param i32 i64 i64) (result i32) (memory.atomic.wait64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "notify") (param i32 i32) (result i32) (memory.atomic.notify (local.get 0) (local.get 1)))
  (func (export "notify+8") (param i32 i32) (result i32) (memory.atomic.notify offset=8 (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.atomic.load (local.get 0)))
  (func (export "load+4") (param i32) (result i32) (i32.atomic.load offset=4 (local.get 0))))

(assert_trap (invoke "wait32" (i32.const 1) (i32.const 0) (i64.const 0)) "unaligned atomic")
(assert_trap (invoke "wait32" (i32.const 2) (i32.const 0) (i64.const 0)) "unaligned atomic")
(assert_trap (invoke "wait64" (i32.const 4) (i64.const 0) (i64.const 0)) "unaligned atomic")
(assert_trap (invoke "notify" (i32.const 2) (i32.const 1)) "unaligned atomic")
(assert_trap (invoke "load" (i32.const 1)) "unaligned atomic")
;; The offset counts: 2 + offset 2 is aligned, 0 + offset 2 is not.
(assert_return (invoke "wait32+2" (i32.const 2) (i32.const 1) (i64.const 0)) (i32.const 1))
(assert_trap (invoke "wait32+2" (i32.const 0) (i32.const 0) (i64.const 0)) "unaligned atomic")
;; Alignment is checked before bounds.
(assert_trap (invoke "wait32" (i32.const 65537) (i32.const 0) (i64.const 0)) "unaligned atomic")
(assert_trap (invoke "notify" (i32.const 65538) (i32.const 1)) "unaligned atomic")
;; Bounds: the last word is fine, the next one is not.
(assert_return (invoke "wait32" (i32.const 65532) (i32.const 1) (i64.const 0)) (i32.const 1))
(assert_trap (invoke "wait32" (i32.const 65536) (i32.const 0) (i64.const 0)) "out of bounds memory access")
(assert_trap (invoke "wait64" (i32.const 65536) (i64.const 0) (i64.const 0)) "out of bounds memory access")
(assert_return (invoke "notify" (i32.const 65532) (i32.const 1)) (i32.const 0))
(assert_trap (invoke "notify" (i32.const 65536) (i32.const 1)) "out of bounds memory access")
(assert_trap (invoke "load" (i32.const 65536)) "out of bounds memory access")
;; No wrap-around: 0xfffffff8 + 8 is 2^32, far out of bounds, not address 0.
(assert_trap (invoke "notify+8" (i32.const 0xfffffff8) (i32.const 1)) "out of bounds memory access")
(assert_trap (invoke "load+4" (i32.const 0xfffffffc)) "out of bounds memory access")
