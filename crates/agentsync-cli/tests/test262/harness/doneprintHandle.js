// Ends an async test by printing the completion protocol line.
function $DONE(failure) {
  if (failure === undefined) {
    print('Test262:AsyncTestComplete');
  } else {
    var text = (failure && failure.name) ? failure.name + ': ' + failure.message : String(failure);
    print('Test262:AsyncTestFailure:' + text);
  }
}
