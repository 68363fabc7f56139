// Package worker embeds the TypeScript Worker (sources, package.json and its lock) so that lean4-cf can
// render a directory that `wrangler deploy` runs from. The Worker itself is developed and tested with
// npm in this folder; see the README section "The Worker".
package worker

import "embed"

// Files holds src/*.ts, package.json and package-lock.json, at those paths.
//
//go:embed src/*.ts package.json package-lock.json
var Files embed.FS
