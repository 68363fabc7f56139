// A container Worker: a SQLite Durable Object class backs the container application.
import { DurableObject } from "cloudflare:workers";

export class LeanServer extends DurableObject {
  async fetch(request) {
    return new Response("container\n");
  }
}

export default {
  async fetch(request, env) {
    return env.LEAN.get(env.LEAN.idFromName("lean")).fetch(request);
  },
};
