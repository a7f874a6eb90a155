;; W13 a shared memory declares a maximum; it may grow up to it, and waits keep working on
;; the grown part.
(assert_invalid (module (memory 1 shared)) "shared memory must have maximum")
(assert_invalid (module (import "mem" "m" (memory 1 shared))) "shared memory must have maximum")
(module
  (memory 1 3 shared)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "wait32") (param i32 i32 i64) (result i32) (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2))))
(assert_trap (invoke "wait32" (i32.const 65536) (i32.const 0) (i64.const 0)) "out of bounds memory access")
(assert_return (invoke "grow" (i32.const 1)) (i32.const 1))
(assert_return (invoke "size") (i32.const 2))
(assert_return (invoke "wait32" (i32.const 65536) (i32.const 0) (i64.const 0)) (i32.const 2))
(assert_return (invoke "grow" (i32.const 2)) (i32.const -1))
(assert_return (invoke "size") (i32.const 2))
