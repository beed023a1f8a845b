package btoe

import "testing"

// TestNotifierForgetsBoxesNobodyWaitsOn: a box whose waiters all left
// without a wake-up leaves no entry behind; one still waited on keeps it and
// is woken.
func TestNotifierForgetsBoxesNobodyWaitsOn(t *testing.T) {
	n := newNotifier()
	_, done1 := n.wait("pc:1")
	ch2, done2 := n.wait("pc:1")
	done1()
	if len(n.waits) != 1 {
		t.Fatal("the box went while a waiter remained")
	}
	n.wake("pc:1")
	select {
	case <-ch2:
	default:
		t.Fatal("the remaining waiter was not woken")
	}
	done2()
	_, done3 := n.wait("pc:2")
	done3()
	if len(n.waits) != 0 {
		t.Fatalf("boxes left behind: %v", n.waits)
	}
}
