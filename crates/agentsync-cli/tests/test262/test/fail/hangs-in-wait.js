/*---
description: a main agent blocked forever in Atomics.wait is terminated at the timeout
flags: [CanBlockIsTrue]
---*/
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
