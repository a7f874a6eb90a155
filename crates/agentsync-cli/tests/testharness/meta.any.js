// META: script=lib/helper.js
// A META include is evaluated before the file.
test(() => assert_equals(helperValue(), 42), 'the META script defined helperValue');
