// agentsync's own small stand-in for the testharness.js API of web-platform-tests, enough for
// the WebAssembly JS API tests (`*.any.js`). Evaluated first in a fresh host for each file by
// `agentsync js testharness` (src/js_testharness.rs).
//
// Protocol with the Rust side: every finished subtest prints one line
//   ##testharness-result## {"name":…,"status":"PASS"|"FAIL"|"TIMEOUT"|"NOTRUN","message":…}
// and `globalThis.__testharness.finish()`, called by the runner once the event loop is idle,
// reports what never finished as TIMEOUT and prints
//   ##testharness-summary## {"status":"OK"|"ERROR","message":…,"results":n}
// Other console output is the test's own.
(function () {
  'use strict';
  const global = globalThis;
  const RESULT = '##testharness-result## ';
  const SUMMARY = '##testharness-summary## ';
  const emit = typeof print === 'function' ? print : (line) => console.log(line);

  function define(name, value) {
    Object.defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false });
  }

  // ---- formatting -------------------------------------------------------------------------

  function formatValue(value, depth) {
    depth = depth || 0;
    switch (typeof value) {
      case 'string':
        return JSON.stringify(value);
      case 'number':
        return Object.is(value, -0) ? '-0' : String(value);
      case 'bigint':
        return `${value}n`;
      case 'symbol':
        return value.toString();
      case 'function':
        return `function "${value.name || '(anonymous)'}"`;
      case 'undefined':
      case 'boolean':
        return String(value);
    }
    if (value === null) return 'null';
    if (Array.isArray(value)) {
      if (depth > 2) return '[…]';
      const shown = value.slice(0, 20).map((item) => formatValue(item, depth + 1));
      if (value.length > 20) shown.push(`… ${value.length - 20} more`);
      return `[${shown.join(', ')}]`;
    }
    try {
      if (value instanceof Error) return `object "${value.name}: ${value.message}"`;
      return `object "${String(value)}"`;
    } catch (error) {
      return `object "${Object.prototype.toString.call(value)}"`;
    }
  }
  define('format_value', (value) => formatValue(value));

  // ---- assertions -------------------------------------------------------------------------

  class AssertionError extends Error {}
  Object.defineProperty(AssertionError.prototype, 'name', { value: 'AssertionError' });
  define('AssertionError', AssertionError);

  function check(condition, assertion, description, detail) {
    if (condition) return;
    const prefix = description ? `${assertion}: ${description} ` : `${assertion}: `;
    throw new AssertionError(prefix + detail);
  }

  define('assert_true', (actual, description) => {
    check(actual === true, 'assert_true', description, `expected true got ${formatValue(actual)}`);
  });
  define('assert_false', (actual, description) => {
    check(actual === false, 'assert_false', description, `expected false got ${formatValue(actual)}`);
  });
  define('assert_equals', (actual, expected, description) => {
    check(typeof actual === typeof expected, 'assert_equals', description,
      `expected (${typeof expected}) ${formatValue(expected)} but got (${typeof actual}) ${formatValue(actual)}`);
    check(Object.is(actual, expected), 'assert_equals', description,
      `expected ${formatValue(expected)} but got ${formatValue(actual)}`);
  });
  define('assert_not_equals', (actual, expected, description) => {
    check(!Object.is(actual, expected), 'assert_not_equals', description,
      `got disallowed value ${formatValue(actual)}`);
  });
  define('assert_array_equals', (actual, expected, description) => {
    check(typeof actual === 'object' && actual !== null && 'length' in actual, 'assert_array_equals',
      description, `value is ${formatValue(actual)}, expected array`);
    check(actual.length === expected.length, 'assert_array_equals', description,
      `lengths differ, expected ${expected.length} got ${actual.length}`);
    for (let i = 0; i < expected.length; i++) {
      check(Object.prototype.hasOwnProperty.call(actual, i) === Object.prototype.hasOwnProperty.call(expected, i),
        'assert_array_equals', description, `property ${i}: present in one array only`);
      check(Object.is(actual[i], expected[i]), 'assert_array_equals', description,
        `expected ${formatValue(expected[i])} at index ${i} but got ${formatValue(actual[i])}`);
    }
  });
  define('assert_approx_equals', (actual, expected, epsilon, description) => {
    check(typeof actual === 'number', 'assert_approx_equals', description, `expected a number got ${formatValue(actual)}`);
    check(Math.abs(actual - expected) <= epsilon, 'assert_approx_equals', description,
      `expected ${formatValue(expected)} +/- ${epsilon} but got ${formatValue(actual)}`);
  });
  function comparison(name, holds, relation) {
    define(name, (actual, expected, description) => {
      check(typeof actual === 'number' || typeof actual === 'bigint', name, description,
        `expected a number but got ${formatValue(actual)}`);
      check(holds(actual, expected), name, description,
        `expected a number ${relation} ${formatValue(expected)} but got ${formatValue(actual)}`);
    });
  }
  comparison('assert_greater_than', (a, b) => a > b, 'greater than');
  comparison('assert_greater_than_equal', (a, b) => a >= b, 'greater than or equal to');
  comparison('assert_less_than', (a, b) => a < b, 'less than');
  comparison('assert_less_than_equal', (a, b) => a <= b, 'less than or equal to');
  define('assert_in_array', (actual, expected, description) => {
    check(expected.indexOf(actual) !== -1, 'assert_in_array', description,
      `value ${formatValue(actual)} not in array ${formatValue(expected)}`);
  });
  define('assert_regexp_match', (actual, expected, description) => {
    check(expected.test(actual), 'assert_regexp_match', description,
      `expected ${formatValue(actual)} to match ${expected}`);
  });
  define('assert_class_string', (object, className, description) => {
    const actual = Object.prototype.toString.call(object);
    check(actual === `[object ${className}]`, 'assert_class_string', description,
      `expected "[object ${className}]" but got ${formatValue(actual)}`);
  });
  define('assert_own_property', (object, name, description) => {
    check(Object.prototype.hasOwnProperty.call(object, name), 'assert_own_property', description,
      `expected property ${formatValue(name)} missing`);
  });
  define('assert_not_own_property', (object, name, description) => {
    check(!Object.prototype.hasOwnProperty.call(object, name), 'assert_not_own_property', description,
      `unexpected property ${formatValue(name)} is found on object`);
  });
  define('assert_inherits', (object, name, description) => {
    check(typeof object === 'object' && object !== null && !Object.prototype.hasOwnProperty.call(object, name) && name in object,
      'assert_inherits', description, `property ${formatValue(name)} is not inherited`);
  });
  define('assert_unreached', (description) => {
    check(false, 'assert_unreached', description, 'reached unreachable code');
  });

  // What `fn` threw, or an AssertionError if it returned.
  function thrownBy(assertion, fn, description) {
    try {
      fn();
    } catch (error) {
      return error;
    }
    check(false, assertion, description, `${fn} did not throw`);
  }
  function matchConstructor(assertion, Ctor, error, description) {
    check(typeof error === 'object' && error !== null, assertion, description,
      `${formatValue(error)} thrown, not an object`);
    check(error.constructor === Ctor, assertion, description,
      `expected ${Ctor.name} but got ${formatValue(error)}`);
    check(error.name === Ctor.name, assertion, description,
      `thrown ${formatValue(error)} is named ${formatValue(error.name)}, expected ${formatValue(Ctor.name)}`);
  }
  // The older form: `code` is an example object (`new TypeError()`) or a DOMException name.
  function matchCode(assertion, code, error, description) {
    if (code === null) return;
    if (typeof code === 'string') {
      check(error && error.name === code, assertion, description,
        `expected a "${code}" exception but got ${formatValue(error)}`);
      return;
    }
    if (typeof code === 'object' && 'name' in code) {
      check(typeof error === 'object' && error !== null && error.name === code.name, assertion, description,
        `expected ${code.name} but got ${formatValue(error)}`);
      if (typeof code.constructor === 'function') {
        check(error.constructor === code.constructor, assertion, description,
          `expected a ${code.constructor.name} but got ${formatValue(error)}`);
      }
    }
  }
  define('assert_throws_js', (Ctor, fn, description) => {
    matchConstructor('assert_throws_js', Ctor, thrownBy('assert_throws_js', fn, description), description);
  });
  define('assert_throws_exactly', (value, fn, description) => {
    const error = thrownBy('assert_throws_exactly', fn, description);
    check(Object.is(error, value), 'assert_throws_exactly', description,
      `expected ${formatValue(value)} but got ${formatValue(error)}`);
  });
  define('assert_throws_dom', (name, fn, description) => {
    matchCode('assert_throws_dom', String(name), thrownBy('assert_throws_dom', fn, description), description);
  });
  define('assert_throws', (code, fn, description) => {
    matchCode('assert_throws', code, thrownBy('assert_throws', fn, description), description);
  });

  // ---- tests ------------------------------------------------------------------------------

  const all = [];
  const completionCallbacks = [];
  const promiseQueue = [];
  let promiseRunning = false;
  let harness = { status: 'OK', message: null };
  let finished = false;

  function messageOf(error) {
    if (error instanceof AssertionError) return error.message;
    if (error && typeof error === 'object' && 'name' in error) return `${error.name}: ${error.message}`;
    return `uncaught ${formatValue(error)}`;
  }

  class Test {
    constructor(name) {
      this.name = String(name);
      this.status = null; // null while running
      this.message = null;
      this.cleanups = [];
      this.phase = 'running';
      all.push(this);
    }
    step(fn, thisObject, ...args) {
      if (this.status !== null) return undefined;
      try {
        return fn.apply(thisObject === undefined ? this : thisObject, args);
      } catch (error) {
        this.fail(messageOf(error));
        return undefined;
      }
    }
    step_func(fn, thisObject) {
      const test = this;
      return function (...args) {
        return test.step(fn, thisObject === undefined ? this : thisObject, ...args);
      };
    }
    step_func_done(fn, thisObject) {
      const test = this;
      return function (...args) {
        const result = fn ? test.step(fn, thisObject === undefined ? this : thisObject, ...args) : undefined;
        test.done();
        return result;
      };
    }
    unreached_func(description) {
      return this.step_func(() => assert_unreached(description));
    }
    step_timeout(fn, ms, ...args) {
      return setTimeout(this.step_func(() => fn(...args)), ms);
    }
    add_cleanup(fn) {
      this.cleanups.push(fn);
    }
    fail(message) {
      this.finish('FAIL', message);
    }
    done() {
      this.finish('PASS', null);
    }
    finish(status, message) {
      if (this.status !== null) return;
      for (const cleanup of this.cleanups) {
        try {
          cleanup();
        } catch (error) {
          if (status === 'PASS') {
            status = 'FAIL';
            message = `cleanup failed: ${messageOf(error)}`;
          }
        }
      }
      this.status = status;
      this.message = message;
      emit(RESULT + JSON.stringify({ name: this.name, status, message }));
      if (this.onFinish) this.onFinish();
    }
  }

  function nameOf(fn, name) {
    if (name !== undefined) return name;
    if (typeof fn === 'function' && fn.name) return fn.name;
    return '(unnamed test)';
  }

  define('test', (fn, name) => {
    const t = new Test(nameOf(fn, name));
    t.step(fn, t, t);
    t.done();
  });

  define('async_test', (fn, name) => {
    if (typeof fn !== 'function') {
      name = fn;
      fn = null;
    }
    const t = new Test(nameOf(fn, name));
    if (fn) t.step(fn, t, t);
    return t;
  });

  function runPromiseTests() {
    if (promiseRunning) return;
    const next = promiseQueue.shift();
    if (!next) return;
    promiseRunning = true;
    const [t, fn] = next;
    t.onFinish = () => {
      promiseRunning = false;
      Promise.resolve().then(runPromiseTests);
    };
    const result = t.step(fn, t, t);
    if (t.status !== null) return;
    if (!result || typeof result.then !== 'function') {
      t.fail('promise_test: test body must return a thenable object');
      return;
    }
    result.then(() => t.done(), (error) => t.fail(messageOf(error)));
  }

  define('promise_test', (fn, name) => {
    const t = new Test(nameOf(fn, name));
    promiseQueue.push([t, fn]);
    Promise.resolve().then(runPromiseTests);
    return t;
  });

  function rejection(t, promise, match) {
    return Promise.resolve(promise).then(
      () => assert_unreached('the promise should have been rejected'),
      (error) => match(error));
  }
  define('promise_rejects_js', (t, Ctor, promise, description) =>
    rejection(t, promise, (error) => matchConstructor('promise_rejects_js', Ctor, error, description)));
  define('promise_rejects_exactly', (t, value, promise, description) =>
    rejection(t, promise, (error) => check(Object.is(error, value), 'promise_rejects_exactly', description,
      `expected ${formatValue(value)} but got ${formatValue(error)}`)));
  define('promise_rejects_dom', (t, name, promise, description) =>
    rejection(t, promise, (error) => matchCode('promise_rejects_dom', String(name), error, description)));
  define('promise_rejects', (t, code, promise, description) =>
    rejection(t, promise, (error) => matchCode('promise_rejects', code, error, description)));

  define('setup', (fnOrOptions, maybeOptions) => {
    if (typeof fnOrOptions !== 'function') return;
    try {
      fnOrOptions();
    } catch (error) {
      harness = { status: 'ERROR', message: `setup failed: ${messageOf(error)}` };
    }
  });
  define('promise_setup', (fn) => {
    promiseQueue.unshift([new Test('promise_setup'), fn]);
    Promise.resolve().then(runPromiseTests);
  });
  define('done', () => {});
  define('step_timeout', (fn, ms, ...args) => setTimeout(() => fn(...args), ms));
  define('add_completion_callback', (fn) => completionCallbacks.push(fn));
  define('add_result_callback', () => {});
  define('add_start_callback', () => {});

  Object.defineProperty(global, '__testharness', {
    value: Object.freeze({
      // An uncaught error outside any test: the harness status is ERROR.
      error(message) {
        if (harness.status === 'OK') harness = { status: 'ERROR', message: String(message) };
      },
      finish(reason) {
        if (finished) return;
        finished = true;
        for (const [t] of promiseQueue.splice(0)) t.finish('NOTRUN', 'an earlier promise_test never settled');
        for (const t of all) {
          if (t.status === null) t.finish('TIMEOUT', reason || 'the test never completed (the event loop went idle)');
        }
        for (const callback of completionCallbacks) {
          try {
            callback(all, { status: harness.status === 'OK' ? 0 : 1, message: harness.message });
          } catch (error) {
            // A completion callback's failure does not change the results.
          }
        }
        emit(SUMMARY + JSON.stringify({ status: harness.status, message: harness.message, results: all.length }));
      },
    }),
  });
})();
