// promise_tests run one after another.
let order = [];
promise_test(() => new Promise((resolve) => setTimeout(() => { order.push('first'); resolve(); }, 5)),
  'first promise test');
promise_test(async () => {
  order.push('second');
  assert_array_equals(order, ['first', 'second']);
}, 'second promise test runs after the first settled');
promise_test((t) => promise_rejects_js(t, RangeError, Promise.reject(new RangeError('x'))),
  'promise_rejects_js');
promise_test(() => Promise.reject(new TypeError('rejected on purpose')), 'a rejected promise fails');
