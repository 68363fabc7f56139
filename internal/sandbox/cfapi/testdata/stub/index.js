// A stub Worker: no containers, answers every request.
export default {
  async fetch(request) {
    return Response.json({ status: "ok", worker: "cftest-stub", path: new URL(request.url).pathname });
  },
};
