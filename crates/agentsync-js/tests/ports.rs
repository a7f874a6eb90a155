//! MessageChannel / MessagePort, BroadcastChannel and transfer lists, across agents. One test
//! function (its own process), so that it can also check that no port is left open once the
//! runs are over: every port is closed when its agent ends.

mod common;

use common::run_js;

fn wrap(source: &str) -> String {
    format!("(async () => {{\n{source}\ndone();\n}})();")
}

const CHANNEL_ACROSS_WORKERS: &str = r#"
    // A channel between two workers, set up by main: each gets one end in a transfer list.
    const { port1, port2 } = new MessageChannel();
    const a = spawnFn(() => {
      onmessage = (e) => {
        const port = e.ports[0];
        eq(e.data.port, port, 'the port in the value is the one in event.ports');
        port.onmessage = (m) => { postMessage(`a got ${m.data}`); port.close(); close(); };
        port.postMessage('hello b');
      };
    });
    const b = spawnFn(() => {
      onmessage = (e) => {
        const [port] = e.ports;
        port.onmessage = (m) => { port.postMessage(`${m.data}, says b`); postMessage('b answered'); close(); };
      };
    });
    b.postMessage({ port: port2 }, [port2]);
    a.postMessage({ port: port1 }, { transfer: [port1] });
    eq(await b.next(), 'b answered', 'b');
    eq(await a.next(), 'a got hello b, says b', 'a, through b');
"#;

const TRANSFER_RULES: &str = r#"
    const { port1, port2 } = new MessageChannel();
    const w = spawnFn(() => { onmessage = () => {}; });
    throws(() => w.postMessage(port1), 'DataCloneError', 'a port outside the transfer list');
    throws(() => w.postMessage(1, [port1, port1]), 'DataCloneError', 'a port twice');
    throws(() => w.postMessage(1, [new SharedArrayBuffer(4)]), 'DataCloneError', 'a SharedArrayBuffer');
    throws(() => w.postMessage(1, [{}]), 'DataCloneError', 'a plain object');
    throws(() => port1.postMessage(1, [port1]), 'DataCloneError', 'a port transferring itself');
    const buffer = new ArrayBuffer(16);
    new Uint8Array(buffer)[3] = 7;
    const copy = structuredClone({ buffer }, { transfer: [buffer] });
    eq(buffer.byteLength, 0, 'a transferred buffer is detached');
    eq(new Uint8Array(copy.buffer)[3], 7, 'and its bytes moved');
    throws(() => structuredClone(buffer, { transfer: [buffer] }), 'DataCloneError', 'a detached buffer');
    w.postMessage(port2, [port2]);
    throws(() => w.postMessage(port2, [port2]), 'DataCloneError', 'a port already transferred');
    const moved = structuredClone(port1, { transfer: [port1] });
    eq(moved instanceof MessagePort && moved !== port1, true, 'structuredClone moves a port to a new object');
    w.terminate();
"#;

const IN_TRANSIT: &str = r#"
    // What is posted to a port while it travels is delivered once it arrives; before start()
    // (or onmessage) messages wait in the port.
    const { port1, port2 } = new MessageChannel();
    const w = spawnFn(() => {
      onmessage = (e) => {
        const port = e.ports[0];
        setTimeout(() => {
          const seen = [];
          port.addEventListener('message', (m) => {
            seen.push(m.data);
            if (seen.length === 3) { postMessage(seen.join()); close(); }
          });
          port.start();
        }, 20);
      };
    });
    w.postMessage(null, [port2]);
    port1.postMessage(1);
    port1.postMessage(2);
    port1.postMessage(3);
    eq(await w.next(), '1,2,3', 'in order, none lost');
    // An end whose other end is closed drops what is posted to it.
    const other = new MessageChannel();
    other.port2.close();
    other.port1.postMessage('into the void');
    const received = [];
    other.port2.onmessage = (e) => received.push(e.data);
    await sleep(20);
    eq(received.length, 0, 'a closed port gets nothing');
"#;

const BROADCAST: &str = r#"
    const names = ['one', 'two'];
    const workers = names.map((name) => spawn(`
      const channel = new BroadcastChannel('news');
      channel.onmessage = (e) => {
        if (e.data === 'stop') { channel.close(); close(); return; }
        postMessage('${name} heard ' + e.data);
      };
      postMessage('ready');
    `));
    for (const w of workers) eq(await w.next(), 'ready', 'worker ready');
    const channel = new BroadcastChannel('news');
    const other = new BroadcastChannel('other');
    const own = [];
    other.onmessage = (e) => own.push(e.data);
    channel.postMessage('the news');
    const heard = [await workers[0].next(), await workers[1].next()].sort();
    eq(heard.join('|'), 'one heard the news|two heard the news', 'every other member, once');
    channel.postMessage('stop');
    channel.close();
    other.close();
    throws(() => channel.postMessage('late'), 'InvalidStateError', 'a closed channel');
    eq(own.length, 0, 'another name hears nothing');
"#;

const IDLE_PORTS: &str = r#"
    // A worker that only listens on a port is idle: the run ends once main is done, with the
    // port still open in the worker (closed when the worker is stopped).
    const { port1, port2 } = new MessageChannel();
    const w = spawnFn(() => {
      onmessage = (e) => { e.ports[0].onmessage = (m) => e.ports[0].postMessage(m.data * 2); };
    });
    w.postMessage(null, [port2]);
    const reply = new Promise((resolve) => { port1.onmessage = (e) => resolve(e.data); });
    port1.postMessage(21);
    eq(await reply, 42, 'through the port');
"#;

#[test]
fn message_ports_broadcast_channels_and_transfer_lists() {
    for (name, script) in [
        ("channel across workers", CHANNEL_ACROSS_WORKERS),
        ("transfer rules", TRANSFER_RULES),
        ("in transit", IN_TRANSIT),
        ("broadcast", BROADCAST),
        ("idle ports", IDLE_PORTS),
    ] {
        let run = run_js(&wrap(script));
        if let Err(error) = &run.result {
            panic!("{name}: {error}\n{:?}", run.err);
        }
        assert_eq!(run.out.last().map(String::as_str), Some("done"), "{name}");
    }
    assert_eq!(
        agentsync_js::open_ports(),
        0,
        "every port is closed once its agent ended"
    );
}
