;; A guest that starts its own threads through the `agentsync.thread_spawn` import and joins
;; them with wait/notify: `agentsync wasm run spawn.wat --invoke main 3`.
;; Word 0 counts finished threads; each finished thread notifies word 0.
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "agentsync" "thread_spawn" (func $spawn (param i32) (result i32)))
  (func (export "thread_start") (param $id i32) (param $arg i32)
    (drop (i32.atomic.rmw.add (i32.const 4) (local.get $arg)))
    (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 0) (i32.const 1))))
  ;; Spawns $n threads (thread k adds k to word 4), waits until all are done, returns the sum.
  (func (export "main") (param $n i32) (result i32)
    (local $k i32) (local $done i32)
    (loop $start
      (if (i32.lt_u (local.get $k) (local.get $n))
        (then
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (if (i32.lt_s (call $spawn (local.get $k)) (i32.const 1)) (then unreachable))
          (br $start))))
    (loop $join
      (local.set $done (i32.atomic.load (i32.const 0)))
      (if (i32.lt_u (local.get $done) (local.get $n))
        (then
          (drop (memory.atomic.wait32 (i32.const 0) (local.get $done) (i64.const -1)))
          (br $join))))
    (i32.atomic.load (i32.const 4))))
