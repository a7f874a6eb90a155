/*---
description: a test that never ends times out instead of hanging the runner
---*/
while (true) {}
