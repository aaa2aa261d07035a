// A TCP proxy on loopback that carries the server's bytes to the browser at a fixed rate
// (a slow link: Wi-Fi far from the router, a mobile network), the other way unthrottled.
import net from "node:net";

/**
 * Starts a proxy to `target` ("host:port") sending at most `bytesPerSecond` downstream.
 * Returns { port, close() }.
 */
export async function throttle(target, bytesPerSecond) {
  const [host, port] = target.split(":");
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), host);
    sockets.add(client).add(upstream);
    const queue = [];
    let queued = 0;
    // Every 10 ms the link carries a hundredth of a second's bytes.
    const timer = setInterval(() => {
      let budget = bytesPerSecond / 100;
      while (budget > 0 && queue.length) {
        const chunk = queue[0];
        const n = Math.min(budget, chunk.length);
        client.write(chunk.subarray(0, n));
        budget -= n;
        queued -= n;
        if (n === chunk.length) queue.shift();
        else queue[0] = chunk.subarray(n);
      }
      // Like a real bottleneck's buffer: the sender stalls when it is full.
      if (queued < 256 * 1024) upstream.resume();
    }, 10);
    upstream.on("data", (chunk) => {
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= 256 * 1024) upstream.pause();
    });
    client.on("data", (chunk) => upstream.write(chunk));
    const end = () => {
      clearInterval(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
