package cfapi

import (
	"net"
	"testing"
)

// Closing the listener ends Accept with an error, never (nil, nil): http.Server serves a nil connection
// from (nil, nil) and panics. Close and the accept loop race to stop it, so try many times.
func TestEitherListenerCloseEndsAcceptWithAnError(t *testing.T) {
	for i := range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		el := newEitherListener(l, nil)
		el.Close()
		if c, err := el.Accept(); c != nil || err == nil {
			t.Fatalf("try %d: Accept after Close = (%v, %v), want (nil, an error)", i, c, err)
		}
	}
}
