package cfapi

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// eitherListener serves plain HTTP and HTTPS on one port: a connection whose first byte starts a TLS
// handshake (0x16) is wrapped in TLS. The registry needs both: go-containerregistry speaks plain HTTP to
// a loopback registry, while wrangler's registry calls (images list and delete) always use https://.
type eitherListener struct {
	net.Listener
	tls   *tls.Config
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	err   error
}

func newEitherListener(l net.Listener, cfg *tls.Config) *eitherListener {
	el := &eitherListener{Listener: l, tls: cfg, conns: make(chan net.Conn), done: make(chan struct{})}
	go el.acceptLoop()
	return el
}

func (el *eitherListener) acceptLoop() {
	for {
		c, err := el.Listener.Accept()
		if err != nil {
			el.stop(err)
			return
		}
		go el.sniff(c) // a slow client must not hold up the others
	}
}

// sniff reads the first byte (waiting at most 10 s for it) and hands the connection on.
func (el *eitherListener) sniff(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		_ = c.Close()
		return
	}
	var out net.Conn = &peekedConn{Conn: c, r: br}
	if first[0] == 0x16 {
		out = tls.Server(out, el.tls)
	}
	select {
	case el.conns <- out:
	case <-el.done:
		_ = c.Close()
	}
}

func (el *eitherListener) Accept() (net.Conn, error) {
	select {
	case c := <-el.conns:
		return c, nil
	case <-el.done:
		return nil, el.err
	}
}

func (el *eitherListener) Close() error {
	err := el.Listener.Close()
	el.stop(net.ErrClosed)
	return err
}

// stop ends Accept with err. Whichever of Close and the accept loop comes first sets it: Accept must
// never answer (nil, nil), which http.Server would serve as a connection and crash on.
func (el *eitherListener) stop(err error) {
	el.once.Do(func() {
		el.err = err
		close(el.done)
	})
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }
