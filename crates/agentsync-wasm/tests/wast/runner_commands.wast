;; The runner's own commands: module ids, register, get, assert_exhaustion, assert_unlinkable,
;; assert_malformed on text and binary, module definitions and instances.
(module $A
  (global (export "g") i32 (i32.const 42))
  (func (export "f") (result i32) (i32.const 7))
  (func $loop (export "loop") (call $loop)))
(register "a" $A)
(assert_return (get $A "g") (i32.const 42))
(assert_return (get "g") (i32.const 42))
(assert_exhaustion (invoke $A "loop") "call stack exhausted")
(module $B
  (import "a" "f" (func $f (result i32)))
  (func (export "twice") (result i32) (i32.add (call $f) (call $f))))
(assert_return (invoke $B "twice") (i32.const 14))
(assert_return (invoke $A "f") (i32.const 7))
(assert_unlinkable (module (import "a" "missing" (func))) "unknown import")
(assert_malformed (module quote "(func (result i32) (i32.const)") "unexpected token")
(assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
(module binary "\00asm\01\00\00\00")
(module definition $D (func (export "one") (result i32) (i32.const 1)))
(module instance $d1 $D)
(assert_return (invoke $d1 "one") (i32.const 1))
