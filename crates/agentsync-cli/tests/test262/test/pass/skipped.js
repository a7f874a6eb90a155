/*---
description: a feature on the skip list is not run
features: [immutable-arraybuffer]
---*/
throw new Error('must be skipped');
