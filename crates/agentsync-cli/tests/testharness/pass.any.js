// Every subtest passes.
test(() => {
  assert_equals(1 + 1, 2);
  assert_true(Array.isArray([]));
  assert_array_equals([1, 2], [1, 2]);
  assert_throws_js(TypeError, () => null.x);
  assert_class_string([], 'Array');
  assert_own_property({ a: 1 }, 'a');
  assert_greater_than(2, 1);
  assert_less_than_equal(1, 1);
}, 'assertions hold');

async_test((t) => {
  step_timeout(t.step_func_done(() => assert_not_equals(0, -0)), 1);
}, 'an async test finishes from a timer');
