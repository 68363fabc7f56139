/** What the echo origin (test/global-setup.ts) answers: the request as it arrived there. */
export interface Echo {
  method: string;
  path: string;
  contentLength: string | null;
  transferEncoding: string | null;
  leanTimeout: string | null;
  contentType: string | null;
  authorization: string | null;
  apiKey: string | null;
  body: string;
}
