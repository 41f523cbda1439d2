package stack

import (
	"net"
	"strconv"
	"testing"
)

// A reserved port cannot be taken by anyone else until it is released.
func TestReservedPortIsHeldUntilReleased(t *testing.T) {
	r, err := reservePort("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		t.Fatalf("port %d was free while reserved", r.port)
	}
	r.release()
	r.release() // twice is harmless
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port %d still held after release: %v", r.port, err)
	}
	l.Close()
}
