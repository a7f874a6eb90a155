/*---
description: an async test that reports a failure through $DONE fails
flags: [async]
---*/
Promise.reject(new RangeError('deliberate')).then(function () { $DONE(); }, $DONE);
