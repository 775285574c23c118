// An HTTP server that takes DELAY_MS (200) per request, for the PeaSet's traffic test and
// benchmark: `node slow-http.js` listens on PORT (8080); /healthz answers at once. On SIGTERM
// it stops taking connections, finishes the requests in flight, then exits, as a
// well-behaved server does; with and without the Peapods sidecar alike (a Deployment runs
// the same command as the baseline).
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const port = Number(process.env.PORT ?? 8080);
const delayMs = Number(process.env.DELAY_MS ?? 200);

const server = createServer((req, res) => {
  if (req.url === '/healthz') return void res.end('ok\n');
  setTimeout(() => res.end(`ok ${hostname()}\n`), delayMs);
});
server.keepAliveTimeout = 1000;
server.listen(port, '0.0.0.0');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
