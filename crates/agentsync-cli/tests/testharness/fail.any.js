// One subtest passes, one fails an assertion.
test(() => assert_equals(2, 2), 'two is two');
test(() => assert_equals(1, 2, 'one is not two'), 'one is two');
