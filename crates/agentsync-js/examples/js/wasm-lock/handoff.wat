;; handoff.wat: the producer of handoff.js, in WebAssembly text.
;; Word 0 (byte 0) is the flag a consumer sleeps on, word 1 (byte 4) the payload.
(module
  (import "env" "memory" (memory 1 1 shared))
  ;; Publishes $payload, then tries to wake one sleeper on the flag, which stays 0 until one
  ;; was woken (so a consumer that is not asleep yet still finds 0 and goes to sleep).
  ;; Returns how many were woken (0 or 1); once it is 1 the flag is raised.
  (func (export "produce") (param $payload i32) (result i32)
    (local $woken i32)
    (i32.atomic.store (i32.const 4) (local.get $payload))
    (local.set $woken (memory.atomic.notify (i32.const 0) (i32.const 1)))
    (if (local.get $woken) (then (i32.atomic.store (i32.const 0) (i32.const 1))))
    (local.get $woken)))
