/*---
description: an async test that never calls $DONE fails
flags: [async]
---*/
Promise.resolve(1);
