;; Each thread adds $n to the counter at address 0 with an atomic add and returns the total
;; it saw last; `agentsync wasm run counter.wat --threads 4 --invoke add 1000`.
(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "add") (param $n i32) (result i32)
    (loop $again
      (if (local.get $n)
        (then
          (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $again))))
    (i32.atomic.load (i32.const 0))))
