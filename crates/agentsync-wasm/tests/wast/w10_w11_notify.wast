;; W10 notify(address, count) wakes at most count waiters at exactly that address and returns
;; how many; count 0 wakes nobody. W11 notify: alignment trap → bounds trap → unshared memory
;; returns 0.
(module $unshared
  (memory 1 1)
  (func (export "notify") (param i32 i32) (result i32) (memory.atomic.notify (local.get 0) (local.get 1))))
(assert_return (invoke $unshared "notify" (i32.const 0) (i32.const 1)) (i32.const 0))
(assert_return (invoke $unshared "notify" (i32.const 65532) (i32.const -1)) (i32.const 0))
(assert_trap (invoke $unshared "notify" (i32.const 1) (i32.const 1)) "unaligned atomic")
(assert_trap (invoke $unshared "notify" (i32.const 65536) (i32.const 1)) "out of bounds memory access")

(module $Mem (memory (export "shared") 1 1 shared))
(register "mem" $Mem)
(module $main
  (memory (import "mem" "shared") 1 1 shared)
  (func (export "notify") (param i32 i32) (result i32) (memory.atomic.notify (local.get 0) (local.get 1)))
  ;; Notify word 0 until one waiter was woken; returns how many notifies found nobody.
  (func (export "wake_one") (result i32)
    (local $misses i32)
    (loop $retry
      (if (i32.eqz (memory.atomic.notify (i32.const 0) (i32.const 1)))
        (then
          (local.set $misses (i32.add (local.get $misses) (i32.const 1)))
          (br $retry))))
    (local.get $misses)))
(assert_return (invoke $main "notify" (i32.const 0) (i32.const 0)) (i32.const 0))
(assert_return (invoke $main "notify" (i32.const 0) (i32.const 1)) (i32.const 0))

;; W10/W12 with threads: a thread sleeps on word 0 (and another on word 4); the main thread
;; wakes exactly the one on word 0 — the other address is not affected.
(thread $T (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 1 1 shared)
    (func (export "sleep") (result i32)
      (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1))))
  (assert_return (invoke "sleep") (i32.const 0)))
(thread $U (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 1 1 shared)
    (func (export "sleep") (result i32)
      (memory.atomic.wait32 (i32.const 4) (i32.const 0) (i64.const 200000000))))
  (assert_return (invoke "sleep") (i32.const 2)))
(invoke $main "wake_one")
(wait $T)
(wait $U)
(assert_return (invoke $main "notify" (i32.const 0) (i32.const -1)) (i32.const 0))
(assert_return (invoke $main "notify" (i32.const 4) (i32.const -1)) (i32.const 0))
