/*---
description: a syntax error is expected at parse time
negative:
  phase: parse
  type: SyntaxError
---*/
$DONOTEVALUATE();
var var = 1;
