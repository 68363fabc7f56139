package report

import (
	"encoding/json"
	"testing"
)

func TestUSDAndFitRowJSON(t *testing.T) {
	for _, tc := range []struct {
		in   USD
		want string
	}{{0.007254000000000001, "0.0073"}, {0.074, "0.074"}, {-0.02549999, "-0.0255"}, {-0.00001, "0"}, {0, "0"}} {
		b, err := json.Marshal(tc.in)
		if err != nil || string(b) != tc.want {
			t.Errorf("USD(%v) = %s, %v; want %s", float64(tc.in), b, err, tc.want)
		}
	}
	// A row built without reasons still prints reasons: [], in both row types.
	b, _ := json.Marshal(FitRow{Name: "basic", USDPerHour: 0.02790000001})
	if want := `{"name":"basic","vcpu":0,"memoryMiB":0,"diskMB":0,"fits":false,"reasons":[],"usdPerHour":0.0279}`; string(b) != want {
		t.Errorf("FitRow = %s, want %s", b, want)
	}
	b, _ = json.Marshal(CustomRow{FitRow: FitRow{Name: "custom", Spec: "custom:vcpu=1,memory=3072MiB,disk=2000MB"}, CustomCosts: CustomCosts{IdleUSDPerHour: 0.02750000003}})
	if want := `{"name":"custom","spec":"custom:vcpu=1,memory=3072MiB,disk=2000MB","vcpu":0,"memoryMiB":0,"diskMB":0,"fits":false,"reasons":[],"usdPerHour":0,"idleUsdPerHour":0.0275,"comparedWith":null}`; string(b) != want {
		t.Errorf("CustomRow = %s, want %s", b, want)
	}
}
