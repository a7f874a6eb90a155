;; W7 wait: alignment trap → unshared memory trap ("expected shared memory") → bounds trap →
;; compare → 1 if not equal, else sleep. W8 timeout in i64 ns, results 0 ok / 1 not-equal /
;; 2 timed-out.
(module $unshared
  (memory 1 1)
  (func (export "wait32") (param i32 i32 i64) (result i32) (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait64") (param i32 i64 i64) (result i32) (memory.atomic.wait64 (local.get 0) (local.get 1) (local.get 2))))
(assert_trap (invoke $unshared "wait32" (i32.const 0) (i32.const 0) (i64.const 0)) "expected shared memory")
(assert_trap (invoke $unshared "wait64" (i32.const 0) (i64.const 1) (i64.const 0)) "expected shared memory")
;; Alignment comes first, then the shared check, before bounds.
(assert_trap (invoke $unshared "wait32" (i32.const 1) (i32.const 0) (i64.const 0)) "unaligned atomic")
(assert_trap (invoke $unshared "wait32" (i32.const 65536) (i32.const 0) (i64.const 0)) "expected shared memory")

(module $shared
  (memory 1 1 shared)
  (func (export "store64") (param i32 i64) (i64.atomic.store (local.get 0) (local.get 1)))
  (func (export "wait32") (param i32 i32 i64) (result i32) (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait64") (param i32 i64 i64) (result i32) (memory.atomic.wait64 (local.get 0) (local.get 1) (local.get 2))))
;; Not equal → 1 at once, whatever the timeout (even "forever").
(assert_return (invoke $shared "wait32" (i32.const 0) (i32.const 1) (i64.const -1)) (i32.const 1))
(assert_return (invoke $shared "wait64" (i32.const 0) (i64.const 1) (i64.const -1)) (i32.const 1))
;; Equal with a zero or short timeout → 2.
(assert_return (invoke $shared "wait32" (i32.const 0) (i32.const 0) (i64.const 0)) (i32.const 2))
(assert_return (invoke $shared "wait32" (i32.const 0) (i32.const 0) (i64.const 1000)) (i32.const 2))
(assert_return (invoke $shared "wait64" (i32.const 8) (i64.const 0) (i64.const 1000000)) (i32.const 2))
;; wait64 compares all 64 bits; wait32 only its word.
(invoke $shared "store64" (i32.const 16) (i64.const 0x1_0000_0000))
(assert_return (invoke $shared "wait64" (i32.const 16) (i64.const 0) (i64.const 0)) (i32.const 1))
(assert_return (invoke $shared "wait32" (i32.const 16) (i32.const 0) (i64.const 0)) (i32.const 2))
(assert_return (invoke $shared "wait32" (i32.const 20) (i32.const 1) (i64.const 0)) (i32.const 2))
