// Starts what the Worker talks to in the tests and hands the URLs over with provide/inject:
//   echoOrigin:       a recorder that answers every request with what arrived (method, path, headers that
//                     matter, body), so the tests see exactly what the Worker forwards to port 8000 or to
//                     LEAN_ORIGIN. It is not a Lean server.
//   leanOrigin:       the Lean server double (Go, internal/sandbox/leandouble, byte-compatible: docs/platform-facts.md),
//                     built once into worker/.cache/ with `go build`;
//   leanCrashOrigin:  the same double with --fail crash: it closes POST connections without an answer.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import readline from "node:readline";
import type { TestProject } from "vitest/node";
import type { Echo } from "./echo";

function echoServer(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      // "-- echo: hang" holds the request without an answer (a Lean server that never answers);
      // "-- echo: sleep MS" answers after MS milliseconds (a run that takes that long).
      if (text.startsWith("-- echo: hang")) return;
      const sleep = /^-- echo: sleep (\d+)/.exec(text);
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
        body: text,
      };
      const body = JSON.stringify(echo);
      const answer = () => {
        res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body), Connection: "close" });
        res.end(body);
      };
      if (sleep) setTimeout(answer, Number(sleep[1]));
      else answer();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

const workerDir = path.resolve(import.meta.dirname, "..");
const repoRoot = path.resolve(workerDir, "..");

/** Builds the Lean double (go build caches, so a rebuild is quick). */
function buildLeanDouble(): string {
  const bin = path.join(workerDir, ".cache", "lean-double");
  mkdirSync(path.dirname(bin), { recursive: true });
  execFileSync("go", ["build", "-o", bin, "./internal/sandbox/leandouble/cmd/lean-double"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  return bin;
}

/** Starts the double and resolves with the URL it prints as its first line. */
function startLeanDouble(bin: string, args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the Lean double printed no URL within 10 s")), 10_000);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the Lean double exited with ${code} before printing its URL`)));
    readline.createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      resolve({ url: line.trim(), child });
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const echo = await echoServer();
  project.provide("echoOrigin", `http://127.0.0.1:${(echo.address() as AddressInfo).port}`);
  const bin = buildLeanDouble();
  const lean = await startLeanDouble(bin, []);
  const crash = await startLeanDouble(bin, ["--fail", "crash"]);
  project.provide("leanOrigin", lean.url);
  project.provide("leanCrashOrigin", crash.url);
  return async () => {
    lean.child.kill("SIGTERM");
    crash.child.kill("SIGTERM");
    echo.closeAllConnections();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  };
}
