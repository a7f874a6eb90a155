// Never ends: a busy loop that only terminate() can stop.
test(() => { for (;;) {} }, 'spins');
