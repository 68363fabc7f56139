// Starts what the Worker talks to in the tests and hands the URLs over with provide/inject:
//   echoOrigin: a recorder that answers every request with what arrived (method, path, headers that
//               matter, body), so the tests see exactly what the Worker forwards to port 8000 or to
//               LEAN_ORIGIN. It is not a Lean server: Lean behaviour is tested against the Go double.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import type { Echo } from "./echo";

function echoServer(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const h = (name: string) => (req.headers[name] as string | undefined) ?? null;
      const echo: Echo = {
        method: req.method ?? "",
        path: req.url ?? "",
        contentLength: h("content-length"),
        transferEncoding: h("transfer-encoding"),
        leanTimeout: h("x-lean-timeout"),
        contentType: h("content-type"),
        authorization: h("authorization"),
        apiKey: h("x-api-key"),
        body: Buffer.concat(chunks).toString("utf8"),
      };
      const body = JSON.stringify(echo);
      res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body), Connection: "close" });
      res.end(body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const echo = await echoServer();
  project.provide("echoOrigin", `http://127.0.0.1:${(echo.address() as AddressInfo).port}`);
  return async () => {
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  };
}
