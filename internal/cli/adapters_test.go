package cli

import (
	"testing"
	"time"
)

func TestStageClockAttributesWranglerTime(t *testing.T) {
	c := &stageClock{spent: map[string]time.Duration{}}
	c.enter("stub")
	c.add(nil, 2*time.Second)
	c.enter("")
	c.add(nil, time.Second) // between stages: in the total only
	c.enter("promote")
	c.add(nil, 3*time.Second)
	c.add(nil, time.Second)
	if c.spentIn("stub") != 2*time.Second || c.spentIn("promote") != 4*time.Second || c.total() != 7*time.Second {
		t.Fatalf("stub %s promote %s total %s; want 2s, 4s, 7s", c.spentIn("stub"), c.spentIn("promote"), c.total())
	}
}
