// The sandbox ("pause") image of the test node: PID 1 of every pod sandbox. It holds the
// pod's namespaces open, reaps the zombies of processes that end up re-parented to it, and
// exits on SIGTERM/SIGINT, like registry.k8s.io/pause, which the node cannot pull (no
// registry is reachable from the test machine).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		// One SIGCHLD can stand for several exited children: reap until none is left.
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
