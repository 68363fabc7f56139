package wrangler

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/org/lean4-cf-action/internal/instance"
)

// TestGeneratedSpecIsCurrent fails when `go generate ./internal/wrangler` would change the committed
// Worker module: the Go table changed and the Worker still reads the old defaults and ranges.
func TestGeneratedSpecIsCurrent(t *testing.T) {
	got, err := os.ReadFile("../../worker/src/spec.generated.ts")
	if err != nil {
		t.Fatal(err)
	}
	if want := TypeScript(); !bytes.Equal(got, want) {
		t.Fatalf("worker/src/spec.generated.ts is stale: run `go generate ./internal/wrangler` and commit it\n--- want\n%s", want)
	}
}

// TestEmbeddedSpec: the rendered Worker gets the generated module (src/*.ts is embedded).
func TestEmbeddedSpec(t *testing.T) {
	dir := t.TempDir()
	if _, err := Render(dir, Options{Mode: ModeStub}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/src/spec.generated.ts"); err != nil {
		t.Fatalf("rendered Worker lacks its generated settings module: %v", err)
	}
}

func TestIntVars(t *testing.T) {
	std, _, err := instance.Lookup(DefaultInstanceType)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range IntVars() {
		if seen[v.Name] || seen[v.Key] {
			t.Errorf("%s/%s listed twice", v.Name, v.Key)
		}
		seen[v.Name], seen[v.Key] = true, true
		if v.Default < v.Min || v.Default > v.Max {
			t.Errorf("%s: default %d outside %d..%d", v.Name, v.Default, v.Min, v.Max)
		}
		if v.Doc == "" || v.Unit == "" {
			t.Errorf("%s: no doc or unit", v.Name)
		}
		if v.Name == "MAX_CONCURRENT" && v.Default != instance.CapacityOf(std, 0).MaxConcurrent {
			t.Errorf("MAX_CONCURRENT default %d is not %s's capacity", v.Default, DefaultInstanceType)
		}
		// Every Vars-settable variable is checked with the table's range: the bounds pass, one past fails.
		if v.Option != "" {
			continue
		}
		for n, ok := range map[int]bool{v.Min: true, v.Max: true, v.Min - 1: false, v.Max + 1: false} {
			err := checkVar(v.Name, strconv.Itoa(n))
			if (err == nil) != ok {
				t.Errorf("%s=%d: err %v, want ok=%v", v.Name, n, err, ok)
			}
			if err != nil && !strings.Contains(err.Error(), "from "+strconv.Itoa(v.Min)+" to "+strconv.Itoa(v.Max)) {
				t.Errorf("%s=%d: %v does not state the range", v.Name, n, err)
			}
		}
	}
}
