;; W2 atomic instructions validate on unshared memories (and the non-wait ones run there);
;; W3 the alignment immediate must equal the natural size.
(module
  (memory 1 1)
  (func (export "rmw") (result i32)
    (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 5)))
    (i32.atomic.load (i32.const 0)))
  (func (export "wait32") (result i32) (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 0)))
  (func (export "notify") (result i32) (memory.atomic.notify (i32.const 0) (i32.const 1))))
(assert_return (invoke "rmw") (i32.const 5))

(module (memory 1) (func (drop (i64.atomic.load align=8 (i32.const 0)))))
(assert_invalid
  (module (memory 1 1 shared) (func (drop (i32.atomic.load align=2 (i32.const 0)))))
  "alignment must be equal to natural alignment")
(assert_invalid
  (module (memory 1 1 shared) (func (drop (i64.atomic.load align=4 (i32.const 0)))))
  "alignment must be equal to natural alignment")
(assert_invalid
  (module (memory 1 1 shared) (func (drop (i32.atomic.rmw8.add_u align=2 (i32.const 0) (i32.const 0)))))
  "alignment must be equal to natural alignment")
(assert_invalid
  (module (memory 1 1 shared)
    (func (drop (memory.atomic.wait32 align=8 (i32.const 0) (i32.const 0) (i64.const 0)))))
  "alignment must be equal to natural alignment")
(assert_invalid
  (module (memory 1 1 shared)
    (func (drop (memory.atomic.notify align=2 (i32.const 0) (i32.const 0)))))
  "alignment must be equal to natural alignment")
(assert_invalid
  (module (func (drop (memory.atomic.notify (i32.const 0) (i32.const 0)))))
  "unknown memory")
(assert_malformed
  (module quote "(memory 1 1 shared) (func (drop (i32.atomic.load align=3 (i32.const 0))))")
  "alignment")
