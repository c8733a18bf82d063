// The peer side of the terminal benchmark: the same work as `terminal-bench` (single-key
// echoes, then `cat` of a large text file to a client that acknowledges promptly), done
// through WeTTY (npm `wetty`: node-pty + socket.io + xterm.js) running `docker exec -it`
// into a playground/base container. Started by tests/bench/peer.sh, which installs WeTTY
// outside the repository and passes:  node peer-wetty.mjs PORT CONTAINER ECHOES FILE_BYTES
import { io } from 'socket.io-client';

const [port, container, echoes, fileBytes] = process.argv.slice(2);
const sleep = ms => new Promise(r => setTimeout(r, ms));

const socket = io(`http://127.0.0.1:${port}`, { path: '/socket.io', transports: ['websocket'] });
let transcript = '';
let waiter = null;
socket.on('data', data => {
  transcript += data;
  // Acknowledge at once, like a browser that renders promptly (WeTTY's flow control).
  socket.emit('commit', data.length);
  if (waiter && waiter.test()) { const w = waiter; waiter = null; w.resolve(); }
});
const waitFor = (test, ms = 300000) => new Promise((resolve, reject) => {
  if (test()) return resolve();
  const t = setTimeout(() => reject(new Error('timed out; transcript tail: ' + JSON.stringify(transcript.slice(-300)))), ms);
  waiter = { test, resolve: () => { clearTimeout(t); resolve(); } };
});

await new Promise(r => socket.on('connect', r));
socket.emit('resize', { cols: 100, rows: 30 });
await waitFor(() => /# $/.test(transcript));

// Echo round trips: one key, wait until it comes back.
const times = [];
for (let i = 0; i < Number(echoes); i++) {
  const key = String.fromCharCode(97 + (i % 26));
  const from = transcript.length;
  const t0 = process.hrtime.bigint();
  socket.emit('input', key);
  await waitFor(() => transcript.indexOf(key, from) >= 0, 5000);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  if (i % 50 === 49) { socket.emit('input', '\x15'); await sleep(100); }
}
socket.emit('input', '\x15');
await sleep(200);
times.sort((a, b) => a - b);
const pct = p => times[Math.min(times.length - 1, Math.floor(p * times.length))];

// Throughput.
transcript = '';
const t0 = process.hrtime.bigint();
socket.emit('input', "cat /tmp/big; echo THROUGHPUT''-DONE\r");
await waitFor(() => transcript.includes('THROUGHPUT-DONE\r\n'));
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const received = Buffer.byteLength(transcript);
console.log(JSON.stringify({
  echo_p50_ms: +pct(0.5).toFixed(2), echo_p99_ms: +pct(0.99).toFixed(2), echoes: times.length,
  file_bytes: Number(fileBytes), received_bytes: received, seconds: +secs.toFixed(2),
  mb_per_s: +(received / secs / 1e6).toFixed(1),
}));
socket.close();
process.exit(0);
