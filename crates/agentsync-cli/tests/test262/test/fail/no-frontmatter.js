// No metadata at all: the runner reports it instead of running it.
var x = 1;
