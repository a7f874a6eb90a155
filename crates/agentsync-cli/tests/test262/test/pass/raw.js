/*---
description: raw runs the file as it is, without the harness
flags: [raw]
---*/
if (typeof assert !== 'undefined') throw new Error('the harness was included');
