// Command gents writes the Worker's generated settings module (worker/src/spec.generated.ts) from the
// Go table in internal/wrangler. Run it with `go generate ./internal/wrangler`.
package main

import (
	"fmt"
	"os"

	"github.com/org/lean4-cf-action/internal/wrangler"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gents OUT.ts")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], wrangler.TypeScript(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gents:", err)
		os.Exit(1)
	}
}
