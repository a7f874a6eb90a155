/*---
description: an include that does not exist is a failure with its name
includes: [doesNotExist.js]
---*/
