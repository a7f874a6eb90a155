// Never ends: a timer keeps the event loop busy forever.
test(() => assert_true(true), 'passes before the hang');
promise_test(() => new Promise(() => setInterval(() => {}, 10)), 'never settles');
